"""Retention and runs of one day exclude each other; trender's lock waits outlast a database's
statement_timeout; a range run's record reads as a range.

A run of a day retention is about to expire holds that day: retention keeps it and says so. In the
gaps between a run's steps (retention may run there), staging and the marts notice raw input that
retention removed after it was fetched, and fail with that reason instead of storing nothing.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.assets import raw as raw_module
from trender_assets.partition_lock import holding_partition, lock_partition
from trender_assets.partitions import partition_key_for
from trender_assets.repository_versions import lock_versions
from trender_assets.resources import WarehouseResource
from trender_assets.retention import retention_job
from trender_assets.run_records import root_cause
from trender_assets.warehouse.engine import normalize_url
from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import fresh_database
from trender_assets_tests.helpers import INGEST, MARTS, rows, trender

TODAY = scenario.DAY
OLD = TODAY - timedelta(days=10)  # raw and staging expire after 7 days, facts after 30: OLD is in between
OLDER = TODAY - timedelta(days=11)
RAW, STAGING = INGEST


def _key(day, language: str) -> str:
    return str(partition_key_for(day.isoformat(), language))


def _materialize(assets, resources, instance, partition: str, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, partition_key=partition, resources=resources, instance=instance,
                          raise_on_error=False, **kwargs)


def _retention(database_url: str, instance=None, dry_run: bool = False) -> dg.ExecuteInProcessResult:
    job = dg.Definitions(jobs=[retention_job], resources={"warehouse": WarehouseResource(database_url=database_url)}
                         ).resolve_job_def("retention_job")
    with (dg.DagsterInstance.ephemeral() if instance is None else _same(instance)) as run_in:
        return job.execute_in_process(instance=run_in, run_config={
            "ops": {"apply_retention": {"config": {"as_of": TODAY.isoformat(), "dry_run": dry_run}}}})


class _same:
    def __init__(self, instance):
        self.instance = instance

    def __enter__(self):
        return self.instance

    def __exit__(self, *exc):
        return False


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [root_cause(e.event_specific_data.error) for e in result.all_events
            if e.event_type == dg.DagsterEventType.STEP_FAILURE]


def _count(engine, table: str, day, language: str | None = None) -> int:
    sql = f"select count(*) as n from {table} where snapshot_date = :d"  # noqa: S608 - fixed names
    if language:
        sql += " and language = :l"
    return rows(engine, sql, d=day, l=language)[0]["n"]


# -- retention between a run's steps -------------------------------------------------------------

def test_retention_between_raw_and_staging_fails_the_category_with_its_reason(resources, instance, engine,
                                                                              database_url):
    """A backfill of a day 10 days old: raw fetched both categories, go was staged, then the daily
    retention ran. Staging python finds its fetched rows gone and fails saying so; the marts refuse
    the day; no category's facts are written as if the day were whole."""
    for language in ("go", "python"):
        assert _materialize([RAW], resources, instance, _key(OLD, language)).success
    assert _materialize([RAW, STAGING], resources, instance, _key(OLD, "go"), selection=[STAGING]).success
    assert _count(engine, "stg_repos_validated", OLD, "go") > 0

    fetched = {lang: _count(engine, "raw_github_repos", OLD, lang) for lang in ("go", "python")}
    assert _retention(database_url, instance).success
    assert _count(engine, "raw_github_repos", OLD) == 0

    staged = _materialize([RAW, STAGING], resources, instance, _key(OLD, "python"), selection=[STAGING])
    assert not staged.success
    [message] = _failures(staged)
    assert message.startswith(f"the {fetched['python']} raw rows of {OLD} (python) fetched at 2026-11-20 15:00 UTC ")
    assert "were deleted by retention before this run read them; nothing was stored" in message
    assert _count(engine, "stg_repos_validated", OLD) == _count(engine, "stg_repos_rejected", OLD) == 0

    marts = _materialize(MARTS, resources, instance, OLD.isoformat())
    assert not marts.success
    assert any(f"the {fetched['go'] + fetched['python']} raw rows of {OLD} (go, python) fetched at" in m
               for m in _failures(marts))
    assert _count(engine, "fact_repo_snapshots_base", OLD) == 0
    assert _count(engine, "dim_repository_observations", OLD) == 0


