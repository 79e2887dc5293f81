"""Retention deletes exactly what has expired, and the UI forgets those partitions."""

from __future__ import annotations

import json
from datetime import date, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.partitions import partition_key_for
from trender_assets.resources import WarehouseResource
from trender_assets.retention import retention_job
from trender_assets.run_records import root_cause
from trender_assets_tests.helpers import rows

AS_OF = date(2026, 11, 20)
DIM_DAYS = 28  # closed versions are kept for less time than facts, so a kept fact can fall in one


def _seed(engine: sa.Engine) -> None:
    """Raw/staging rows 6, 7 and 8 days old; facts 29, 30, 31 days old; dimension versions of
    repository 1 closed 31 days ago (no fact falls in it), 2 closed 29 days ago but a kept fact's
    day (30 days ago) falls in it, 3 closed 27 days ago, and 4 current."""
    with engine.begin() as conn:
        for age in (6, 7, 8):
            day = AS_OF - timedelta(days=age)
            conn.execute(sa.text(
                "insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name,"
                " api_response, fetched_at) values (:d, 'go', 1, :id, 'o/r', '{}'::jsonb, now())"),
                {"d": day, "id": age})
            conn.execute(sa.text(
                "insert into stg_repos_validated (snapshot_date, language, repo_id, repo_full_name, owner_login,"
                " repo_name, stars, created_at, fetched_at) values (:d, 'go', :id, 'o/r', 'o', 'r', 1, now(), now())"),
                {"d": day, "id": age})
        versions = [  # repo_id, valid_from, valid_to
            (1, AS_OF - timedelta(days=60), AS_OF - timedelta(days=31)),
            (1, AS_OF - timedelta(days=31), None),
            (2, AS_OF - timedelta(days=60), AS_OF - timedelta(days=29)),
            (2, AS_OF - timedelta(days=29), None),
            (3, AS_OF - timedelta(days=60), AS_OF - timedelta(days=27)),
            (3, AS_OF - timedelta(days=27), None),
            (4, AS_OF - timedelta(days=60), None),
        ]
        for repo_id, start, end in versions:
            conn.execute(sa.text(
                "insert into dim_repositories (repo_id, repo_full_name, attributes_hash, valid_from, valid_to,"
                " is_current) values (:id, 'o/r', :h, :f, :t, :c)"),
                {"id": repo_id, "h": f"{repo_id}{start}", "f": start, "t": end, "c": end is None})
            conn.execute(sa.text(
                "insert into dim_repository_observations values (:id, :f, :h, cast(:a as jsonb))"),
                {"id": repo_id, "f": start, "h": f"{repo_id}{start}", "a": json.dumps({})})
        for age in (29, 30, 31):
            day = AS_OF - timedelta(days=age)
            conn.execute(sa.text(
                "insert into fact_repo_snapshots_base values (:d, 'go', 4, 'o/r', 1, 0, 0, 1, 1, 1, 1, 1, 1, now())"),
                {"d": day})
        # a fact 30 days old (kept) whose day falls in repository 2's closed version
        conn.execute(sa.text(
            "insert into fact_repo_snapshots_base values (:d, 'python', 2, 'o/r', 1, 0, 0, 1, 1, 1, 1, 1, 1, now())"),
            {"d": AS_OF - timedelta(days=30)})


def _report_materializations(instance: dg.DagsterInstance) -> None:
    for age in (6, 7, 8):
        day = (AS_OF - timedelta(days=age)).isoformat()
        for asset in ("raw_github_repos", "stg_repos_validated"):
            instance.report_runless_asset_event(
                dg.AssetMaterialization(asset, partition=str(partition_key_for(day, "go"))))
    for age in (29, 30, 31):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("fact_repo_snapshots", partition=(AS_OF - timedelta(days=age)).isoformat()))


def _run(instance, database_url, dry_run: bool, as_of: str = AS_OF.isoformat(), **kwargs):
    job = dg.Definitions(jobs=[retention_job],
                         resources={"warehouse": WarehouseResource(database_url=database_url)}
                         ).resolve_job_def("retention_job")
    return job.execute_in_process(
        instance=instance,
        run_config={"ops": {"apply_retention": {"config": {"dry_run": dry_run, "as_of": as_of,
                                                           "dim_days": DIM_DAYS}}}},
        **kwargs,
    )


