"""SCD type 2: versions come from observation dates, and the warehouse keeps one current version."""

from __future__ import annotations

from datetime import date

import dagster as dg

from trender_assets.assets.marts import dim_repositories
from trender_assets.logic.scd2 import Observation, attributes_hash, build_versions
from trender_assets.partitions import partition_key_for
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.helpers import INGEST, materialize_day, rows


def _obs(day: int, description: str) -> Observation:
    attrs = {"repo_full_name": "o/r", "description": description}
    return Observation(date(2026, 11, day), attributes_hash(attrs), attrs)


def test_consecutive_identical_observations_collapse():
    versions = build_versions([_obs(1, "a"), _obs(2, "a"), _obs(3, "b"), _obs(4, "b"), _obs(5, "a")])
    assert [(v.valid_from.day, v.valid_to.day if v.valid_to else None, v.attributes["description"])
            for v in versions] == [(1, 3, "a"), (3, 5, "b"), (5, None, "a")]
    assert [v.is_current for v in versions] == [False, False, True]


def test_arrival_order_does_not_matter():
    observations = [_obs(3, "b"), _obs(1, "a"), _obs(5, "a"), _obs(2, "a"), _obs(4, "b")]
    assert build_versions(observations) == build_versions(sorted(observations, key=lambda o: o.snapshot_date))


def test_hash_ignores_topic_order_and_untracked_fields():
    a = {"repo_full_name": "o/r", "topics": ["x", "y"], "html_url": "u1"}
    b = {"repo_full_name": "o/r", "topics": ["y", "x"], "html_url": "u2"}
    assert attributes_hash(a) == attributes_hash(b)
    assert attributes_hash(a) != attributes_hash({**a, "readme_sha": "abc"})


def test_description_change_opens_a_version_and_facts_keep_theirs(fake_github, database_url, engine,
                                                                    instance, monkeypatch):
    """Day 1, then day 3 with a new description, then a late backfill of day 2 (old description)."""
    monkeypatch.setenv("TRENDER_NOW", "2026-11-22T15:00:00Z")
    resources = make_resources(fake_github, database_url)
    day1, day2, day3 = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)
    assert all(r.success for r in materialize_day(resources, instance, day1, languages=["go"]))
    fake_github._repos[302].description = "now with a description"  # gopher/cli
    assert all(r.success for r in materialize_day(resources, instance, day3, languages=["go"]))
    fake_github._repos[302].description = None
    assert all(r.success for r in materialize_day(resources, instance, day2, languages=["go"]))

    versions = rows(engine, "select repo_key, description, valid_from::text, valid_to::text, is_current"
                            " from dim_repositories where repo_id = 302 order by valid_from")
    assert [(v["description"], v["valid_from"], v["valid_to"], v["is_current"]) for v in versions] == [
        (None, "2026-11-18", "2026-11-20", False),
        ("now with a description", "2026-11-20", None, True),
    ]
    facts = rows(engine, "select snapshot_date::text as d, repo_key from fact_repo_snapshots where repo_id = 302"
                         " order by 1")
    assert [f["repo_key"] for f in facts] == [versions[0]["repo_key"]] * 2 + [versions[1]["repo_key"]]
    unchanged = rows(engine, "select count(*) as n from dim_repositories where repo_id = 301")
    assert unchanged == [{"n": 1}]
    assert rows(engine, "select count(*) as n from (select repo_id from dim_repositories where is_current"
                        " group by repo_id having count(*) > 1) x") == [{"n": 0}]
    described = rows(engine, "select f.snapshot_date::text as d, v.description from fact_repo_snapshots f"
                             " join dim_repositories v on v.repo_key = f.repo_key where f.repo_id = 302 order by 1")
    assert described == [{"d": "2026-11-18", "description": None}, {"d": "2026-11-19", "description": None},
                         {"d": "2026-11-20", "description": "now with a description"}]


def test_a_dimension_run_for_one_day_changes_no_fact_of_another_day(fake_github, database_url, engine,
                                                                    instance, monkeypatch):
    """Days 1 and 3 share one version; a late day 2 with another description splits it, so day 3's
    facts now fall in a new version. The dimension run writes only the dimension: every stored fact
    row of days 1 and 3 is untouched (even its load time), no fact materialization is recorded,
    and the facts' view still finds the version valid on each day."""
    monkeypatch.setenv("TRENDER_NOW", "2026-11-22T15:00:00Z")
    resources = make_resources(fake_github, database_url)
    day1, day2, day3 = date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)
    for day in (day1, day3):
        assert all(r.success for r in materialize_day(resources, instance, day, languages=["go"]))
    stored = rows(engine, "select * from fact_repo_snapshots_base order by snapshot_date, language, repo_id")
    assert {r["snapshot_date"] for r in stored} == {day1, day3}
    [before] = rows(engine, "select repo_key from fact_repo_snapshots where repo_id = 302 and snapshot_date = :d",
                    d=day3)

    fake_github._repos[302].description = "for a day"
    assert dg.materialize(INGEST, partition_key=partition_key_for(day2.isoformat(), "go"), resources=resources,
                          instance=instance).success
    assert dg.materialize([dim_repositories], partition_key=day2.isoformat(), resources=resources,
                          instance=instance).success

    assert rows(engine, "select * from fact_repo_snapshots_base order by snapshot_date, language, repo_id") == stored
    assert instance.get_materialized_partitions(dg.AssetKey("fact_repo_snapshots")) == {
        day1.isoformat(), day3.isoformat()}
    seen = rows(engine, "select f.snapshot_date, f.repo_key, v.valid_from, v.valid_to, v.description"
                        " from fact_repo_snapshots f join dim_repositories v on v.repo_key = f.repo_key"
                        " where f.repo_id = 302 order by 1")
    assert [(r["snapshot_date"], r["valid_from"], r["valid_to"], r["description"]) for r in seen] == [
        (day1, day1, day2, None), (day3, day3, None, None)]
    assert seen[1]["repo_key"] != before["repo_key"]  # day 3's version was split off; the view follows
