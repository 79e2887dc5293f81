"""Every record GitHub answers is accounted for: stored raw and validated, or reported by name.

A watched name that comes to mean another repository is said in the run's line and the raw
metadata; a GraphQL node with an unreadable or impossible ``createdAt`` is stored raw and rejected
with its reason; a count GitHub could not give is null, never 0; and a malformed ``errors`` is one
readable line. Each case runs a category-day through Dagster against the fake GitHub (over HTTP on
127.0.0.1) into the real PostgreSQL, and reads the warehouse and the run's lines back.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from trender_assets import runner
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeRepo
from trender_assets_tests.helpers import definitions, rows

DAY = scenario.DAY


def _ts(days_before: int) -> str:
    return f"{(DAY - timedelta(days=days_before)).isoformat()}T12:00:00Z"


@pytest.fixture(autouse=True)
def _reports(tmp_path, monkeypatch):
    monkeypatch.setenv("TRENDER_REPORT_DIR", str(tmp_path / "reports"))


def run_category(resources: dict, instance, language: str, day: date = DAY) -> runner.DayReport:
    """One category-day as ``trender run`` runs it (ingest, then the marts); its report."""
    return runner.materialize_day(definitions(resources), instance, day, [language], refetch=True,
                                  per_category=True)


def lines(report: runner.DayReport) -> list[str]:
    return [o.line() for o in report.outcomes]


def raw_metadata(report: runner.DayReport) -> dict:
    [mat] = report.results[0].asset_materializations_for_node("raw_github_repos")
    return {k: v.value for k, v in mat.metadata.items()}


# -- a watched name that comes to mean another repository ------------------------------------------------

WATCHING_ORIGINAL = """\
categories:
  python: {watchlist: [watched/original]}
  typescript: {language: TypeScript}
  go: {language: Go}
  render: {root_file: render.yaml, label: Render projects}
