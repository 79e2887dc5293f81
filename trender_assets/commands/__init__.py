"""The ``trender`` command's subcommands, one module per job; ``trender_assets.cli`` assembles them
and owns the process (exit codes, Ctrl-C, the fast exit).

No module here imports Dagster when it is imported: a command checks its arguments, the
environment and the instance folder first, so a mistake is one line in a fraction of a second.
"""

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
