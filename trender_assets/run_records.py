"""A record of every Dagster run of this code location in the warehouse (``fact_workflow_runs``).

Written by run status sensors, so failed and canceled runs are recorded too; ``trender run``
also records its in-process runs directly, since no daemon watches them. A run is recorded under
its job's name, or, for the UI's hidden ``__ASSET_JOB``, under what it materialized.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Optional

import dagster as dg
import sqlalchemy as sa

STATUS_BY_RUN_STATUS = {
    dg.DagsterRunStatus.STARTED: "started",
    dg.DagsterRunStatus.SUCCESS: "succeeded",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "canceled",
}
COUNTED_ASSETS = {"raw_github_repos", "dim_repositories"}  # what "repositories processed" counts
BACKFILL_TAG = "dagster/backfill"


def _ts(seconds: Optional[float]) -> Optional[datetime]:
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None


def _partitions(run: dg.DagsterRun) -> tuple[list[str], Optional[str], Optional[str]]:
    """What the run materialized: ``partitions`` is its one partition, or a range's first and last
    (kept so for older readers); a range is also named as such, by its start and end, so it never
    reads as a list of two partitions."""
    tags = run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]], None, None
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return ([start, end], start, end) if start and end else ([], None, None)


def _assets(run: dg.DagsterRun) -> list[str]:
    return sorted(key.to_user_string() for key in run.asset_selection or ())


def root_cause(error) -> str:
    """The first line of the innermost cause of Dagster's ``SerializableErrorInfo``: what went wrong,
    not the "Error occurred while executing op" around it, and without a qualified class name in
    front (``trender_assets.errors.GitHubError: ``). "" when there is no message."""
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    lines = (getattr(error, "message", "") or "").strip().splitlines()
    text = lines[0] if lines else ""
    head, sep, rest = text.partition(": ")
    return rest if sep and "." in head and " " not in head else text


def run_name(run: dg.DagsterRun) -> str:
    """The name a person knows the run by: its job's, unless the job is one of Dagster's hidden asset
    jobs (``__ASSET_JOB`` for the UI's Materialize and asset backfills), then what it materialized."""
    if not run.job_name.startswith("__"):
        return run.job_name
    if run.asset_selection:
        return "materialize " + ", ".join(_assets(run))
    if run.asset_check_selection:
        checks = sorted(f"{c.name} on {c.asset_key.to_user_string()}" for c in run.asset_check_selection)
        return "check " + ", ".join(checks)
    return run.job_name


def describe_run(instance: dg.DagsterInstance, run: dg.DagsterRun, status: str) -> dict:
    """The row for one run: timings, partitions, repositories processed, error, step tree."""
    stats = instance.get_run_stats(run.run_id)
    steps = [
        {"step": s.step_key, "status": s.status.value if s.status else None,
         "started_at": _ts(s.start_time).isoformat() if s.start_time else None,
         "ended_at": _ts(s.end_time).isoformat() if s.end_time else None,
         "seconds": round(s.end_time - s.start_time, 3) if s.start_time and s.end_time else None}
        for s in instance.get_run_step_stats(run.run_id)
    ]
    processed, errors = 0, []
    for record in instance.all_logs(run.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            if mat.asset_key.to_user_string() in COUNTED_ASSETS:
                count = mat.metadata.get("dagster/row_count")
                processed += int(getattr(count, "value", count) or 0)
        elif event.event_type in (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE):
            error = getattr(event.event_specific_data, "error", None)
            message = root_cause(error) if error else event.message
            if message and message not in errors:
                errors.append(message)
    partitions, range_start, range_end = _partitions(run)
    return {
        "run_id": run.run_id, "job": run.job_name, "name": run_name(run), "assets": json.dumps(_assets(run)),
        "backfill": run.tags.get(BACKFILL_TAG), "partitions": json.dumps(partitions),
        "range_start": range_start, "range_end": range_end,
        "status": status, "started": _ts(stats.start_time), "ended": _ts(stats.end_time) if status != "started" else None,
        "processed": processed, "error": "; ".join(errors) or None, "steps": json.dumps(steps),
    }


def record_run(engine: sa.Engine, instance: dg.DagsterInstance, run: dg.DagsterRun, status: str) -> None:
    """Upsert the run's row; a late "started" never overwrites a finished run."""
    row = describe_run(instance, run, status)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "insert into fact_workflow_runs (run_id, job_name, run_name, asset_selection, backfill_id, partitions,"
            " partition_range_start, partition_range_end,"
            " status, started_at, ended_at, repositories_processed, error_message, steps)"
            " values (:run_id, :job, :name, cast(:assets as jsonb), :backfill, cast(:partitions as jsonb),"
            " :range_start, :range_end,"
            " :status, :started, :ended, :processed, :error, cast(:steps as jsonb))"
            " on conflict (run_id) do update set status = excluded.status, started_at = excluded.started_at,"
            " ended_at = excluded.ended_at, repositories_processed = excluded.repositories_processed,"
            " error_message = excluded.error_message, steps = excluded.steps, recorded_at = now()"
            " where fact_workflow_runs.status = 'started' or excluded.status <> 'started'"
        ), row)
