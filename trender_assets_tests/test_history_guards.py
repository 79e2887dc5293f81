"""Re-runs and retention never rewrite history (issue 8, section 4).

A day whose raw and staging data retention deleted keeps its facts: re-materializing its marts
changes nothing and fails with one reason, and ``trender run`` refuses to re-fetch today's stars
into it unless asked. A refetch never shrinks a stored partition without an explicit flag.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.assets.marts import fact_repo_snapshots
from trender_assets.partitions import partition_key_for
from trender_assets.resources import WarehouseResource
from trender_assets.retention import retention_job
from trender_assets_tests import scenario
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.helpers import INGEST, MARTS, materialize_day, rows, trender, warehouse_dump

DAY = scenario.DAY
AFTER_RAW_RETENTION = DAY + timedelta(days=10)  # raw and staging (7 days) gone, facts (30 days) kept


def _apply_retention(instance, database_url, as_of=AFTER_RAW_RETENTION) -> None:
    job = dg.Definitions(jobs=[retention_job], resources={"warehouse": WarehouseResource(database_url=database_url)}
                         ).resolve_job_def("retention_job")
    result = job.execute_in_process(instance=instance, run_config={
        "ops": {"apply_retention": {"config": {"as_of": as_of.isoformat()}}}})
    assert result.success


def _failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.event_specific_data.error.message for e in result.all_events
            if e.event_type == dg.DagsterEventType.STEP_FAILURE]


@pytest.fixture
def expired_day(resources, instance, engine, database_url):
    """A full day loaded, then retention as of ten days later: facts and observations kept."""
    assert all(r.success for r in materialize_day(resources, instance, DAY))
    _apply_retention(instance, database_url)
    assert rows(engine, "select count(*) as n from raw_github_repos")[0]["n"] == 0
    assert rows(engine, "select count(*) as n from stg_repos_validated")[0]["n"] == 0
    facts = rows(engine, "select count(*) as n from fact_repo_snapshots")[0]["n"]
    assert facts == sum(len(ids) for ids in scenario.EXPECTED.values())
    return warehouse_dump(engine)


def test_mart_run_of_an_expired_day_changes_nothing_and_says_why(expired_day, resources, instance, engine):
    result = dg.materialize(MARTS, partition_key=DAY.isoformat(), resources=resources, instance=instance,
                            raise_on_error=False)
    assert not result.success
    [message] = {m for m in _failure_messages(result)}
    assert "deleted by retention" in message and "nothing was changed" in message
    assert warehouse_dump(engine) == expired_day  # facts and observations exactly as retention left them


def _mart_range(resources, instance, first, last, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(MARTS, resources=resources, instance=instance, raise_on_error=False, selection=selection,
                          tags={"dagster/asset_partition_range_start": first.isoformat(),
                                "dagster/asset_partition_range_end": last.isoformat()})


def test_a_range_run_fails_its_expired_day_with_the_reason_and_writes_the_others(resources, instance, engine,
                                                                                  database_url):
    """A backfill's mart run over days of which retention deleted one's raw data: that day fails
    with its reason and keeps what it had; the day beside it is still written by each mart."""
    expired, kept = DAY - timedelta(days=5), DAY - timedelta(days=4)  # one range of two days
    for day in (expired, kept):
        assert all(r.success for r in materialize_day(resources, instance, day))
    _apply_retention(instance, database_url, as_of=DAY + timedelta(days=3))  # raw cut: DAY - 4
    staged = rows(engine, "select distinct snapshot_date from stg_repos_validated")
    assert [r["snapshot_date"] for r in staged] == [kept]
    observed_on = "select repo_id, attributes_hash from dim_repository_observations where snapshot_date = :d order by 1"
    facts_on = "select repo_id, language, momentum_score from fact_repo_snapshots where snapshot_date = :d order by 1, 2"
    before = {day: (rows(engine, observed_on, d=day), rows(engine, facts_on, d=day)) for day in (expired, kept)}
    assert all(observed and facts for observed, facts in before.values())

    def expect_expired_day_alone_failed(result, asset):
        assert not result.success
        [message] = [m for m in _failure_messages(result) if f"partitions of {asset} failed" in m]
        assert f"1 of 2 partitions of {asset} failed: {expired.isoformat()}: " in message
        assert "deleted by retention" in message and f"{kept.isoformat()}:" not in message

    with engine.begin() as conn:  # so each mart must write the kept day again
        conn.execute(sa.text("delete from fact_repo_snapshots_base where snapshot_date = :d"), {"d": kept})
        conn.execute(sa.text("delete from dim_repository_observations where snapshot_date = :d"), {"d": kept})
    both = _mart_range(resources, instance, expired, kept)
    expect_expired_day_alone_failed(both, "dim_repositories")
    assert rows(engine, observed_on, d=kept) == before[kept][0]  # the kept day's dimension is written
    assert rows(engine, facts_on, d=kept) == []  # the facts step, after a failed step, does not run

    facts_alone = _mart_range(resources, instance, expired, kept, selection=[fact_repo_snapshots])
    expect_expired_day_alone_failed(facts_alone, "fact_repo_snapshots")
    assert rows(engine, facts_on, d=kept) == before[kept][1]
    assert (rows(engine, observed_on, d=expired), rows(engine, facts_on, d=expired)) == before[expired]


def test_staging_run_of_an_expired_partition_fails_and_writes_nothing(expired_day, resources, instance, engine):
    key = partition_key_for(DAY.isoformat(), "python")
    result = dg.materialize([INGEST[1]], partition_key=key, resources=resources, instance=instance,
                            raise_on_error=False, selection=[INGEST[1]])
    assert not result.success
    assert any("deleted by retention" in m for m in _failure_messages(result))
    assert warehouse_dump(engine) == expired_day


def test_raw_run_of_an_expired_day_refuses_to_refetch_unless_asked(expired_day, resources, instance, engine,
                                                                    fake_github):
    key = partition_key_for(DAY.isoformat(), "go")
    before = len(fake_github.requests)
    refused = dg.materialize(INGEST, partition_key=key, resources=resources, instance=instance,
                             raise_on_error=False)
    assert not refused.success
    assert any("today's star counts" in m and "refetch" in m for m in _failure_messages(refused))
    assert len(fake_github.requests) == before  # GitHub was not asked
    assert warehouse_dump(engine) == expired_day

    asked = dg.materialize(INGEST, partition_key=key, resources=resources, instance=instance,
                           run_config={"ops": {"raw_github_repos": {"config": {"refetch": True}}}})
    assert asked.success
    assert {r["repo_id"] for r in rows(engine, "select repo_id from stg_repos_validated")} == scenario.EXPECTED["go"]


def _check_alone(resources, instance):
    defs = dg.Definitions(assets=[*INGEST, *MARTS[:2]], asset_checks=[MARTS[2]], resources=resources,
                          jobs=[dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(MARTS[2]))])
    result = defs.resolve_job_def("check_only").execute_in_process(
        instance=instance, tags={"dagster/partition": DAY.isoformat()}, raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_check_fails_when_a_staged_category_has_no_facts(resources, instance, engine):
    assert all(r.success for r in materialize_day(resources, instance, DAY))
    with engine.begin() as conn:
        conn.exec_driver_sql("delete from fact_repo_snapshots_base where language = 'go'")
    evaluation = _check_alone(resources, instance)
    assert not evaluation.passed
    assert evaluation.metadata["categories_without_facts"].value == 1
    assert evaluation.metadata["unranked_categories"].value == "go"

    with engine.begin() as conn:  # and a day with no facts at all, although staged, fails too
        conn.exec_driver_sql("delete from fact_repo_snapshots_base")
    evaluation = _check_alone(resources, instance)
    assert not evaluation.passed
    assert evaluation.metadata["rows_checked"].value == 0
    assert evaluation.metadata["categories_without_facts"].value == len(scenario.EXPECTED)


def test_anonymous_refetch_never_shrinks_a_stored_partition(resources, instance, engine, fake_github,
                                                           database_url):
    assert all(r.success for r in materialize_day(resources, instance, DAY, languages=["python"]))
    stored = warehouse_dump(engine)["raw_github_repos"]
    assert len(stored) == 6  # five repositories and the malformed item

    anonymous = make_resources(fake_github, database_url, token=None)
    fake_github.token = None  # GitHub answers anonymous requests too, within lower limits
    refused = materialize_day(anonymous, instance, DAY, languages=["python"], refetch=True)
    assert not refused[0].success
    assert any("without a token" in m and "at most 5" in m for m in _failure_messages(refused[0]))
    assert warehouse_dump(engine)["raw_github_repos"] == stored

    # render is skipped without a token: a refetch keeps the stored render partition
    assert all(r.success for r in materialize_day(resources, instance, DAY, languages=["render"]))
    render_before = rows(engine, "select repo_id from raw_github_repos where language = 'render' order by 1")
    skipped = materialize_day(anonymous, instance, DAY, languages=["render"], refetch=True)
    assert skipped[0].success
    assert rows(engine, "select repo_id from raw_github_repos where language = 'render' order by 1") == render_before

    allowed = dg.materialize(INGEST, partition_key=partition_key_for(DAY.isoformat(), "python"),
                             resources=anonymous, instance=instance,
                             run_config={"ops": {"raw_github_repos": {"config": {"refetch": True,
                                                                                 "allow_smaller": True}}}})
    assert allowed.success
    assert rows(engine, "select count(*) as n from raw_github_repos where language = 'python'")[0]["n"] == 5


def test_cli_refuses_an_expired_day_in_one_line_and_refetch_rebuilds_it(cli_env, engine, fake_github):
    assert trender(cli_env, "run", "--date", DAY.isoformat()).returncode == 0
    env = {**cli_env, "TRENDER_NOW": f"{AFTER_RAW_RETENTION.isoformat()}T15:00:00Z"}
    assert trender(env, "retention").returncode == 0
    before, requests = warehouse_dump(engine), len(fake_github.requests)

    refused = trender(env, "run", "--date", DAY.isoformat())
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("trender: error: the raw data of 2026-11-20") and "--refetch" in line
    assert warehouse_dump(engine) == before
    assert len(fake_github.requests) == requests

    rebuilt = trender(env, "run", "--date", DAY.isoformat(), "--refetch")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "star counts are as of" not in rebuilt.stderr
    facts = rows(engine, "select count(*) as n from fact_repo_snapshots where snapshot_date = :d", d=DAY)[0]["n"]
    assert facts == sum(len(ids) for ids in scenario.EXPECTED.values())


def test_anonymous_day_says_that_refetch_gives_the_full_size(cli_env, engine, fake_github):
    anonymous = {k: v for k, v in cli_env.items() if k != "GITHUB_TOKEN"}
    fake_github.token = None
    first = trender(anonymous, "run", "--date", DAY.isoformat(), "--language", "go")
    assert first.returncode == 0, first.stdout + first.stderr

    with_token = trender(cli_env, "run", "--date", DAY.isoformat(), "--language", "go")
    assert with_token.returncode == 0
    [raw_line] = [line for line in with_token.stdout.splitlines() if "raw_github_repos" in line]
    assert "reused stored raw data" in raw_line
    assert "fetched without a token (up to 5 repositories); --refetch asks GitHub again for the full 25" in raw_line
