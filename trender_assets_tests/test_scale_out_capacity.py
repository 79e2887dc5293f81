"""What one category costs GitHub per day, for README's capacity table ("Scaling out"): the requests
of each category on a realistic day (25 repositories per language, render code search finding 125
root render.yaml files of which 25 are kept), by kind, on a first fetch and on a re-fetch of the
unchanged day, where repositories and READMEs answer 304 (free) to the stored ETags.

    pytest -n0 -s trender_assets_tests/test_scale_out_capacity.py

prints the table; the assertions keep the figures the README quotes from drifting silently."""

from __future__ import annotations

import re
from collections import Counter

from trender_assets.partitions import LANGUAGES
from trender_assets_tests import scenario
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import materialize_day

KINDS = ("search pages", "code search pages", "GraphQL look-ups", "READMEs", "repository look-ups")


def _kind(path: str) -> str:
    if path.startswith("/search/repositories"):
        return "search pages"
    if path.startswith("/search/code"):
        return "code search pages"
    if path == "/graphql":
        return "GraphQL look-ups"
    if re.fullmatch(r"/repos/[^/]+/[^/]+/readme(/.*)?", path):
        return "READMEs"
    if path.startswith(("/repos/", "/repositories/")):
        return "repository look-ups"
    return "other"


def _costs(fake: FakeGitHub, start: int) -> tuple[Counter, int]:
    """(counted requests by kind, 304 answers) since request number ``start``."""
    requests = [r for r in fake.requests[start:] if r.path != "/rate_limit"]
    return Counter(_kind(r.path) for r in requests if r.status != 304), sum(r.status == 304 for r in requests)


def test_what_one_category_costs_github_per_day(database_url, engine, instance, frozen_now):
    first, refetch, free = {}, {}, {}
    with scenario.serve_realistic(FakeGitHub(token=scenario.TOKEN), per_language=25, render_hits=100) as fake:
        resources = make_resources(fake, database_url, pace_searches=False)
        for refetching, costs in ((False, first), (True, refetch)):
            for category in LANGUAGES:  # one run per category, so each one's requests are its own
                start = len(fake.requests)
                result, = materialize_day(resources, instance, scenario.DAY, languages=[category],
                                          refetch=refetching)[:-1]
                assert result.success, category
                costs[category], not_modified = _costs(fake, start)
                if refetching:
                    free[category] = not_modified
        assert fake.secondary_limit_answers == 0

    print("\n| category | " + " | ".join(KINDS) + " | counted, first fetch | counted, re-fetch (304s) |")
    print("|---" * (len(KINDS) + 3) + "|")
    for category in LANGUAGES:
        print(f"| {category} | " + " | ".join(str(first[category][k]) for k in KINDS)
              + f" | {sum(first[category].values())} | {sum(refetch[category].values())} ({free[category]}) |")
    total_first = sum(sum(c.values()) for c in first.values())
    total_refetch = sum(sum(c.values()) for c in refetch.values())
    print(f"| day | | | | | | {total_first} | {total_refetch} ({sum(free.values())}) |")

    for category in LANGUAGES:
        assert set(first[category]) <= set(KINDS), first[category]
        # a re-fetch asks the searches again (no ETag) and little else: the rest answers 304
        assert refetch[category]["READMEs"] == refetch[category]["repository look-ups"] == 0, refetch[category]
        assert free[category] > 0
    languages = [c for c in LANGUAGES if c != "render"]
    assert all(first[c]["READMEs"] == 25 and first[c]["code search pages"] == 0 for c in languages), first
    assert first["render"]["code search pages"] >= 1 and first["render"]["search pages"] == 0, first["render"]
    assert total_refetch <= 0.2 * total_first
