"""Schedules, on by default: the daily snapshot at 14:00 UTC and retention an hour later."""

import dagster as dg

from trender_assets.assets.ranges import day_range_tags
from trender_assets.jobs import ingest_job, retention_job
from trender_assets.partitions import LANGUAGES


@dg.schedule(job=ingest_job, cron_schedule="0 14 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_snapshot_schedule(context: dg.ScheduleEvaluationContext):
    """Snapshot the tick's day for every configured category in one run: they are fetched at
    once through one GitHub client (one rate governor), and the marts follow by automation."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"snapshot-{day}", tags=day_range_tags(day, LANGUAGES))


@dg.schedule(job=retention_job, cron_schedule="0 15 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_retention_schedule(context: dg.ScheduleEvaluationContext):
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"retention-{day}",
                         run_config={"ops": {"apply_retention": {"config": {"as_of": day}}}})
