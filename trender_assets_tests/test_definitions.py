"""The code location loads, describes itself for lineage, and schedules/automates as designed."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from trender_assets.definitions import defs
from trender_assets.partitions import LANGUAGES, daily_partitions, date_language_partitions, partition_key_for

ASSETS = ["raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots", "trending_report"]


def test_definitions_load_and_jobs_resolve():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("ingest_job").partitions_def == date_language_partitions
    assert defs.resolve_job_def("marts_job").partitions_def == daily_partitions
    retention = defs.resolve_job_def("retention_job")
    assert retention.partitions_def is None and [n.name for n in retention.nodes] == ["apply_retention"]


def test_lineage_raw_to_fact():
    graph = defs.resolve_asset_graph()
    parents = {key: {p.to_user_string() for p in graph.get(dg.AssetKey(key)).parent_keys}
               for key in ASSETS}
    assert parents == {
        "raw_github_repos": set(),
        "stg_repos_validated": {"raw_github_repos"},
        "dim_repositories": {"stg_repos_validated"},
        "fact_repo_snapshots": {"stg_repos_validated", "dim_repositories"},
        "trending_report": {"fact_repo_snapshots", "dim_repositories", "stg_repos_validated", "raw_github_repos"},
    }


@pytest.mark.parametrize("name", ASSETS)
def test_every_asset_is_described_for_the_ui(name):
    spec = defs.resolve_assets_def(name).specs_by_key[dg.AssetKey(name)]
    assert spec.description and len(spec.description) > 40
    assert spec.group_name == {"raw_github_repos": "ingest", "stg_repos_validated": "ingest",
                               "trending_report": "reports"}.get(name, "marts")
    assert "postgres" in spec.kinds
    assert spec.owners == ["team:data-engineering"]
    if name != "trending_report":  # a file, not a table
        assert isinstance(spec.metadata["dagster/column_schema"], dg.TableSchema)
    assert "dagster/code_references" in spec.metadata
    assert spec.tags.get("layer")


def test_raw_is_pooled_and_sees_github():
    spec = defs.resolve_assets_def("raw_github_repos").specs_by_key[dg.AssetKey("raw_github_repos")]
    assert "github" in spec.kinds
    assert defs.resolve_assets_def("raw_github_repos").op.pool == "github_api"


def test_momentum_check_is_blocking_and_per_partition():
    [check] = [c for c in defs.asset_checks if c.check_key.name == "momentum_score"]
    spec = check.get_spec_for_check_key(check.check_key)
    assert spec.blocking
    assert spec.partitions_def == defs.resolve_assets_def("fact_repo_snapshots").partitions_def


def test_secrets_are_env_vars_not_values(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secretvalue")
    from trender_assets.definitions import default_resources

    github = default_resources()["github"]
    assert isinstance(github.token, dg.EnvVar) and github.token.env_var_name == "GITHUB_TOKEN"
    assert "ghp_secretvalue" not in repr(github)


def test_schedules_and_sensor_are_on_by_default():
    for name in ("daily_snapshot_schedule", "daily_retention_schedule"):
        assert defs.resolve_schedule_def(name).default_status == dg.DefaultScheduleStatus.RUNNING
    for name in ("trender_automation_sensor", "fact_freshness_sensor", "record_started_runs",
                 "record_succeeded_runs", "record_failed_runs", "record_canceled_runs"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def test_freshness_check_guards_the_facts():
    keys = {key for checks in defs.asset_checks for key in checks.check_keys}
    assert dg.AssetCheckKey(dg.AssetKey("fact_repo_snapshots"), "freshness_check") in keys


def test_daily_schedule_snapshots_that_day_for_all_languages():
    schedule = defs.resolve_schedule_def("daily_snapshot_schedule")
    assert schedule.cron_schedule == "0 14 * * *" and schedule.execution_timezone == "UTC"
    tick = dt.datetime(2026, 11, 21, 14, 0, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def()) as ctx:
        result = schedule.evaluate_tick(ctx)
    [request] = result.run_requests  # one run: the day's categories fetched at once
    assert date_language_partitions.get_partition_keys_in_range(request.partition_key_range) == [
        f"2026-11-21|{lang}" for lang in LANGUAGES]


def test_retention_schedule_measures_from_the_tick_day():
    schedule = defs.resolve_schedule_def("daily_retention_schedule")
    tick = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick) as ctx:
        [request] = schedule.evaluate_tick(ctx).run_requests
    assert request.run_config["ops"]["apply_retention"]["config"]["as_of"] == "2026-11-21"


def test_marts_follow_only_once_all_four_languages_are_in():
    """Declarative automation: nothing after three languages, dim and fact after the fourth."""
    now = dt.datetime.now(dt.timezone.utc)
    today = now.date().isoformat()
    with dg.instance_for_test() as instance:
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
        cursor = result.cursor
        for language in LANGUAGES[:3]:
            for asset in ("raw_github_repos", "stg_repos_validated"):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(asset, partition=str(partition_key_for(today, language))))
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now, cursor=cursor)
        assert result.get_num_requested(dg.AssetKey("dim_repositories")) == 0
        assert result.get_num_requested(dg.AssetKey("fact_repo_snapshots")) == 0
        for asset in ("raw_github_repos", "stg_repos_validated"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset, partition=str(partition_key_for(today, LANGUAGES[3]))))
        result = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=now + dt.timedelta(seconds=30), cursor=result.cursor)
        assert result.get_requested_partitions(dg.AssetKey("dim_repositories")) == {today}
        assert result.get_requested_partitions(dg.AssetKey("fact_repo_snapshots")) == {today}


def test_daily_marts_backfill_a_range_of_days_per_run():
    for name in ("dim_repositories", "fact_repo_snapshots", "trending_report"):
        policy = defs.resolve_assets_def(name).backfill_policy
        assert policy.max_partitions_per_run == 31, name  # a 30-day backfill: one run, not thirty
