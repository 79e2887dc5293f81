"""The ``trender`` command: run a day, backfill days, apply retention, start the UI.

Bad input (a date, a language, an unreachable database or GitHub, a rejected token) prints one
line on stderr and exits non-zero; nothing prints a traceback.
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from typing import Optional, Sequence

import click

from trender_assets.clock import utc_today
from trender_assets.errors import ConfigurationError, TrenderError
from trender_assets.categories import LANGUAGES, RENDER, START_DATE

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    click.echo(f"trender: error: {message}", err=True)
    sys.exit(code)


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"invalid {option} {value!r}: expected a date as YYYY-MM-DD") from None


def parse_day(value: Optional[str], option: str) -> date:
    """A snapshot day: a valid date within the partitions (START_DATE .. today, UTC)."""
    if value is None:
        return utc_today()
    day = parse_date(value, option)
    first, last = date.fromisoformat(START_DATE), utc_today()
    if not first <= day <= last:
        raise ConfigurationError(
            f"{option} {value} is outside the partitions: snapshots exist from {first} to today ({last})"
        )
    return day


def parse_languages(values: Sequence[str]) -> list[str]:
    chosen = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in LANGUAGES:
                raise ConfigurationError(f"unknown language {part!r}: choose from {', '.join(LANGUAGES)}")
            if name not in chosen:
                chosen.append(name)
    return chosen or list(LANGUAGES)


def _load():
    """Definitions and instance, loaded only once arguments and the instance folder are valid
    (importing Dagster takes a second)."""
    from trender_assets.instance_home import instance_home, prepare_instance_home

    prepare_instance_home(instance_home())
    from trender_assets.definitions import defs
    from trender_assets.runner import get_instance

    return defs, get_instance()


def _preflight(defs, days: list[date], languages: list[str], refetch: bool) -> None:
    """Fail fast, with one line, on an unreachable warehouse or GitHub or a rejected token."""
    import sqlalchemy as sa

    warehouse = defs.resources["warehouse"]
    engine = warehouse.engine
    with engine.connect() as conn:
        stored = {
            (d, lang) for d, lang in conn.execute(sa.text(
                "select distinct snapshot_date, language from raw_github_repos"
                " where snapshot_date = any(:days)"), {"days": days})
        }
    if not refetch and all((d, lang) in stored for d in days for lang in languages):
        return  # everything re-derives from stored raw data: GitHub is not needed
    github = defs.resources["github"]
    # free of charge; proves GitHub is reachable and the token accepted, retried like any request
    github.check_access()
    if RENDER in languages and not github.has_token:
        click.echo("trender: notice: render projects are skipped without a token "
                   "(code search needs one): export GITHUB_TOKEN=<token>", err=True)


def _fail_abandoned_runs(defs, instance) -> None:
    """Runs a killed trender left STARTED are marked failed and recorded before new ones start."""
    from trender_assets.abandoned_runs import fail_abandoned_runs

    for abandoned in fail_abandoned_runs(instance, defs.resources["warehouse"].engine):
        click.echo(f"trender: notice: {abandoned.line()}", err=True)


def _print_report(report) -> None:
    for outcome in report.outcomes:
        click.echo(outcome.line())


def _refuse_expired_days(defs, days: list[date], languages: list[str], refetch: bool) -> None:
    """A day whose raw data retention deleted is not re-fetched with today's stars unless asked."""
    from trender_assets.raw_fetches import expired_categories, refetch_refusal

    if refetch:
        return
    with defs.resources["warehouse"].engine.connect() as conn:
        for day in days:
            expired = expired_categories(conn, day, languages)
            if expired:
                raise ConfigurationError(refetch_refusal(day, expired))


def _run_days(days: list[date], languages: list[str], refetch: bool, verbose: bool = False,
              allow_smaller: bool = False) -> int:
    defs, instance = _load()
    from trender_assets.abandoned_runs import process_tags
    from trender_assets.runner import materialize_day

    _fail_abandoned_runs(defs, instance)
    _refuse_expired_days(defs, days, languages, refetch)
    _preflight(defs, days, languages, refetch)
    failed = 0
    for day in days:
        report = materialize_day(defs, instance, day, languages, refetch=refetch, allow_smaller=allow_smaller,
                                 tags=process_tags(),
                                 log_level="INFO" if verbose else "CRITICAL",
                                 engine=defs.resources["warehouse"].engine)
        _print_report(report)
        if report.stopped:  # what completed is printed above; nothing more can be done now
            raise TrenderError(report.stopped)
        failed += not report.succeeded
    if failed:
        click.echo(f"trender: {failed} of {len(days)} day(s) failed; see the lines marked FAIL", err=True)
        return EXIT_FAILED
    return 0


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Daily snapshots of GitHub's trending repositories, as Dagster assets over PostgreSQL."""
    check_configuration()


