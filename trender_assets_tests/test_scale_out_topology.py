"""End to end: the production topology as separate processes, as it runs on several machines. The
code location's own gRPC server (`dagster api grpc -m trender_assets.definitions`), `dagster-webserver`
and `dagster-daemon` against deploy/workspace.yaml and deploy/dagster.yaml (PostgreSQL instance). The
schedule's logic launches today; the marts and the report follow by automation."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from trender_assets.schedules import daily_snapshot_schedule
from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import fresh_database, serve_scenario_on, wait_for
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import rows
from trender_assets_tests.scale_out_support import Topology, topology_env

pytestmark = pytest.mark.e2e

TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture
def topology(tmp_path, database_url, engine, today):
    with fresh_database(database_url, "dagster_topology") as dagster_pg_url, \
            serve_scenario_on(FakeGitHub(token=scenario.TOKEN), today) as fake:
        env = topology_env(tmp_path, database_url, dagster_pg_url, fake)
        logs = tmp_path / "logs"
        logs.mkdir()
        topology = Topology(tmp_path / "dagster_home", env, logs)
        try:
            topology.start()
            topology.report_dir = tmp_path / "reports"
            yield topology
        finally:
            topology.stop()


def test_the_schedule_launches_a_day_and_automation_finishes_it_across_three_processes(topology, engine, today):
    # three processes, none of them `dagster dev`; the webserver reads the code from the gRPC server
    names = [p.name for p in topology.processes]
    assert names == ["code server", "webserver", "daemon"]
    assert len({p.proc.pid for p in topology.processes}) == 3
    locations = topology.query("{ workspaceOrError { ... on Workspace { locationEntries { name"
                               " displayMetadata { key value } } } } }")["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in locations] == ["trender"]
    assert {m["key"]: m["value"] for m in locations[0]["displayMetadata"]}["port"] == str(topology.grpc_port)
    with topology.instance() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    topology.stop_schedules()  # a real 14:00 UTC tick during the test would add a run

    # the schedule's own logic decides what today's tick launches; the webserver launches exactly that
    tick = datetime.combine(today, datetime.min.time(), tzinfo=timezone.utc).replace(hour=14)
    request = daily_snapshot_schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert isinstance(request, dg.RunRequest)
    run_id = topology.launch_run("ingest_job", dict(request.tags))

    status = wait_for("the scheduled day's ingest run",
                      lambda: (s := topology.run_status(run_id)) in TERMINAL and s, timeout=180, dev=topology)
    assert status == "SUCCESS"

    day = today.isoformat()

    def followed_by_automation():
        runs = topology.runs({"dagster/from_automation_condition": "true"})
        settled = runs and all(r["status"] in TERMINAL for r in runs)
        marts = ("dim_repositories", "fact_repo_snapshots", "trending_report")
        return runs if settled and all(day in topology.materialized_partitions(a) for a in marts) else None

    automated = wait_for("the day's marts and report by automation (the daemon's automation sensor)",
                         followed_by_automation, timeout=180, dev=topology, interval=2)
    assert all(r["status"] == "SUCCESS" for r in automated), automated
    assert {t["value"] for r in automated for t in r["tags"] if t["key"] == "dagster/partition"} == {day}

    facts: dict[str, set[int]] = {}
    for r in rows(engine, "select language, repo_id from fact_repo_snapshots where snapshot_date = :d", d=today):
        facts.setdefault(r["language"], set()).add(r["repo_id"])
    assert facts == scenario.EXPECTED
    assert rows(engine, "select count(*) as n from dim_repositories where is_current")[0]["n"] == len(
        set().union(*scenario.EXPECTED.values()))
    assert (topology.report_dir / f"trending-{day}.html").is_file()
