"""Materializes whole days in-process and summarizes them: the one way the ``trender`` command,
the tests and the benchmarks run a day.

The date x language assets and the daily marts cannot share one job, so a day is one
``ingest_job`` run of its languages' partitions (one per contiguous block of them: all four are
one; or, with ``per_category``, one per category, as the UI launches single partitions) followed
by one ``marts_job`` run (dimension, facts, momentum check, report). Every run is recorded in the
instance, so it shows in the UI next to scheduled runs.

Each asset says what it did in one line of its materialization metadata: ``outcome``, or
``skipped`` (why) when it did nothing. The summary prints those lines as they are.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Iterable, Optional

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.ranges import day_range_tags, language_blocks
from trender_assets.errors import WarehouseUnavailable
from trender_assets.instance_home import instance_home, prepare_instance_home
from trender_assets.partitions import LANGUAGES, partition_key_for
from trender_assets.run_records import record_run, root_cause


@dataclass
class Outcome:
    """One line of the summary: an asset partition or a check evaluation."""

    status: str  # ok | skip | FAIL | pass
    name: str
    partition: str
    detail: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status in ("ok", "skip", "pass")

    def line(self) -> str:
        return f"{self.status:<5} {self.name:<22} {self.partition:<22} {self.detail}".rstrip()


@dataclass
class DayReport:
    day: date
    outcomes: list[Outcome] = field(default_factory=list)
    results: list[dg.ExecuteInProcessResult] = field(default_factory=list)  # the day's runs, in order
    stopped: Optional[str] = None  # why the day ended early (the database went away), one line

    @property
    def succeeded(self) -> bool:
        return self.stopped is None and bool(self.outcomes) and all(o.succeeded for o in self.outcomes)


def get_instance() -> dg.DagsterInstance:
    home = instance_home()
    prepare_instance_home(home)
    if not os.environ.get("DAGSTER_HOME"):
        from trender_assets.instance_storage import write_default_config

        write_default_config(home)  # storage in PostgreSQL, shared with `dagster dev` (see dagster.yaml)
    os.environ["DAGSTER_HOME"] = str(home)
    from filelock import FileLock

    # Dagster's SQLite storage creates its tables unguarded: two commands on a fresh DAGSTER_HOME
    # collide ("table runs already exists"). Opening instances one at a time costs milliseconds.
    with FileLock(home / ".trender-instance.lock"):
        instance = dg.DagsterInstance.get()
    # A day is five runs in one process: keep Dagster's PostgreSQL connections between events, as its
    # webserver does, instead of opening one per event (a no-op for SQLite).
    instance.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
    return instance


def _value(entry) -> object:
    return getattr(entry, "value", entry)


def _describe(metadata: dict) -> tuple[str, str]:
    """A materialization's status and the asset's own line for it (row count if it gave none)."""
    if "skipped" in metadata:
        return "skip", str(_value(metadata["skipped"]))
    if "outcome" in metadata:
        return "ok", str(_value(metadata["outcome"]))
    return "ok", f"{_value(metadata.get('dagster/row_count'))} rows"


def summarize(result: dg.ExecuteInProcessResult, partition: str) -> list[Outcome]:
    """One line per asset partition and check of a run (a range run's partitions in key order)."""
    outcomes: list[Outcome] = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            mat = event.event_specific_data.materialization
            status, detail = _describe(mat.metadata)
            outcomes.append(Outcome(status, mat.asset_key.to_user_string(), mat.partition or partition, detail))
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            ev = event.event_specific_data
            failed = {k: _value(v) for k, v in ev.metadata.items() if isinstance(_value(v), int) and _value(v)
                      and k != "rows_checked"}
            outcomes.append(Outcome(
                "pass" if ev.passed else "FAIL", ev.check_name, ev.partition or partition,
                f"check on {ev.asset_key.to_user_string()}" + ("" if ev.passed else f": {failed}"),
            ))
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            outcomes.extend(_failure_outcomes(event, partition))
    if not result.success and not any(o.status == "FAIL" for o in outcomes):
        outcomes.append(Outcome("FAIL", result.job_def.name, partition, "run failed"))
    return _in_key_order(outcomes)


def _key_order(partition: str) -> tuple:
    day, _, language = partition.partition("|")
    return day, LANGUAGES.index(language) if language in LANGUAGES else -1


def _in_key_order(outcomes: list[Outcome]) -> list[Outcome]:
    """Each asset's consecutive lines sorted by partition: Dagster reports a range in no set order."""
    return [o for _, lines in itertools.groupby(outcomes, key=lambda o: o.name)
            for o in sorted(lines, key=lambda o: _key_order(o.partition))]


def _failure_outcomes(event: dg.DagsterEvent, partition: str) -> list[Outcome]:
    """A failed step: one line, or for a range run one line per partition (see assets/ranges.py)."""
    data = event.event_specific_data
    metadata = data.user_failure_data.metadata if data.user_failure_data is not None else {}
    failed = _value(metadata.get("failed_partitions")) or {}
    if not failed:
        return [Outcome("FAIL", event.step_key, partition, root_cause(data.error) or "failed")]
    written = _value(metadata.get("written_partitions")) or {}
    return [*(Outcome("FAIL", event.step_key, key, cause) for key, cause in failed.items()),
            *(Outcome("kept", event.step_key, key, f"{rows} rows written, not recorded as materialized: the run "
                      "failed (a re-run reuses them)") for key, rows in written.items())]


def was_interrupted(result: dg.ExecuteInProcessResult) -> bool:
    """Dagster turns Ctrl-C inside a run into a step failure and returns; the command must stop."""
    return any(
        event.event_type == dg.DagsterEventType.STEP_FAILURE and event.event_specific_data.error is not None
        and event.event_specific_data.error.cls_name in ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
        for event in result.all_events
    )


def materialize_day(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    day: date,
    languages: Iterable[str],
    refetch: bool = False,
    tags: Optional[dict[str, str]] = None,
    allow_smaller: bool = False,
    log_level: str = "CRITICAL",
    engine: Optional[sa.Engine] = None,
    per_category: bool = False,
) -> DayReport:
    """Run the day; ``log_level`` sets Dagster's console logging (the summary says what happened).
    With ``engine``, each run is recorded in fact_workflow_runs (no daemon watches in-process runs).
    With ``per_category``, each category is an ingest run of its own (as the UI runs one partition)."""
    report = DayReport(day)
    loggers = {"console": {"config": {"log_level": log_level}}}

    def run(job_name: str, partition_key, run_config: dict, range_tags: Optional[dict[str, str]] = None) -> bool:
        """Execute, summarize and record one run; False when the database went away (the day stops)."""
        held = io.StringIO()  # Dagster's storage reports each retry on stderr, then gives up
        quiet = log_level == "CRITICAL"  # with --verbose, Dagster's logs stream as they come
        try:
            with contextlib.redirect_stderr(held) if quiet else contextlib.nullcontext():
                result = defs.resolve_job_def(job_name).execute_in_process(
                    partition_key=partition_key, instance=instance, run_config=run_config, raise_on_error=False,
                    tags={**(tags or {}), **(range_tags or {})},
                )
                label = str(partition_key) if partition_key else "..".join((range_tags or {}).values())
                report.results.append(result)
                report.outcomes.extend(summarize(result, label))
                if engine is not None:
                    record_run(engine, instance, result.dagster_run, "succeeded" if result.success else "failed")
        except Exception as exc:
            if not _is_database_failure(exc):
                sys.stderr.write(held.getvalue())
                raise
            # the retries' chatter is about this one cause: the line below says it once
            report.stopped = f"the database went away mid-run; stopped after the lines above: {_first_line(exc)}"
            return False
        sys.stderr.write(held.getvalue())
        if was_interrupted(result):
            raise KeyboardInterrupt  # the run is recorded; the command stops rather than go on
        return True

    ingest_config = {"ops": {"raw_github_repos": {"config": {"refetch": refetch, "allow_smaller": allow_smaller}}},
                     "loggers": loggers}
    blocks = language_blocks(languages)
    if per_category:
        blocks = [[language] for block in blocks for language in block]
    for block in blocks:  # one run per contiguous range: its categories fetched at once
        if len(block) == 1:
            ingested = run("ingest_job", partition_key_for(day.isoformat(), block[0]), ingest_config)
        else:
            ingested = run("ingest_job", None, ingest_config, day_range_tags(day.isoformat(), block))
        if not ingested:
            return report
    if not report.succeeded:
        report.outcomes.append(Outcome("FAIL", "marts_job", day.isoformat(), "not run: ingestion failed"))
        return report
    run("marts_job", day.isoformat(), {"loggers": loggers})
    return report


def _database_causes(exc: Optional[BaseException]):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _is_database_failure(exc: BaseException) -> bool:
    """A lost or refused connection to PostgreSQL (the warehouse, or Dagster's own storage there),
    as opposed to a bug: those keep their traceback."""
    return any(isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError, WarehouseUnavailable))
               or (isinstance(e, sa.exc.DBAPIError) and e.connection_invalidated)
               or any(c.__name__ == "DagsterPostgresException" for c in type(e).__mro__)
               for e in _database_causes(exc))


def _first_line(exc: BaseException) -> str:
    """What PostgreSQL said, from the innermost database error."""
    errors = [e for e in _database_causes(exc) if isinstance(e, sa.exc.DBAPIError)]
    cause = (errors[-1].orig or errors[-1]) if errors else exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