def check_configuration() -> None:
    """Settings every command depends on, checked before any work so a mistake is one line."""
    from trender_assets import environment

    environment.check()


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Snapshot day (default: today, UTC).")
@click.option("--language", "languages", multiple=True, metavar="LANG",
              help=f"Only these languages ({', '.join(LANGUAGES)}); repeatable.")
@click.option("--refetch", is_flag=True, help="Ask GitHub again even if the day's raw data is stored (or was "
              "deleted by retention): the day then gets today's star counts.")
@click.option("--allow-smaller", is_flag=True, help="Let a refetch replace stored repositories with fewer "
              "(e.g. without a token).")
@click.option("-v", "--verbose", is_flag=True, help="Also print Dagster's run logs.")
def run(day: Optional[str], languages: tuple[str, ...], refetch: bool, allow_smaller: bool, verbose: bool) -> None:
    """Materialize the whole graph for one day and print one line per asset partition and check."""
    sys.exit(_run_days([parse_day(day, "--date")], parse_languages(languages), refetch, verbose, allow_smaller))


@cli.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day.")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day, inclusive (default: --start).")
@click.option("--language", "languages", multiple=True, metavar="LANG", help="Only these languages.")
@click.option("--refetch", is_flag=True, help="Ask GitHub again even where raw data is stored.")
@click.option("--allow-smaller", is_flag=True, help="Let a refetch replace stored repositories with fewer.")
@click.option("-v", "--verbose", is_flag=True, help="Also print Dagster's run logs.")
def backfill(start: str, end: Optional[str], languages: tuple[str, ...], refetch: bool, allow_smaller: bool,
             verbose: bool) -> None:
    """Materialize the whole graph for every day from --start to --end, in date order."""
    first = parse_day(start, "--start")
    last = parse_day(end, "--end") if end else first
    if last < first:
        raise ConfigurationError(f"--end {last} is before --start {first}")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    sys.exit(_run_days(days, parse_languages(languages), refetch, verbose, allow_smaller))


