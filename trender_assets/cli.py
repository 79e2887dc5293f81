"""The ``trender`` command: run a day, backfill days, apply retention, start the UI.

Bad input (a date, a language, an unreachable database or GitHub, a rejected token) prints one
line on stderr and exits non-zero; nothing prints a traceback. The subcommands live in
``trender_assets.commands``, one module per job; this module assembles them and owns the process:
exit codes, Ctrl-C (exit 130, ``interrupted`` said last) and the fast exit.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import click

from trender_assets.commands import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED
from trender_assets.commands.auth import auth
from trender_assets.commands.days import backfill, run
from trender_assets.commands.db import db
from trender_assets.commands.dev import dev
from trender_assets.commands.retention import retention
from trender_assets.errors import ConfigurationError, TrenderError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Daily snapshots of GitHub's trending repositories, as Dagster assets over PostgreSQL."""
    check_configuration()


def check_configuration() -> None:
    """Settings every command depends on, checked before any work so a mistake is one line."""
    from trender_assets import environment

    environment.check()


for command in (run, backfill, retention, dev, auth, db):
    cli.add_command(command)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """The ``trender`` program. Called without ``argv`` it is a process of its own, which ends at once
    when the command is done (see ``_end_process``); with ``argv`` it raises SystemExit like any call."""
    try:
        _main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    if argv is None:
        _end_process(code)
    sys.exit(code)


def _end_process(code) -> None:
    """Flush, run the exit handlers, and leave without the interpreter's teardown: freeing Dagster's
    thousands of modules and its native libraries takes 1-2 s after every command, for nothing."""
    import atexit

    if code is not None and not isinstance(code, int):
        click.echo(code, err=True)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()  # what a normal exit runs: logging's flush, engines' and pools' clean-up
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


def _main(argv: Optional[Sequence[str]]) -> None:
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="trender", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort as exc:  # click turns Ctrl-C into Abort
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            _interrupted()
        _fail("aborted", EXIT_FAILED)
    except click.ClickException as exc:
        _fail(exc.format_message())
    except TrenderError as exc:
        _fail(str(exc), EXIT_FAILED if not isinstance(exc, ConfigurationError) else EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        _interrupted()


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"trender: error: {message}", err=True)
    sys.exit(code)


def _interrupted() -> None:
    """Ctrl-C: say so last and stop now. Categories still fetching in worker threads would
    otherwise keep the process (and GitHub's budget) busy until they finished; their open
    transactions roll back and their locks go with the connections."""
    import logging

    logging.disable(logging.CRITICAL)  # worker threads still fetching must not log after the last line
    click.echo("trender: error: interrupted", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