def test_retention_between_staging_and_the_marts_fails_the_day(resources, instance, engine, database_url):
    assert _materialize(INGEST, resources, instance, _key(OLD, "go")).success
    assert _retention(database_url, instance).success
    marts = _materialize(MARTS, resources, instance, OLD.isoformat())
    assert not marts.success
    assert any(f"raw rows of {OLD} (go) fetched at" in m and "deleted by retention" in m for m in _failures(marts))
    assert _count(engine, "fact_repo_snapshots_base", OLD) == 0


def test_retention_keeps_the_day_a_run_is_writing_and_reports_it(resources, instance, engine, database_url,
                                                                  monkeypatch):
    """Retention runs while a run fetches OLD|python: OLD is kept whole (its stored go rows too) and
    reported; OLDER, which no run holds, is deleted. The run then writes and stages its day."""
    for key in (_key(OLDER, "go"), _key(OLD, "go")):
        assert _materialize([RAW], resources, instance, key).success
    stored_go = _count(engine, "raw_github_repos", OLD, "go")
    seen: dict = {}
    real_discover = raw_module.discover

    def discover_while_retention_runs(*args, **kwargs):
        seen["retention"] = _retention(database_url)  # the run holds OLD here, between fetch and write
        return real_discover(*args, **kwargs)

    monkeypatch.setattr(raw_module, "discover", discover_while_retention_runs)
    assert _materialize([RAW], resources, instance, _key(OLD, "python")).success

    retention = seen["retention"]
    assert retention.success
    assert retention.output_for_node("apply_retention")["kept_in_use"] == [OLD.isoformat()]
    [output] = [e for e in retention.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    assert output.event_specific_data.metadata["kept_in_use"].value == [OLD.isoformat()]
    assert _count(engine, "raw_github_repos", OLDER) == 0
    assert _count(engine, "raw_github_repos", OLD, "go") == stored_go > 0
    monkeypatch.setattr(raw_module, "discover", real_discover)
    for language in ("go", "python"):
        staged = _materialize([RAW, STAGING], resources, instance, _key(OLD, language), selection=[STAGING])
        assert staged.success and _count(engine, "stg_repos_validated", OLD, language) > 0


def test_the_retention_command_lists_the_days_it_kept(cli_env, resources, engine):
    with dg.DagsterInstance.ephemeral() as instance:
        assert _materialize([RAW], resources, instance, _key(OLD, "go")).success
    stored = _count(engine, "raw_github_repos", OLD)
    with holding_partition(engine, "raw_github_repos", _key(OLD, "python")):  # a run fetching OLD
        result = trender(cli_env, "retention", "--as-of", TODAY.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"kept {OLD}: in use by a run; retention deletes it on a later day" in result.stdout.splitlines()
    assert _count(engine, "raw_github_repos", OLD) == stored > 0


# -- lock waits and statement_timeout ------------------------------------------------------------

TIMEOUT_MS = 50


@pytest.fixture
def timing_out_database(database_url):
    """A new database whose sessions cancel any statement after TIMEOUT_MS, and any lock wait too."""
    with fresh_database(database_url, "trender_timeouts") as url:
        admin = sa.create_engine(normalize_url(database_url), isolation_level="AUTOCOMMIT")
        name = sa.make_url(url).database
        with admin.connect() as conn:
            conn.execute(sa.text(f'alter database "{name}" set statement_timeout = {TIMEOUT_MS}'))
            conn.execute(sa.text(f'alter database "{name}" set lock_timeout = {TIMEOUT_MS}'))
        try:
            yield url, admin, name
        finally:
            admin.dispose()


def _in_transaction(lock):
    def hold(engine):
        with engine.begin() as conn:
            lock(conn)
            yield
    return hold


def _partition_session(engine):
    with holding_partition(engine, "raw_github_repos", _key(OLD, "go")):
        yield


def _migration_lock(engine):
    from trender_assets.warehouse.migrations import _backend

    backend = _backend(engine.url)
    try:
        with backend.lock():
            yield
    finally:
        backend.connection.close()


LOCKS = {
    "raw partition (session)": _partition_session,
    "staging partition (transaction)": _in_transaction(
        lambda conn: lock_partition(conn, "stg_repos_validated", _key(OLD, "go"))),
    "mart day (transaction)": _in_transaction(lambda conn: lock_partition(conn, "fact_repo_snapshots", str(OLD))),
    "dimension versions": _in_transaction(lock_versions),
    "schema migration": _migration_lock,
}


@pytest.mark.parametrize("hold", LOCKS.values(), ids=LOCKS.keys())
def test_two_holders_take_turns_though_the_wait_outlasts_statement_timeout(timing_out_database, hold):
    """The second holder waits four times the database's statement_timeout and lock_timeout, then
    holds the lock once the first lets go."""
    url, admin, name = timing_out_database
    engine = sa.create_engine(url)
    second: dict = {}

    def wait_then_hold():
        try:
            for _ in hold(engine):
                second["held"] = True
        except Exception as exc:  # noqa: BLE001 - the test reports it
            second["error"] = f"{type(exc).__name__}: {exc}"

    waited = sa.text("select count(*) from pg_stat_activity where datname = :n and wait_event = 'advisory'"
                     " and now() - query_start > make_interval(secs => :s)")
    first = hold(engine)
    next(first)
    waiter = threading.Thread(target=wait_then_hold, daemon=True)
    waiter.start()
    try:
        deadline = time.monotonic() + 30
        with admin.connect() as conn:
            while not conn.execute(waited, {"n": name, "s": 4 * TIMEOUT_MS / 1000}).scalar_one():
                if not waiter.is_alive() or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        outcome_while_held = dict(second)
    finally:
        first.close()
        waiter.join(30)
        engine.dispose()
    assert outcome_while_held == {}, "the second holder did not wait for the first"
    assert second == {"held": True}


def test_a_timed_out_query_before_the_run_is_one_line(cli_env, engine, database_url):
    """The check before a day (days whose raw data retention deleted) meets a statement_timeout."""
    admin = sa.create_engine(normalize_url(database_url), isolation_level="AUTOCOMMIT")
    name = engine.url.database
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.text("lock table raw_github_repos in access exclusive mode"))
            with admin.connect() as a:  # for new sessions only: the lock above is held by this one
                a.execute(sa.text(f'alter database "{name}" set statement_timeout = 300'))
            try:
                result = trender(cli_env, "run", "--date", TODAY.isoformat())
            finally:
                with admin.connect() as a:
                    a.execute(sa.text(f'alter database "{name}" reset statement_timeout'))
    finally:
        admin.dispose()
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "trender: error: the warehouse did not answer the checks before the run: canceling statement due to "
        "statement timeout (is a statement_timeout set for this database or role?)"]
    assert result.returncode == 1


