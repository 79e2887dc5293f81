"""End to end: steps on two Celery workers (dagster-celery, broker and results on Redis), selected by
configuration alone (TRENDER_EXECUTOR=celery, TRENDER_CELERY_BROKER) in the production topology.

Both tests share one topology and two workers, started once (most of the time is start-up): a
three-day backfill whose steps ran in the workers and whose warehouse equals the in-process result,
and three days launched at once whose GitHub-calling steps never outnumber the github_api pool.
"""

from __future__ import annotations

import time
import types
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.assets.ranges import day_range_tags
from trender_assets.partitions import LANGUAGES
from trender_assets.resources import GitHubResource
from trender_assets.warehouse.migrations import apply_migrations
from trender_assets_tests import scenario
from trender_assets_tests.conftest import WAREHOUSE_TABLES, make_resources
from trender_assets_tests.e2e_support import fresh_database, serve_scenario_on, wait_for
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import materialize_day, rows, warehouse_dump
from trender_assets_tests.scale_out_support import (GITHUB_STEP, CeleryWorker, Topology, most_at_once,
                                                    redis_database, step_windows, topology_env)

pytestmark = pytest.mark.e2e

ASSETS = ["raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots", "trending_report"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
CLIENT_CONCURRENCY = GitHubResource.model_fields["max_concurrency"].default  # requests one step sends at once


@pytest.fixture(scope="module")
def scale_out(tmp_path_factory, database_url):
    """The topology with TRENDER_EXECUTOR=celery, two Celery workers, one Redis database of its own,
    and the fake GitHub answering a secondary limit to more requests at once than one client sends."""
    today = datetime.now(timezone.utc).date()
    tmp = tmp_path_factory.mktemp("scale_out")
    logs = tmp / "logs"
    logs.mkdir()
    warehouse = sa.create_engine(database_url)
    apply_migrations(warehouse)  # before the workers connect (the engine fixture empties it per test)
    warehouse.dispose()
    with redis_database() as broker, fresh_database(database_url, "dagster_celery") as dagster_pg_url, \
            serve_scenario_on(FakeGitHub(token=scenario.TOKEN), today) as fake:
        fake.concurrency_limit = CLIENT_CONCURRENCY
        for resource in ("search", "code_search"):  # two runs of several days inside a minute, not paced
            fake.set_rate_limit(resource, 1000, enforce=False)
        env = topology_env(tmp, database_url, dagster_pg_url, fake)
        env.update({"TRENDER_EXECUTOR": "celery", "TRENDER_CELERY_BROKER": broker})
        workers = [CeleryWorker(name, env, logs) for name in ("trender-a", "trender-b")]
        topology = Topology(tmp / "dagster_home", env, logs)
        try:
            topology.start()  # creates the instance's tables before the workers open it
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.wait_ready()
            topology.stop_schedules()  # a real 14:00/15:00 UTC tick would add runs to count
            yield types.SimpleNamespace(topology=topology, workers=workers, fake=fake, today=today)
        finally:
            topology.stop()
            for worker in workers:
                worker.stop()


def _where_steps_ran(instance: dg.DagsterInstance, run_ids: list[str]) -> tuple[set[int], set[int], set[str]]:
    """(pids of the run workers, pids of the processes that executed steps, Celery worker names)."""
    run_pids, step_pids, worker_names = set(), set(), set()
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.RUN_START:
                run_pids.add(event.pid)
            elif event.event_type == dg.DagsterEventType.STEP_START:
                step_pids.add(event.pid)
            elif event.event_type == dg.DagsterEventType.ENGINE_EVENT and "Celery worker" in (
                    event.engine_event_data.metadata or {}):
                worker_names.add(event.engine_event_data.metadata["Celery worker"].value)
    return run_pids, step_pids, worker_names


def test_a_three_day_backfill_runs_its_steps_on_celery_workers_and_writes_the_in_process_warehouse(
        scale_out, engine, database_url, instance):
    topology, fake, today = scale_out.topology, scale_out.fake, scale_out.today
    days = [today - timedelta(days=n) for n in (3, 2, 1)]
    worker_pids = set().union(*(w.pids() for w in scale_out.workers))

    started = time.monotonic()
    backfill_id = topology.launch_backfill(
        ASSETS, [f"{d}|{lang}" for d in days for lang in LANGUAGES], "scale out: three days on Celery")
    status = wait_for("the three-day backfill on Celery workers", lambda: topology.backfill_status(backfill_id),
                      timeout=300, dev=topology, interval=1)
    elapsed = time.monotonic() - started
    assert status == "COMPLETED_SUCCESS", topology.log_tail()
    runs = topology.runs({"dagster/backfill": backfill_id})
    assert runs and all(r["status"] == "SUCCESS" for r in runs), runs
    print(f"\nthree-day backfill on two Celery workers: {elapsed:.1f} s, {len(runs)} runs")

    # the event log: every step ran in a Celery worker's pool process, none in the run worker
    run_ids = [r["runId"] for r in runs]
    with topology.instance() as dagster:
        run_pids, step_pids, worker_names = _where_steps_ran(dagster, run_ids)
        windows = step_windows(dagster, run_ids)
        pool_limit = dagster.event_log_storage.get_concurrency_info("github_api").slot_count
    assert run_pids and step_pids and not run_pids & step_pids, (run_pids, step_pids)
    assert step_pids <= worker_pids, (step_pids, worker_pids)
    assert worker_names and {name.split("@")[0] for name in worker_names} <= {"trender-a", "trender-b"}, worker_names
    assert most_at_once(windows) <= pool_limit

    # the same days in process, on the same fake GitHub, write the same warehouse
    on_workers = warehouse_dump(engine)
    assert [r["d"] for r in rows(engine, "select distinct snapshot_date::text as d from fact_repo_snapshots"
                                         " order by 1")] == [d.isoformat() for d in days]
    with engine.begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(WAREHOUSE_TABLES)} restart identity cascade"))
    resources = make_resources(fake, database_url, pace_searches=False)
    started = time.monotonic()
    for day in days:
        assert all(r.success for r in materialize_day(resources, instance, day, ranges=True)), day
    print(f"the same three days in process (one run per day and layer): {time.monotonic() - started:.1f} s")
    in_process = warehouse_dump(engine)
    assert on_workers == in_process
    assert fake.secondary_limit_answers == 0