@pytest.mark.parametrize("dry_run", [True, False])
def test_retention_deletes_exactly_the_expired_rows(engine, database_url, instance, dry_run, tmp_path,
                                                    monkeypatch):
    monkeypatch.setenv("TRENDER_REPORT_DIR", str(tmp_path))
    for age in (29, 30, 31):
        (tmp_path / f"trending-{AS_OF - timedelta(days=age)}.html").write_text("<html></html>")
    _seed(engine)
    _report_materializations(instance)
    before = {t: rows(engine, f"select count(*) as n from {t}")[0]["n"]
              for t in ("raw_github_repos", "dim_repositories", "fact_repo_snapshots")}

    result = _run(instance, database_url, dry_run)
    assert result.success
    assert result.output_for_node("apply_retention") == {
        "raw_github_repos": 1, "stg_repos_validated": 1, "stg_repos_rejected": 0,
        "report_readme_html": 0, "fact_repo_snapshots": 1, "dim_repositories": 1, "dim_repository_observations": 1, "report_files": 1,
        "kept_in_use": [],  # fetch records stay: a run's later step tells deleted rows from none
    }
    [mat] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    metadata = {k: v.value for k, v in mat.event_specific_data.metadata.items()}
    assert metadata["deleted_fact_repo_snapshots"] == 1
    assert metadata["wiped_partitions_raw_github_repos"] == 1
    assert metadata["dry_run"] is dry_run

    raw_partitions = instance.get_materialized_partitions(dg.AssetKey("raw_github_repos"))
    fact_partitions = instance.get_materialized_partitions(dg.AssetKey("fact_repo_snapshots"))
    if dry_run:
        assert {t: rows(engine, f"select count(*) as n from {t}")[0]["n"] for t in before} == before
        assert len(raw_partitions) == 3 and len(fact_partitions) == 3
        assert len(list(tmp_path.glob("*.html"))) == 3
        return
    assert sorted(p.name for p in tmp_path.glob("*.html")) == ["trending-2026-10-21.html", "trending-2026-10-22.html"]
    assert [r["d"] for r in rows(engine, "select snapshot_date::text as d from raw_github_repos order by 1")] == [
        "2026-11-13", "2026-11-14"]  # 8 days old gone, 7 and 6 kept
    assert [r["d"] for r in rows(engine, "select distinct snapshot_date::text as d from fact_repo_snapshots"
                                         " order by 1")] == ["2026-10-21", "2026-10-22"]
    remaining = rows(engine, "select repo_id, valid_to is null as current from dim_repositories order by 1, 2")
    assert remaining == [  # repo 1's old version went; a kept fact falls in 2's; 3's is too recent
        {"repo_id": 1, "current": True}, {"repo_id": 2, "current": False}, {"repo_id": 2, "current": True},
        {"repo_id": 3, "current": False}, {"repo_id": 3, "current": True}, {"repo_id": 4, "current": True}]
    assert rows(engine, "select count(*) as n from dim_repository_observations where repo_id = 1") == [{"n": 1}]
    # the UI no longer claims the deleted partitions
    assert raw_partitions == {"2026-11-13|go", "2026-11-14|go"}
    assert instance.get_materialized_partitions(dg.AssetKey("stg_repos_validated")) == raw_partitions
    assert fact_partitions == {"2026-10-21", "2026-10-22"}


@pytest.mark.parametrize("as_of", ["2026-11-31", "20261120", "2026-W47-5"])
def test_an_as_of_that_is_not_a_date_fails_in_one_line_and_deletes_nothing(engine, database_url, instance,
                                                                          as_of):
    _seed(engine)
    result = _run(instance, database_url, dry_run=False, as_of=as_of, raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert root_cause(failure.event_specific_data.error) == f"invalid as_of {as_of!r}: expected a date as YYYY-MM-DD"
    assert rows(engine, "select count(*) as n from raw_github_repos") == [{"n": 3}]
