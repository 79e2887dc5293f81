"""``trender retention``: delete what the retention policy says has expired, or say what would go."""

from __future__ import annotations

import sys
from typing import Optional

import click

from trender_assets.clock import utc_today
from trender_assets.commands import EXIT_FAILED
from trender_assets.clock import parse_date
from trender_assets.commands.loading import load


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--as-of", metavar="YYYY-MM-DD", help="Measure ages from this day (default: today, UTC).")
def retention(dry_run: bool, as_of: Optional[str]) -> None:
    """Delete expired rows (raw/staging 7 days, facts 30, closed dimension versions 30)."""
    day = parse_date(as_of, "--as-of") if as_of else utc_today()
    defs, instance = load()
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
    deleted = dict(result.output_for_node("apply_retention"))
    kept = deleted.pop("kept_in_use", [])
    verb = "would delete" if dry_run else "deleted"
    for table, count in deleted.items():
        what = "report pages" if table == "report_files" else f"rows from {table}"
        click.echo(f"{verb} {count:>6} {what}")
    for day in kept:  # a run holds the day: retention and a run of one day exclude each other
        click.echo(f"kept {day}: in use by a run; retention deletes it on a later day")
    sys.exit(0)
