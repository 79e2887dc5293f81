"""Which repositories a day keeps, decided from what GitHub answered (``logic.discovery``): pure
functions, no HTTP and no Dagster."""

from __future__ import annotations

from datetime import date

from trender_assets.logic.discovery import (
    created_qualifier,
    created_window,
    language_query,
    most_starred,
    render_projects,
    repository_id,
    root_hits,
)

DAY = date(2026, 11, 20)


def repo(repo_id, stars, created="2026-11-01T00:00:00Z", **extra) -> dict:
    return {"id": repo_id, "stargazers_count": stars, "created_at": created, **extra}


def test_questions_are_anchored_to_the_day():
    assert language_query("Python", DAY) == "language:Python pushed:>=2026-10-21"
    since, until = created_window(DAY, 180)
    assert (since, until) == (date(2026, 5, 24), DAY)
    assert created_qualifier(since, until) == "created:2026-05-24..2026-11-20"


def test_a_repository_id_is_a_whole_number_or_nothing():
    assert [repository_id(x) for x in ({"id": 7}, {"id": True}, {"id": "7"}, {"id": 7.0}, {}, [], None)] == [
        7, None, None, None, None, None, None]


def test_one_search_window_keeps_githubs_own_ranking():
    """GitHub sorted the one window by stars; its order (ties included) is the day's."""
    window = [repo(3, 50), repo(1, 50), repo(2, 40), {"full_name": "no/id"}]
    assert most_starred([window], 3) == window[:3]
    assert most_starred([window], 10) == window


def test_split_windows_are_merged_by_stars_each_repository_once():
    """Windows of a split query overlap in ranking, not in repositories; a repository sent twice
    (pages shift) counts once, ties are broken by id, records without an id come last for staging."""
    older = [repo(10, 900), repo(11, 300), {"full_name": "broken/one"}]
    newer = [repo(20, 500), repo(10, 901), repo(21, 300), repo(22, "many")]
    merged = most_starred([older, newer], 10)
    assert [r.get("id") for r in merged] == [10, 20, 11, 21, 22, None]
    assert merged[0]["stargazers_count"] == 900  # the first answer for a repository is kept
    assert [r.get("id") for r in most_starred([older, newer], 3)] == [10, 20, 11]


def test_render_hits_are_root_files_each_repository_once():
    hits = [
        {"path": "render.yaml", "repository": {"node_id": "A"}},
        {"path": "infra/render.yaml", "repository": {"node_id": "B"}},  # not at the root
        {"path": "render.yaml", "repository": {"node_id": "C"}},
        {"path": "render.yaml", "repository": {"node_id": "A"}},  # a second hit of A
        {"path": "render.yaml", "repository": {"id": 5}},  # cannot be looked up
        {"path": "render.yaml"}, "not a hit",
    ]
    roots = root_hits(hits, "render.yaml")
    assert roots.node_ids == ["A", "C"]
    assert roots.without_node_id == 1


def test_render_projects_are_the_young_ones_ranked_by_stars():
    since, until = created_window(DAY, 548)
    repos = [
        repo(1, 10, "2026-11-20T23:59:59Z"),  # created on the day itself: in
        repo(2, 99, "2026-11-21T00:00:00Z"),  # after the day: out
        repo(3, 50, f"{since}T00:00:00Z"),  # on the first day of the window: in
        repo(4, 70, "2025-05-20T00:00:00Z"),  # before the window: out
        repo(5, 50, "2026-01-01T00:00:00Z"),
        repo(5, 50, "2026-01-01T00:00:00Z"),  # looked up twice
        repo(6, 80, "not a date"),
    ]
    chosen, in_window = render_projects(repos, since, until, 2)
    assert [r["id"] for r in chosen] == [3, 5]
    assert in_window == 3
    assert [r["id"] for r in render_projects(repos, since, until, 10)[0]] == [3, 5, 1]