"""


def test_a_watched_name_that_now_means_another_repository_is_reported(fake_github, resources, instance, engine,
                                                                       tmp_path, monkeypatch):
    """Day 1 watches A as watched/original. By day 2, A was renamed to watched/moved and a new
    repository B took the old name, so the name answers B (no redirect) and A leaves the day: the
    day-2 line and metadata say so, naming both ids and names."""
    config = tmp_path / "trender.yaml"
    config.write_text(WATCHING_ORIGINAL)
    monkeypatch.setenv("TRENDER_CONFIG", str(config))
    before = DAY - timedelta(days=1)
    fake_github.add_repo(FakeRepo(901, "watched/original", "Python", 500, _ts(300), _ts(2)))
    day1 = run_category(resources, instance, "python", before)
    assert day1.succeeded, lines(day1)

    fake_github.rename(901, "watched/moved")
    fake_github.add_repo(FakeRepo(902, "watched/original", "Python", 3, _ts(0), _ts(0)))
    day2 = run_category(resources, instance, "python")
    assert day2.succeeded, lines(day2)

    [line] = [line for line in lines(day2) if "raw_github_repos" in line]
    assert (f"watched/original now means repository 902, not 901 as stored on {before}"
            " (901 is now watched/moved, not fetched)") in line, line
    meta = raw_metadata(day2)
    assert meta["watchlist_name_now_means_another_repository"] == {"watched/original": {
        "repository_id": 902, "full_name": "watched/original",
        "before": {"repository_id": 901, "full_name": "watched/original", "stored_on": before.isoformat(),
                   "now": "watched/moved", "in_the_day": False}}}
    assert meta["watchlist_renamed"] == {}
    assert fake_github.count("/repositories/901") == 1  # where the earlier one went, asked by its id
    stored = rows(engine, "select snapshot_date, repo_id, repo_full_name from raw_github_repos"
                          " order by snapshot_date")
    assert [tuple(r.values()) for r in stored] == [(before, 901, "watched/original"), (DAY, 902, "watched/original")]


def test_two_watched_names_of_one_repository_are_reported(fake_github, resources, instance, engine, tmp_path,
                                                         monkeypatch):
    """An old and a new name of one repository are kept once, and the line says they are one."""
    config = tmp_path / "trender.yaml"
    config.write_text(WATCHING_ORIGINAL.replace("[watched/original]", "[alpha/snake, alpha-org/snake-renamed]"))
    monkeypatch.setenv("TRENDER_CONFIG", str(config))
    fake_github.rename(101, "alpha-org/snake-renamed")
    report = run_category(resources, instance, "python")
    assert report.succeeded, lines(report)
    [line] = [line for line in lines(report) if "raw_github_repos" in line]
    assert "alpha/snake and alpha-org/snake-renamed are one repository, 101 (kept once)" in line, line
    meta = raw_metadata(report)
    assert meta["watchlist_one_repository_under_several_names"] == {"101": ["alpha/snake", "alpha-org/snake-renamed"]}
    assert [r["repo_id"] for r in rows(engine, "select repo_id from raw_github_repos")] == [101]


# -- GraphQL look-ups: every node accounted for ------------------------------------------------------------

RENDER_IDS = scenario.EXPECTED["render"]


def test_a_node_without_a_readable_or_possible_created_at_is_stored_raw_and_rejected(fake_github, resources,
                                                                                     instance, engine):
    """Search items with a bad date are stored and rejected with the reason; a looked-up node is too
    (it used to be left out of the day silently)."""
    fake_github.add_repo(FakeRepo(410, "render/undated", None, 60, "not a date", _ts(1), render_yaml=True))
    fake_github.add_repo(FakeRepo(411, "render/future", None, 70, "2099-01-01T00:00:00Z", _ts(1), render_yaml=True))
    report = run_category(resources, instance, "render")
    assert report.succeeded, lines(report)

    raw = {r["repo_full_name"]: r for r in rows(
        engine, "select repo_id, repo_full_name, api_source, api_response from raw_github_repos")}
    assert {raw[n]["repo_id"] for n in ("render/undated", "render/future")} == {410, 411}
    assert raw["render/undated"]["api_response"]["created_at"] == "not a date"
    assert {r["api_source"] for r in raw.values()} == {"graphql"}
    rejected = {r["repo_full_name"]: r["reason"] for r in rows(engine, "select repo_full_name, reason"
                                                                      " from stg_repos_rejected")}
    assert rejected == {
        "render/undated": "created_at is not an ISO 8601 timestamp: 'not a date'",
        "render/future": f"created_at 2099-01-01T00:00:00+00:00 is after the snapshot day {DAY}",
    }
    assert {r["repo_id"] for r in rows(engine, "select repo_id from stg_repos_validated")} == RENDER_IDS
    assert raw_metadata(report)["render_unusable_created_at"] == 2


def test_an_open_issue_count_github_could_not_give_is_null_not_zero(fake_github, resources, instance, engine):
    """A partial error on ``openIssues`` (the node comes, the field is null beside an error): the
    count is unknown, so staging and the facts hold null, while a real 0 stays 0."""
    fake_github.add_repo(FakeRepo(420, "render/busy", None, 80, _ts(9), _ts(1), render_yaml=True, open_issues=5,
                                  failing_fields={"issues": "Something went wrong while executing your query."}))
    report = run_category(resources, instance, "render")
    assert report.succeeded, lines(report)

    [raw] = rows(engine, "select api_response from raw_github_repos where repo_id = 420")
    assert raw["api_response"]["open_issues_count"] is None
    staged = {r["repo_id"]: r["open_issues"] for r in rows(engine, "select repo_id, open_issues"
                                                                   " from stg_repos_validated")}
    assert staged == {420: None, **{i: 0 for i in RENDER_IDS}}
    facts = {r["repo_id"]: r["open_issues"] for r in rows(engine, "select repo_id, open_issues"
                                                                  " from fact_repo_snapshots")}
    assert facts == staged
    assert raw_metadata(report)["render_fields_github_could_not_give"] == {"openIssues": 1}


@pytest.mark.parametrize("errors", [5, {"message": "oops"}, "oops"])
def test_graphql_errors_that_are_not_a_list_are_retried_then_one_line(fake_github, resources, instance, engine,
                                                                       errors):
    """``errors`` must be a list: any other shape is an unusable answer, retried like a truncated
    body, and if it stays so the category fails with one line (never a TypeError)."""
    body = {"data": {"nodes": [None] * 4}, "errors": errors}  # the four render roots, unusable
    fake_github.fail_next("/graphql", 200, count=1, body=body)
    report = run_category(resources, instance, "render")
    assert report.succeeded, lines(report)
    assert {r["repo_id"] for r in rows(engine, "select repo_id from stg_repos_validated")} == RENDER_IDS

    fake_github.fail_next("/graphql", 200, count=5, body=body)
    report = run_category(resources, instance, "render")
    failed = [line for line in lines(report) if line.startswith("FAIL")]
    assert failed[0].split()[:3] == ["FAIL", "raw_github_repos", f"{DAY}|render"]
    assert failed[0].endswith("GitHub kept sending errors that are not a list for repository look-up"
                              " of 4 node ids"), failed
    assert "TypeError" not in "\n".join(lines(report))
    assert fake_github.count("/graphql") == 2 + 5