# -- run records ----------------------------------------------------------------------------------

def test_a_range_run_is_recorded_and_shown_as_a_range(engine, instance):
    from trender_assets.run_records import record_run

    @dg.op
    def nothing():
        return None

    @dg.job
    def ingest_job():
        nothing()

    ranges = {
        "2026-11-01|go": ("2026-11-07|render", "2026-11-01..2026-11-07 go..render"),
        "2026-11-08|python": ("2026-11-08|render", "2026-11-08 python..render"),
        "2026-11-09|go": ("2026-11-12|go", "2026-11-09..2026-11-12 go"),
        "2026-11-13": ("2026-11-19", "2026-11-13..2026-11-19"),
    }
    for start, (end, label) in ranges.items():
        run = ingest_job.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}).dagster_run
        record_run(engine, instance, run, "succeeded")
        assert rows(engine, "select partitions, partition_range_start, partition_range_end"
                            " from fact_workflow_runs") == [
            {"partitions": [start, end], "partition_range_start": start, "partition_range_end": end}]
        assert rows(engine, "select run_name, partitions, partition_range_start, partition_range_end"
                            " from analytics_latest_runs") == [
            {"run_name": "ingest_job", "partitions": label, "partition_range_start": start,
             "partition_range_end": end}]
        with engine.begin() as conn:
            conn.execute(sa.text("delete from fact_workflow_runs"))
    single = ingest_job.execute_in_process(instance=instance, tags={"dagster/partition": "2026-11-20|go"})
    record_run(engine, instance, single.dagster_run, "succeeded")
    assert rows(engine, "select partitions, partition_range_start, partition_range_end from analytics_latest_runs") == [
        {"partitions": "2026-11-20|go", "partition_range_start": None, "partition_range_end": None}]