@cli.command()
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--as-of", metavar="YYYY-MM-DD", help="Measure ages from this day (default: today, UTC).")
def retention(dry_run: bool, as_of: Optional[str]) -> None:
    """Delete expired rows (raw/staging 7 days, facts 30, closed dimension versions 30)."""
    day = parse_date(as_of, "--as-of") if as_of else utc_today()
    defs, instance = _load()
    from trender_assets.abandoned_runs import process_tags

    defs.resources["warehouse"].engine  # fail fast, one line, if the warehouse is unreachable
    result = defs.resolve_job_def("retention_job").execute_in_process(
        instance=instance, raise_on_error=False, tags=process_tags(),
        run_config={"ops": {"apply_retention": {"config": {"dry_run": dry_run, "as_of": day.isoformat()}}},
                    "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    if not result.success:
        from trender_assets.runner import summarize, was_interrupted

        if was_interrupted(result):
            raise KeyboardInterrupt
        for outcome in summarize(result, day.isoformat()):
            click.echo(outcome.line())
        sys.exit(EXIT_FAILED)
    deleted = result.output_for_node("apply_retention")
    verb = "would delete" if dry_run else "deleted"
    for table, count in deleted.items():
        what = "report pages" if table == "report_files" else f"rows from {table}"
        click.echo(f"{verb} {count:>6} {what}")
    sys.exit(0)


@cli.command(context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})  # -h: dagster's --host
@click.argument("dagster_args", nargs=-1, type=click.UNPROCESSED)
def dev(dagster_args: tuple[str, ...]) -> None:
    """Start `dagster dev` on this project, sharing the instance `trender run` uses.

    It works from any folder: the workspace file ships inside the package. With DAGSTER_HOME unset,
    Dagster opens trender's default instance ($TRENDER_DATA_DIR/dagster_home, the one `trender run`
    writes its dagster.yaml into); a DAGSTER_HOME you set serves both.
    """
    from importlib import resources

    if not os.environ.get("DAGSTER_HOME"):
        from trender_assets.instance_storage import TrenderInstanceStorage, default_instance_home, write_default_config
        from trender_assets.instance_home import prepare_instance_home

        home = default_instance_home()
        prepare_instance_home(home)
        write_default_config(home)
        TrenderInstanceStorage.from_config_value(None, {})  # start and create it now: one line if that fails
        os.environ["DAGSTER_HOME"] = str(home)
    workspace = resources.files("trender_assets") / "workspace.yaml"
    os.execvp(sys.executable, [sys.executable, "-m", "dagster", "dev", "-w", str(workspace), *dagster_args])


@cli.group()
def auth() -> None:
    """GitHub credentials: check them, or store an OAuth user token."""


@auth.command()
def check() -> None:
    """Show which credentials are configured and the quota left for each (costs nothing)."""
    defs, _ = _load()
    github = defs.resources["github"]
    credentials = github.credentials()
    if not credentials:
        click.echo("anonymous: 60 core requests an hour, no code search (render is skipped)")
    for credential in credentials or [None]:
        probe = github.make_client(credentials=[credential] if credential else None,
                                   max_attempts=2, backoff_seconds=0.5, max_rate_limit_wait_seconds=0)
        try:
            resources = probe.rate_limit().get("resources", {})
        finally:
            probe.close()
        quota = ", ".join(f"{name} {r.get('remaining')}/{r.get('limit')}" for name, r in sorted(resources.items())
                          if name in ("core", "search", "code_search"))
        click.echo(f"{credential.identity if credential else 'anonymous'}: {quota}")


@auth.command("store-oauth")
@click.option("--expires-in", default=28800, show_default=True, help="Seconds the access token is valid.")
def store_oauth(expires_in: int) -> None:
    """Store an OAuth user token pair, encrypted, for GITHUB_OAUTH_CLIENT_ID.

    The tokens are read from GITHUB_OAUTH_ACCESS_TOKEN and GITHUB_OAUTH_REFRESH_TOKEN (never from
    arguments, which other users can see in the process list); TRENDER_ENCRYPTION_KEY encrypts them.
    """
    from datetime import datetime, timezone

    from trender_assets.github.credentials import OAuthTokenStore

    names = ("GITHUB_OAUTH_CLIENT_ID", "GITHUB_OAUTH_ACCESS_TOKEN", "GITHUB_OAUTH_REFRESH_TOKEN",
             "TRENDER_ENCRYPTION_KEY")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ConfigurationError(f"set {', '.join(missing)} to store OAuth credentials")
    defs, _ = _load()
    store = OAuthTokenStore(defs.resources["warehouse"].engine, os.environ["TRENDER_ENCRYPTION_KEY"])
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    store.store(os.environ["GITHUB_OAUTH_CLIENT_ID"], os.environ["GITHUB_OAUTH_ACCESS_TOKEN"],
                os.environ["GITHUB_OAUTH_REFRESH_TOKEN"], expires)
    click.echo(f"stored OAuth credentials for {os.environ['GITHUB_OAUTH_CLIENT_ID']} (access token valid "
               f"until {expires:%Y-%m-%d %H:%M} UTC; refreshed automatically)")


@cli.group()
def db() -> None:
    """The embedded PostgreSQL (used when DATABASE_URL is unset)."""


@db.command()
def url() -> None:
    """Print the warehouse's URL, e.g. for psql: DATABASE_URL's (password hidden), else the embedded
    server's (started if needed)."""
    from trender_assets.warehouse.engine import normalize_url, shown_url

    configured = os.environ.get("DATABASE_URL")
    if configured:
        click.echo(shown_url(normalize_url(configured)))
        click.echo("trender: notice: the warehouse is the server named by DATABASE_URL (password hidden)", err=True)
        return
    from trender_assets.warehouse.embedded import embedded_database_url

    click.echo(embedded_database_url().replace("+psycopg", ""))


@db.command()
@click.option("--force", is_flag=True, help="Stop it even while other processes use it (disconnects them).")
def stop(force: bool) -> None:
    """Stop the embedded server (checked with pg_ctl status; refused while other processes use it)."""
    from trender_assets.warehouse.embedded import stop_embedded_server

    click.echo(stop_embedded_server(force=force))
    if os.environ.get("DATABASE_URL"):
        click.echo("trender: notice: DATABASE_URL is set, so the warehouse is that server, not the embedded one",
                   err=True)


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
