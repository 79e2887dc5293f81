"""Runs whose process died: marked failed and recorded.

Dagster's run monitoring does this for runs the daemon launched; nothing watches the CLI's
in-process runs, so a ``kill -9`` would leave them STARTED forever. Each such run carries its
process's identity in tags; the next ``trender`` command fails the runs whose process is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import dagster as dg
import sqlalchemy as sa

from trender_assets.processes import identity, is_running
from trender_assets.run_records import record_run

HOST_TAG, PID_TAG, STARTED_TAG = "trender/host", "trender/pid", "trender/process_started"
UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def process_tags() -> dict[str, str]:
    """Tags naming this process, for the in-process runs it launches."""
    me = identity()
    return {HOST_TAG: me["host"], PID_TAG: me["pid"], STARTED_TAG: me["started"]}


@dataclass
class AbandonedRun:
    run_id: str
    job_name: str
    pid: int

    def line(self) -> str:
        return (f"run {self.run_id} ({self.job_name}) was left unfinished by process {self.pid}, "
                "which is gone: marked failed")


def _holder_is_gone(run: dg.DagsterRun) -> bool:
    tags = run.tags
    if PID_TAG not in tags:
        return False  # launched by the daemon or the UI: Dagster's own run monitoring watches those
    started: Optional[float] = float(tags[STARTED_TAG]) if tags.get(STARTED_TAG, "None") != "None" else None
    return is_running(tags.get(HOST_TAG, ""), int(tags[PID_TAG]), started) is False


def fail_abandoned_runs(instance: dg.DagsterInstance, engine: Optional[sa.Engine]) -> list[AbandonedRun]:
    """Mark failed every unfinished in-process run whose process has died, and record it."""
    found = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED)):
        if not _holder_is_gone(run):
            continue
        pid = int(run.tags[PID_TAG])
        instance.report_run_failed(
            run, f"The process that ran this run (pid {pid} on {run.tags.get(HOST_TAG)}) ended without finishing "
                 "it (killed or crashed); marked failed by the next trender command.")
        if engine is not None:
            record_run(engine, instance, instance.get_run_by_id(run.run_id), "failed")
        found.append(AbandonedRun(run.run_id, run.job_name, pid))
    return found
