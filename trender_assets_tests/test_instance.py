"""One Dagster instance for every entry point: `trender run`, `trender dev` (from any folder) and plain
`dagster dev` in the checkout (DAGSTER_HOME unset) all read and write trender's default instance in
PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.instance.ref import InstanceRef

from trender_assets import instance_storage
from trender_assets.errors import ConfigurationError
from trender_assets.instance_storage import DEFAULT_INSTANCE_YAML, storage_location, write_default_config
from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import PROJECT_ROOT, DagsterDev, checkout_instance, wait_for
from trender_assets_tests.helpers import rows, trender

DAY = scenario.DAY.isoformat()
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


@pytest.fixture
def default_env(cli_env, engine) -> dict:
    """`cli_env` without DAGSTER_HOME: trender's default instance, in a fresh schema of the test database."""
    env = {k: v for k, v in cli_env.items() if k != "DAGSTER_HOME"}
    drop = sa.text("drop schema if exists dagster cascade")
    with engine.begin() as conn:
        conn.execute(drop)
    yield env
    with engine.begin() as conn:
        conn.execute(drop)


# -- configuration --------------------------------------------------------------------------------

def test_checkout_dagster_yaml_is_trenders_default_instance(tmp_path):
    assert (PROJECT_ROOT / "dagster.yaml").read_text() == DEFAULT_INSTANCE_YAML
    # what `dagster dev` does with DAGSTER_HOME unset: a temporary folder, the config of the cwd
    ref = InstanceRef.from_dir(str(tmp_path), config_dir=str(PROJECT_ROOT))
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == (
        "trender_assets.instance_storage", "TrenderInstanceStorage")
    assert ref.local_artifact_storage_data.class_name == "TrenderArtifactStorage"
    assert ref.compute_logs_data.class_name == "TrenderComputeLogs"
    assert ref.settings["telemetry"] == {"enabled": False}


def test_storage_location_follows_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db.internal:5432/warehouse?options=-cstatement_timeout%3D0")
    location = storage_location()
    assert location.schema == "dagster"
    assert location.url.drivername == "postgresql+psycopg2"  # dagster-postgres is built on psycopg2
    assert (location.url.host, location.url.database) == ("db.internal", "warehouse")
    assert location.url.query["options"] == "-cstatement_timeout=0 -csearch_path=dagster"

    monkeypatch.setenv("DATABASE_URL", "  ")
    with pytest.raises(ConfigurationError, match="DATABASE_URL is set but empty"):
        storage_location()


