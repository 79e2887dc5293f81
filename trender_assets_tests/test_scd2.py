"""SCD type 2: versions come from observation dates, and the warehouse keeps one current version."""

from __future__ import annotations

from datetime import date

from trender_assets.logic.scd2 import Observation, attributes_hash, build_versions
from trender_assets_tests import scenario
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.helpers import materialize_day, rows


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
    assert scenario.DAY == day3
