"""End to end: `dagster dev` on the production instance configuration (deploy/dagster.yaml, storage on
PostgreSQL), the fake GitHub over HTTP and the test warehouse, driven over GraphQL as the UI does.

One test, in steps, because starting Dagster costs most of the time: lineage, a day launched for all
four languages with the marts (and the report) following by automation, a three-day asset backfill
of the whole graph, and the momentum check recorded per partition. Everything it starts is stopped
even when it fails.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import dagster as dg
import pytest

from trender_assets.partitions import LANGUAGES, date_language_partitions, partition_key_for
from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import (DagsterDev, fresh_database, production_instance_env, serve_scenario_on,
                                               wait_for)
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import rows

pytestmark = pytest.mark.e2e

ASSETS = ["raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots", "trending_report"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture
def dagster_dev(tmp_path, database_url, engine, today):
    """`dagster dev` with deploy/dagster.yaml, its storage in a fresh `dagster_e2e_*` database on the
    test server (TRENDER_TEST_DATABASE_URL, else the embedded one the warehouse uses)."""
    with fresh_database(database_url, "dagster_e2e") as dagster_pg_url, \
            serve_scenario_on(FakeGitHub(token=scenario.TOKEN), today) as fake:
        env = production_instance_env(tmp_path, database_url, dagster_pg_url, fake)
        dev = DagsterDev(tmp_path / "dagster_home", env, tmp_path / "dagster_dev.log")
        try:
            dev.start()
            dev.report_dir = tmp_path / "reports"
            yield dev
        finally:
            dev.stop()


def test_dagster_dev_runs_the_pipeline_on_the_production_instance(dagster_dev, engine, today, monkeypatch):
    dev = dagster_dev
    day = today.isoformat()
    days = [(today - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    # a past day holds only the repositories created by then (the scenario is moved to play today)
    created = {r.id: datetime.fromisoformat(r.created_at).date() + (today - scenario.DAY) for r in scenario.repos()}
    created[403] = today - timedelta(days=30)  # the code-search decoy scenario.serve adds
    facts_on = {d: sum(created[i].isoformat() <= d for ids in scenario.EXPECTED.values() for i in ids)
                for d in [*days, day]}

    # --- the instance is the production one: PostgreSQL storage, pools, run limits ----------------
    monkeypatch.setenv("DAGSTER_PG_URL", dev.env["DAGSTER_PG_URL"])
    with dg.DagsterInstance.from_config(str(dev.home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        concurrency = instance.get_concurrency_config()
        assert concurrency.pool_config.default_pool_limit == 1
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert {"key": "dagster/backfill", "limit": 2} in concurrency.run_queue_config.tag_concurrency_limits

    # --- lineage, kinds and groups as the UI shows them ------------------------------------------
    nodes = {"/".join(n["assetKey"]["path"]): n for n in dev.query(
        "{ assetNodes { assetKey { path } groupName kinds isPartitioned dependencyKeys { path } } }")["assetNodes"]}
    assert {a: {"/".join(d["path"]) for d in nodes[a]["dependencyKeys"]} for a in ASSETS} == {
        "raw_github_repos": set(),
        "stg_repos_validated": {"raw_github_repos"},
        "dim_repositories": {"stg_repos_validated"},
        "fact_repo_snapshots": {"stg_repos_validated", "dim_repositories"},
        "trending_report": {"fact_repo_snapshots", "dim_repositories", "stg_repos_validated", "raw_github_repos"},
    }
    assert {a: nodes[a]["groupName"] for a in ASSETS} == {
        "raw_github_repos": "ingest", "stg_repos_validated": "ingest",
        "dim_repositories": "marts", "fact_repo_snapshots": "marts", "trending_report": "reports"}
    assert set(nodes["raw_github_repos"]["kinds"]) == {"github", "postgres"}
    assert "postgres" in nodes["fact_repo_snapshots"]["kinds"]
    assert set(nodes["trending_report"]["kinds"]) == {"html", "postgres"}
    assert all(nodes[a]["isPartitioned"] for a in ASSETS)
    sensors = dev.query(
        '{ sensorsOrError(repositorySelector: {repositoryLocationName: "trender", repositoryName: "__repository__"})'
        " { ... on Sensors { results { name sensorState { status } } } } }")["sensorsOrError"]["results"]
    assert {s["name"]: s["sensorState"]["status"] for s in sensors}["trender_automation_sensor"] == "RUNNING"
    schedules = dev.query(
        '{ schedulesOrError(repositorySelector: {repositoryLocationName: "trender", repositoryName: "__repository__"})'
        " { ... on Schedules { results { name scheduleState { id status } } } } }")["schedulesOrError"]["results"]
    assert {s["name"]: s["scheduleState"]["status"] for s in schedules} == {
        "daily_snapshot_schedule": "RUNNING", "daily_retention_schedule": "RUNNING"}
    for schedule in schedules:  # on by default; stopped here so a 14:00/15:00 UTC tick adds no runs to count
        stopped = dev.query("mutation($id: String!) { stopRunningSchedule(id: $id) { __typename } }",
                            {"id": schedule["scheduleState"]["id"]})["stopRunningSchedule"]
        assert stopped["__typename"] == "ScheduleStateResult", stopped

    # --- launch: a three-day asset backfill of the whole graph (as the UI does), and today ---------
    backfill = dev.query(
        """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
             __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
        {"p": {"assetSelection": [{"path": [a]} for a in ASSETS],  # partition names apply to the roots
               "partitionNames": [f"{d}|{lang}" for d in days for lang in LANGUAGES],
               "title": "e2e: three days"}},
    )["launchPartitionBackfill"]
    assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
    run_ids = [dev.launch_run("ingest_job", date_language_partitions.get_tags_for_partition_key(
        partition_key_for(day, language))) for language in LANGUAGES]

    # --- today: four ingest runs, then the marts and the report follow by automation -------------
    def ingest_finished():
        statuses = {run_id: dev.run_status(run_id) for run_id in run_ids}
        return statuses if set(statuses.values()) <= TERMINAL else None

    statuses = wait_for("today's four ingest runs", ingest_finished, timeout=120, dev=dev)
    assert set(statuses.values()) == {"SUCCESS"}, statuses
    assert {f"{day}|{lang}" for lang in LANGUAGES} <= dev.materialized_partitions("stg_repos_validated")

    def followed_by_automation():
        runs = dev.runs({"dagster/from_automation_condition": "true"})
        settled = runs and all(r["status"] in TERMINAL for r in runs)
        marts = ("dim_repositories", "fact_repo_snapshots", "trending_report")
        return runs if settled and all(day in dev.materialized_partitions(a) for a in marts) else None

    automated = wait_for("today's marts and report by automation", followed_by_automation,
                         timeout=150, dev=dev, interval=2)
    assert all(r["status"] == "SUCCESS" for r in automated), automated
    assert {t["value"] for r in automated for t in r["tags"] if t["key"] == "dagster/partition"} == {day}
    assert {"dim_repositories", "fact_repo_snapshots"} <= {
        "/".join(p["path"]) for r in automated for p in r["assetSelection"] or []}
    facts_today: dict[str, set[int]] = {}
    for r in rows(engine, "select language, repo_id from fact_repo_snapshots where snapshot_date = :d", d=today):
        facts_today.setdefault(r["language"], set()).add(r["repo_id"])
    assert facts_today == scenario.EXPECTED
    assert (dev.report_dir / f"trending-{day}.html").is_file()

    # --- the backfill: every layer of the three days, each day's marts after its four languages ----
    def backfill_finished():
        status = dev.query("query($id: String!) { partitionBackfillOrError(backfillId: $id) {"
                           " ... on PartitionBackfill { status } } }",
                           {"id": backfill["backfillId"]})["partitionBackfillOrError"]["status"]
        return status if status not in ("REQUESTED", "CANCELING") else None

    assert wait_for("the backfill", backfill_finished, timeout=240, dev=dev, interval=2) == "COMPLETED_SUCCESS"
    assert {f"{d}|{lang}" for d in days for lang in LANGUAGES} <= dev.materialized_partitions("raw_github_repos")
    for asset in ASSETS[2:]:
        assert set(days) <= dev.materialized_partitions(asset), asset
    backfill_runs = dev.runs({"dagster/backfill": backfill["backfillId"]})
    # an asset backfill runs a contiguous range of partitions per run: fewer runs than partitions
    assert backfill_runs and all(r["status"] == "SUCCESS" for r in backfill_runs)
    stored = rows(engine, "select snapshot_date::text as d, count(*) as n from fact_repo_snapshots group by 1 order by 1")
    assert stored == [{"d": d, "n": facts_on[d]} for d in [*days, day]]
    assert rows(engine, "select count(*) as n from dim_repositories where is_current")[0]["n"] == len(
        set().union(*scenario.EXPECTED.values()))
    assert sorted(p.name for p in dev.report_dir.glob("trending-*.html")) == [f"trending-{d}.html" for d in [*days, day]]

    # --- the momentum check: one passing evaluation per partition ------------------------------
    executions = dev.query(
        """{ assetCheckExecutions(assetKey: {path: ["fact_repo_snapshots"]}, checkName: "momentum_score", limit: 50) {
             partition status evaluation { success partition } } }""")["assetCheckExecutions"]
    assert sorted(e["partition"] for e in executions) == [*days, day]
    assert all(e["status"] == "SUCCEEDED" and e["evaluation"]["success"] for e in executions), executions

    # --- the github_api pool (limit 1): never two GitHub-calling steps at once, across all runs ----
    steps = dev.query("{ runsOrError { ... on Runs { results { stepStats { stepKey startTime endTime } } } } }")
    windows = sorted((s["startTime"], s["endTime"]) for run in steps["runsOrError"]["results"]
                     for s in run["stepStats"] if s["stepKey"] == "raw_github_repos")
    assert len(windows) > len(LANGUAGES)  # today's four runs, and the backfill's ranges
    assert all(end <= next_start for (_, end), (next_start, _) in zip(windows, windows[1:])), windows

    if os.environ.get("E2E_TIMELINE"):
        print(dev.timeline())