def test_default_home_gets_trenders_config_and_keeps_a_users(tmp_path):
    write_default_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == DEFAULT_INSTANCE_YAML
    (tmp_path / "dagster.yaml").write_text(instance_storage._LEGACY_DEFAULT_YAML)  # what earlier versions wrote
    write_default_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == DEFAULT_INSTANCE_YAML
    mine = "telemetry:\n  enabled: true\n"
    (tmp_path / "dagster.yaml").write_text(mine)
    write_default_config(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == mine
    assert [p.name for p in tmp_path.iterdir()] == ["dagster.yaml"]


def test_storage_is_a_schema_of_the_warehouse_database(default_env, engine, tmp_path):
    with checkout_instance(default_env, tmp_path / "home") as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert instance.compute_log_manager._base_dir == os.path.join(default_env["TRENDER_DATA_DIR"], "dagster_home", "storage")
    tables = {(r.table_schema, r.table_name) for r in engine.connect().execute(sa.text(
        "select table_schema, table_name from information_schema.tables where table_name in ('runs', 'event_logs', 'jobs')"))}
    assert tables == {("dagster", "runs"), ("dagster", "event_logs"), ("dagster", "jobs")}


def test_unreachable_storage_is_one_line(default_env):
    env = {**default_env, "DATABASE_URL": "postgresql://postgres:hunter2@127.0.0.1:1/trender"}
    result = trender(env, "run", "--date", DAY, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("trender: error: cannot ") and "127.0.0.1:1" in line


def test_trender_dev_serves_the_packaged_workspace_from_any_folder(default_env, monkeypatch, tmp_path):
    """`trender dev` stays in the folder it was started in, serves the workspace shipped in the package
    (the checkout's location, by the same name) and opens the default instance `trender run` opens."""
    import yaml

    from trender_assets import cli

    for name in ("DAGSTER_HOME", "DATABASE_URL", "TRENDER_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
        if name in default_env:
            monkeypatch.setenv(name, default_env[name])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    launched = {}

    def execvp(file, args):
        launched.update(cwd=os.getcwd(), args=args, home=os.environ.get("DAGSTER_HOME"))
        raise SystemExit(0)

    monkeypatch.setattr(os, "execvp", execvp)
    with pytest.raises(SystemExit):
        cli.main(["dev", "-h", "127.0.0.1", "-p", "3999"])
    home = Path(default_env["TRENDER_DATA_DIR"]) / "dagster_home"
    workspace = Path(launched["args"][5])
    assert launched == {"cwd": str(elsewhere), "home": str(home), "args": [
        sys.executable, "-m", "dagster", "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", "3999"]}
    assert workspace.parent.resolve() == Path(cli.__file__).resolve().parent  # shipped in the package
    assert (home / "dagster.yaml").read_text() == DEFAULT_INSTANCE_YAML
    [packaged] = yaml.safe_load(workspace.read_text())["load_from"]
    [checkout] = yaml.safe_load((PROJECT_ROOT / "workspace.yaml").read_text())["load_from"]
    assert packaged["python_module"] == {"module_name": "trender_assets.definitions", "location_name": "trender"}
    assert {k: checkout["python_module"][k] for k in ("module_name", "location_name")} == packaged["python_module"]
    assert list(elsewhere.iterdir()) == []  # nothing written where it was started


# -- every entry point, one instance ---------------------------------------------------------------

@pytest.mark.e2e
def test_trender_run_and_plain_dagster_dev_share_one_instance(default_env, engine, tmp_path):
    """`trender run` stores a day; plain `dagster dev` in the checkout shows its runs, materializations
    and passing checks (the freshness sensor marks nothing failed); a run launched in the UI is then
    in the instance `trender run` opens."""
    day = trender(default_env, "run", "--date", DAY)
    assert day.returncode == 0, day.stdout + day.stderr
    recorded = {r["run_id"] for r in rows(engine, "select run_id from fact_workflow_runs")}  # what trender ran

    temporary_before = set(PROJECT_ROOT.glob(".tmp_dagster_home_*"))
    dev = DagsterDev(tmp_path / "unused", default_env, tmp_path / "dagster_dev.log")
    try:
        dev.start()
        shown = {r["runId"]: r["status"] for r in dev.runs()}
        assert recorded and {run_id: shown.get(run_id) for run_id in recorded} == dict.fromkeys(recorded, "SUCCESS")
        assert dev.materialized_partitions("fact_repo_snapshots") == {DAY}
        assert dev.materialized_partitions("raw_github_repos") == {f"{DAY}|{lang}" for lang in scenario.EXPECTED}

        def freshness_sensor_ticked():
            ticks = dev.query(
                '{ sensorOrError(sensorSelector: {repositoryLocationName: "trender", repositoryName: "__repository__",'
                ' sensorName: "fact_freshness_sensor"}) { ... on Sensor { sensorState { ticks(limit: 5) { status } } } } }'
            )["sensorOrError"]["sensorState"]["ticks"]
            return [t for t in ticks if t["status"] != "STARTED"]

        wait_for("a tick of fact_freshness_sensor", freshness_sensor_ticked, timeout=120, dev=dev)
        executions = dev.query(
            '{ assetCheckExecutions(assetKey: {path: ["fact_repo_snapshots"]}, checkName: "freshness_check", limit: 10)'
            " { status } }")["assetCheckExecutions"]
        # newest first. A partitioned run also leaves a SKIPPED record of this unpartitioned check: Dagster
        # plans it under the run's partition and records the evaluation without one.
        assert executions[0]["status"] == "SUCCEEDED" and "FAILED" not in {e["status"] for e in executions}, executions

        ui_run = dev.launch_run("marts_job", {"dagster/partition": DAY})
        status = wait_for("the run launched in the UI", lambda: (s := dev.run_status(ui_run)) in TERMINAL and s,
                          timeout=180, dev=dev)
        assert status == "SUCCESS", dev.log_tail()
    finally:
        # `dagster dev` removes its temporary folder on the way out once it has stopped its webserver
        # and daemon, so it is asked alone first (as a supervisor stops it): with its whole group
        # signalled at once, its children may still write into the folder while it is removed, and
        # the folder stays (Dagster's own race, seen with the cores loaded). The test never leaves one.
        graceful = dev.stop(grace=120, leader_only=True)
        for folder in set(PROJECT_ROOT.glob(".tmp_dagster_home_*")) - temporary_before:
            shutil.rmtree(folder, ignore_errors=True)
    assert graceful, f"dagster dev did not stop within 120 s of SIGTERM:\n{dev.log_tail()}"

    # the instance `trender run` opens by default (the home it wrote its dagster.yaml into) holds the UI's run
    home = Path(default_env["TRENDER_DATA_DIR"]) / "dagster_home"
    assert (home / "dagster.yaml").read_text() == DEFAULT_INSTANCE_YAML
    with checkout_instance(default_env, home, config_dir=home) as instance:
        assert instance.get_run_by_id(ui_run).status == dg.DagsterRunStatus.SUCCESS
        assert recorded <= {r.dagster_run.run_id for r in instance.get_run_records()}
