"""``trender run`` and ``trender backfill``: materialize whole days and print what each asset did.

Before any run: runs a killed trender left behind are failed, days whose raw data retention
deleted are refused unless ``--refetch``, and the warehouse and GitHub are reached once, so a
mistake is one line instead of a failed run per day.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Optional

import click

from trender_assets import categories
from trender_assets.commands import EXIT_FAILED
from trender_assets.clock import parse_snapshot_day
from trender_assets.commands.arguments import parse_languages
from trender_assets.commands.loading import load
from trender_assets.errors import ConfigurationError, TrenderError


def preflight(defs, days: list[date], languages: list[str], refetch: bool) -> None:
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
    needing = [key for key in languages if categories.by_key()[key].needs_token]
    if needing and not github.has_token:
        click.echo(f"trender: notice: {', '.join(needing)} projects are skipped without a token "
                   "(code search needs one): export GITHUB_TOKEN=<token>", err=True)


def _fail_abandoned_runs(defs, instance) -> None:
    """Runs a killed trender left STARTED are marked failed and recorded before new ones start."""
    from trender_assets.abandoned_runs import fail_abandoned_runs

    for abandoned in fail_abandoned_runs(instance, defs.resources["warehouse"].engine):
        click.echo(f"trender: notice: {abandoned.line()}", err=True)


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


@contextmanager
def _queries_in_one_line():
    """A query of the checks before the run that the database cancels (a statement_timeout set for
    the database or role) or loses is one line, not a traceback."""
    import sqlalchemy as sa

    try:
        yield
    except sa.exc.OperationalError as exc:
        cause = (str(exc.orig or exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = " (is a statement_timeout set for this database or role?)" if "statement timeout" in cause else ""
        raise TrenderError(f"the warehouse did not answer the checks before the run: {cause}{hint}") from None


def run_days(days: list[date], languages: list[str], refetch: bool, verbose: bool = False,
             allow_smaller: bool = False) -> int:
    """Each day in turn through the runner, its lines printed as it ends; the exit code."""
    defs, instance = load()
    from trender_assets.abandoned_runs import process_tags
    from trender_assets.runner import materialize_day

    with _queries_in_one_line():
        _fail_abandoned_runs(defs, instance)
        _refuse_expired_days(defs, days, languages, refetch)
        preflight(defs, days, languages, refetch)
    failed = 0
    for day in days:
        report = materialize_day(defs, instance, day, languages, refetch=refetch, allow_smaller=allow_smaller,
                                 tags=process_tags(),
                                 log_level="INFO" if verbose else "CRITICAL",
                                 engine=defs.resources["warehouse"].engine)
        for outcome in report.outcomes:
            click.echo(outcome.line())
        if report.stopped:  # what completed is printed above; nothing more can be done now
            raise TrenderError(report.stopped)
        failed += not report.succeeded
    if failed:
        click.echo(f"trender: {failed} of {len(days)} day(s) failed; see the lines marked FAIL", err=True)
        return EXIT_FAILED
    return 0


@click.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Snapshot day (default: today, UTC).")
@click.option("--language", "languages", multiple=True, metavar="LANG",
              help="Only these categories (keys of trender.yaml; default: all); repeatable.")
@click.option("--refetch", is_flag=True, help="Ask GitHub again even if the day's raw data is stored (or was "
              "deleted by retention): the day then gets today's star counts.")
@click.option("--allow-smaller", is_flag=True, help="Let a refetch replace stored repositories with fewer "
              "(e.g. without a token).")
@click.option("-v", "--verbose", is_flag=True, help="Also print Dagster's run logs.")
def run(day: Optional[str], languages: tuple[str, ...], refetch: bool, allow_smaller: bool, verbose: bool) -> None:
    """Materialize the whole graph for one day and print one line per asset partition and check."""
    sys.exit(run_days([parse_snapshot_day(day, "--date")], parse_languages(languages), refetch, verbose, allow_smaller))


@click.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day.")
@click.option("--end", metavar="YYYY-MM-DD", help="Last day, inclusive (default: --start).")
@click.option("--language", "languages", multiple=True, metavar="LANG", help="Only these languages.")
@click.option("--refetch", is_flag=True, help="Ask GitHub again even where raw data is stored.")
@click.option("--allow-smaller", is_flag=True, help="Let a refetch replace stored repositories with fewer.")
@click.option("-v", "--verbose", is_flag=True, help="Also print Dagster's run logs.")
def backfill(start: str, end: Optional[str], languages: tuple[str, ...], refetch: bool, allow_smaller: bool,
             verbose: bool) -> None:
    """Materialize the whole graph for every day from --start to --end, in date order."""
    first = parse_snapshot_day(start, "--start")
    last = parse_snapshot_day(end, "--end") if end else first
    if last < first:
        raise ConfigurationError(f"--end {last} is before --start {first}")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    sys.exit(run_days(days, parse_languages(languages), refetch, verbose, allow_smaller))