def test_runs_of_different_days_at_once_never_send_more_github_steps_than_the_pool_allows(scale_out, engine):
    topology, fake, today = scale_out.topology, scale_out.fake, scale_out.today
    worker_pids = set().union(*(w.pids() for w in scale_out.workers))
    days = [(today - timedelta(days=n)).isoformat() for n in (8, 7, 6)]
    fake.latency = 0.01  # requests last long enough to be seen together if two steps overlapped
    fake.max_in_flight = 0
    try:
        run_ids = [topology.launch_run("ingest_job", day_range_tags(day, LANGUAGES)) for day in days]

        def all_ended():
            statuses = {run_id: topology.run_status(run_id) for run_id in run_ids}
            return statuses if set(statuses.values()) <= TERMINAL else None

        statuses = wait_for("three days' ingest runs on Celery workers", all_ended, timeout=300, dev=topology)
    finally:
        fake.latency = 0.0
    assert set(statuses.values()) == {"SUCCESS"}, statuses

    # the runs were in progress together: only the pool kept their GitHub steps apart
    spans = topology.query("{ runsOrError { ... on Runs { results { runId startTime endTime } } } }"
                           )["runsOrError"]["results"]
    spans = [(r["startTime"], r["endTime"], 0) for r in spans if r["runId"] in run_ids]
    assert most_at_once(spans) >= 2, spans

    with topology.instance() as dagster:
        windows = step_windows(dagster, run_ids)
        pool_limit = dagster.event_log_storage.get_concurrency_info("github_api").slot_count
        _, step_pids, _ = _where_steps_ran(dagster, run_ids)
    assert len(windows) == len(days)
    assert {pid for _, _, pid in windows} <= worker_pids and step_pids <= worker_pids
    peak = most_at_once(windows)
    print(f"\n{GITHUB_STEP} steps in flight at most: {peak} (pool github_api: {pool_limit});"
          f" requests in flight at most: {fake.max_in_flight} (bound {fake.concurrency_limit})")
    assert pool_limit == 1 and peak == 1
    assert fake.secondary_limit_answers == 0
    assert 1 <= fake.max_in_flight <= CLIENT_CONCURRENCY
