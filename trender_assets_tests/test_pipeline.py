"""A day end to end through the assets: warehouse contents against what the fake GitHub serves."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.logic.scoring import ScoringParams, momentum_score, recency_score
from trender_assets_tests import scenario
from trender_assets_tests.helpers import INGEST, MARTS, ids_by_language, materialize_day, rows, warehouse_dump

DAY = scenario.DAY


def test_day_loads_every_layer_with_what_github_served(resources, instance, engine, fake_github):
    results = materialize_day(resources, instance, DAY)
    assert all(r.success for r in results)

    assert ids_by_language(engine, "stg_repos_validated", DAY) == scenario.EXPECTED
    assert ids_by_language(engine, "fact_repo_snapshots", DAY) == scenario.EXPECTED

    # the malformed search item is kept raw and rejected with its reason; the rest proceeded
    raw_ids = {r["repo_id"] for r in rows(engine, "select repo_id from raw_github_repos where language='python'")}
    assert 999 in raw_ids
    assert rows(engine, "select repo_id, reason from stg_repos_rejected") == [
        {"repo_id": 999, "reason": "missing created_at"}]

    # READMEs: any name, a 404 is "no README", and the full JSON is stored as jsonb
    readmes = {r["repo_full_name"]: r for r in rows(
        engine, "select repo_full_name, readme_content, readme_path, api_response->>'full_name' as json_name"
                " from raw_github_repos where repo_id is not null")}
    assert readmes["gamma/notebook"]["readme_content"] is None
    assert readmes["web/ui-kit"]["readme_path"] == "readme.markdown"
    assert readmes["alpha/snake"]["readme_content"] == "# readme"
    assert all(r["json_name"] == name for name, r in readmes.items())

    # NUL bytes are stripped, timestamps are UTC
    [nul] = rows(engine, "select description, created_at from stg_repos_validated where repo_id = 104")
    assert nul["description"] == "has a  nul"
    assert nul["created_at"] == datetime(2026, 11, 15, 12, tzinfo=timezone.utc)  # GitHub's ...T12:00:00Z

    # a repository found by two searches appears in both categories, with one dimension version
    both = rows(engine, "select language, rank_in_language from fact_repo_snapshots where repo_id = 105"
                        " order by language")
    assert [b["language"] for b in both] == ["python", "render"]
    assert rows(engine, "select language, is_current from dim_repositories where repo_id = 105") == [
        {"language": "Python", "is_current": True}]
    [[count]] = [[r["n"]] for r in rows(engine, "select count(distinct repo_id) as n from dim_repositories")]
    assert count == len(set().union(*scenario.EXPECTED.values()))

    # Dagster recorded every partition and a passing, per-partition check
    assert instance.get_materialized_partitions(dg.AssetKey("raw_github_repos")) == {
        f"{DAY}|{lang}" for lang in ("python", "typescript", "go", "render")}
    assert instance.get_materialized_partitions(dg.AssetKey("fact_repo_snapshots")) == {DAY.isoformat()}
    [evaluation] = results[-1].get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed, evaluation.partition) == ("momentum_score", True, "2026-11-20")


def test_momentum_and_ranks_follow_the_formula(resources, instance, engine):
    materialize_day(resources, instance, DAY)
    facts = {(r["language"], r["repo_full_name"]): r for r in rows(engine, "select * from fact_repo_snapshots")}
    snake = facts[("python", "alpha/snake")]  # 10 days old, 900 of max 1500 stars
    assert snake["age_days"] == 10
    assert snake["recency_score"] == 1.0
    assert snake["normalized_stars"] == pytest.approx(900 / 1500, abs=0)
    assert snake["momentum_score"] == 0.7 * 1.0 + 0.3 * (900 / 1500)
    notebook = facts[("python", "gamma/notebook")]  # 100 days old
    assert notebook["recency_score"] == 0.5 ** ((100 - 14) / 62)
    # ranks are by momentum, 1 = best, dense within each category and overall
    for language in scenario.EXPECTED:
        ordered = sorted((r for r in facts.values() if r["language"] == language),
                         key=lambda r: r["rank_in_language"])
        assert [r["rank_in_language"] for r in ordered] == list(range(1, len(ordered) + 1))
        assert [r["momentum_score"] for r in ordered] == sorted((r["momentum_score"] for r in ordered), reverse=True)
        assert max(r["normalized_stars"] for r in ordered) == 1.0
    overall = sorted(facts.values(), key=lambda r: r["rank_overall"])
    assert [r["rank_overall"] for r in overall] == list(range(1, len(facts) + 1))
    assert [r["momentum_score"] for r in overall] == sorted((r["momentum_score"] for r in overall), reverse=True)


def test_rematerializing_gives_identical_tables(resources, instance, engine, fake_github):
    materialize_day(resources, instance, DAY)
    first = warehouse_dump(engine)
    requests_after_first = len(fake_github.requests)

    materialize_day(resources, instance, DAY)  # raw is reused: GitHub is not called
    assert warehouse_dump(engine) == first
    assert len(fake_github.requests) == requests_after_first

    materialize_day(resources, instance, DAY, refetch=True)  # asked again: same answers, same tables
    assert warehouse_dump(engine) == first
    assert len(fake_github.requests) > requests_after_first


def test_a_failed_fetch_leaves_the_stored_partition_untouched(resources, instance, engine, fake_github):
    materialize_day(resources, instance, DAY, languages=["go"])
    before = warehouse_dump(engine)["raw_github_repos"]
    fake_github.fail_next("/search/repositories", 503, count=50)
    [result, *_] = materialize_day(resources, instance, DAY, languages=["go"], refetch=True)
    assert not result.success
    assert warehouse_dump(engine)["raw_github_repos"] == before


def test_check_fails_on_corrupted_facts_with_counts(resources, instance, engine):
    from trender_assets.checks import momentum_score as check

    materialize_day(resources, instance, DAY)
    with engine.begin() as conn:
        conn.execute(sa.text("update fact_repo_snapshots_base set momentum_score = 1.5 where repo_id = 101"))
        conn.execute(sa.text("update fact_repo_snapshots_base set momentum_score = 'NaN' where repo_id = 201"))
        conn.execute(sa.text("update fact_repo_snapshots_base set normalized_stars = 0.5, momentum_score = 0.85"
                             " where repo_id = 301"))  # go's top star count no longer normalizes to 1
    defs = dg.Definitions(
        assets=[*INGEST, *MARTS[:2]],
        asset_checks=[check],
        jobs=[dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(check))],
        resources=resources,
    )
    result = defs.resolve_job_def("check_only").execute_in_process(
        instance=instance, tags={"dagster/partition": DAY.isoformat()}, raise_on_error=False)
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.partition == DAY.isoformat()
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta["out_of_range"] == 1
    assert meta["null_scores"] == 1
    assert meta["recompute_mismatch"] == 2  # 101 (1.5) and 301 (normalized 0.5 instead of 1)
    assert meta["categories_without_top_1"] == 1
    assert meta["duplicate_rows"] == 0


@pytest.mark.parametrize(
    "age_days, stars, max_stars, expected",
    [
        (0, 100, 100, 1.0),                                   # brand new and the most starred
        (14, 50, 100, 0.7 + 0.15),                            # last day of full recency
        (15, 0, 100, 0.7 * 0.5 ** (1 / 62)),                  # decay starts after day 14
        (76, 100, 100, 0.7 * 0.5 + 0.3),                      # one half-life after day 14
        (138, 0, 100, 0.7 * 0.25),                            # two half-lives
        (10_000, 10, 100, 0.7 * 0.01 + 0.03),                 # floor at 0.01
        (5, 0, 0, 0.7),                                       # no stars anywhere: normalized is 0
    ],
)
def test_momentum_formula(age_days, stars, max_stars, expected):
    params = ScoringParams()
    recency = recency_score(age_days, params)
    normalized = stars / max_stars if max_stars else 0.0
    assert momentum_score(recency, normalized, params) == pytest.approx(expected, rel=1e-12)
    assert 0.0 <= momentum_score(recency, normalized, params) <= 1.0


def test_scoring_parameters_are_configurable():
    params = ScoringParams(recency_weight=0.5, stars_weight=0.5, full_days=7, half_life_days=30, floor=0.1)
    assert recency_score(7, params) == 1.0
    assert recency_score(37, params) == pytest.approx(0.5)
    assert recency_score(10_000, params) == 0.1
    with pytest.raises(ValueError):
        ScoringParams(recency_weight=0.9, stars_weight=0.3)


def test_a_range_run_checks_each_day_on_its_own(resources, instance, engine):
    """A backfill's range run evaluates the blocking check per day: a corrupted day fails, named by
    its partition and its counts; the clean day beside it passes."""
    from trender_assets.checks import momentum_score as check

    day_before = DAY - timedelta(days=1)
    for day in (day_before, DAY):
        assert all(r.success for r in materialize_day(resources, instance, day))
    with engine.begin() as conn:
        conn.execute(sa.text("update fact_repo_snapshots_base set momentum_score = 1.5"
                             " where repo_id = 101 and snapshot_date = :d"), {"d": DAY})
    defs = dg.Definitions(assets=[*INGEST, *MARTS[:2]], asset_checks=[check], resources=resources,
                          jobs=[dg.define_asset_job("check_only", selection=dg.AssetSelection.checks(check))])
    result = defs.resolve_job_def("check_only").execute_in_process(instance=instance, raise_on_error=False, tags={
        "dagster/asset_partition_range_start": day_before.isoformat(),
        "dagster/asset_partition_range_end": DAY.isoformat()})
    assert not result.success  # blocking: what follows the check in the run does not run
    evaluations = {e.partition: e for e in result.get_asset_check_evaluations()}
    assert {key: e.passed for key, e in evaluations.items()} == {day_before.isoformat(): True, DAY.isoformat(): False}
    failed = {k: v.value for k, v in evaluations[DAY.isoformat()].metadata.items()}
    assert failed["out_of_range"] == 1 and failed["recompute_mismatch"] == 1 and failed["rows_checked"] > 0
    assert all(e.blocking for e in evaluations.values())
