"""Focused tests of ``GitHubClient`` and ``GitHubResource`` against the fake GitHub over real HTTP.

Nothing is mocked: every request goes through httpx to ``FakeGitHub`` on 127.0.0.1, so headers,
pooling, ``Link`` parsing and status handling run as in production. Time is simulated
(``SimulatedTime``), so no test really waits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from datetime import date, datetime, timedelta

import httpx
import pytest

from trender_assets.errors import GitHubAuthError, GitHubError, GitHubRateLimited
from trender_assets.github import GitHubClient
from trender_assets.github.credentials import StaticToken
from trender_assets.resources.github import GitHubResource
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo
from trender_assets_tests.simulated_time import SimulatedTime

EPOCH = 1_800_000_000.0  # a fixed, whole-second "now" for the simulated clock
PY_QUERY = "language:Python pushed:>=2026-10-21 created:>=2026-05-24"
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@pytest.fixture
def sim() -> SimulatedTime:
    return SimulatedTime(EPOCH)


def make_client(fake: FakeGitHub, sim: SimulatedTime, token: str | None = scenario.TOKEN, **kwargs) -> GitHubClient:
    kwargs.setdefault("credentials", [StaticToken(token)] if token else None)
    return GitHubClient(api_url=fake.url, sleep=sim.sleep, clock=sim.clock, **kwargs)


def make_resource(fake: FakeGitHub, token: str | None = scenario.TOKEN, **kwargs) -> GitHubResource:
    """A resource with tiny waits and no search pacing (it runs on the real clock)."""
    kwargs.setdefault("backoff_seconds", 0.01)
    kwargs.setdefault("secondary_limit_wait_seconds", 0.05)
    kwargs.setdefault("max_rate_limit_wait_seconds", 5)
    return GitHubResource(token=token, api_url=fake.url, pace_searches=False, **kwargs)


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def many_python_repos(n: int = 120) -> FakeGitHub:
    """A fresh fake (no token) with ``n`` young, active Python repositories of distinct star counts."""
    fake = FakeGitHub()
    day = scenario.DAY
    for i in range(n):
        fake.add_repo(FakeRepo(10_000 + i, f"many/repo-{i}", "Python", 5_000 - i,
                               f"{day - timedelta(days=10 + i % 100)}T12:00:00Z",
                               f"{day - timedelta(days=1)}T12:00:00Z"))
    return fake


# -- 1. request headers ----------------------------------------------------------------------------

def test_every_request_identifies_itself_and_pins_the_api_version(fake_github, sim):
    """GitHub asks every client for a User-Agent, the JSON media type and a pinned API version; a
    token must travel as ``Authorization: Bearer`` on every kind of request (search, code search,
    repository, README), and an anonymous client must send no Authorization header at all."""
    gh = make_client(fake_github, sim)
    gh.search_repositories(PY_QUERY, 5)
    gh.search_code("filename:render.yaml path:/", 5)
    gh.get_repository("alpha/snake")
    gh.get_readme("alpha/snake")
    gh.get_readme("gamma/notebook")  # a 404 too
    assert len(fake_github.requests) == 5
    for request in fake_github.requests:
        h = request.headers
        assert h["user-agent"].startswith("trender/"), request.path
        assert h["accept"] == "application/vnd.github+json", request.path
        assert h["x-github-api-version"] == "2022-11-28", request.path
        assert h["authorization"] == f"Bearer {scenario.TOKEN}", request.path

    with scenario.serve(FakeGitHub()) as anonymous_fake:
        anon = make_client(anonymous_fake, sim, token=None)
        anon.search_repositories(PY_QUERY, 5)
        anon.get_repository("alpha/snake")
        anon.get_readme("alpha/snake")
        assert len(anonymous_fake.requests) == 3
        for request in anonymous_fake.requests:
            assert "authorization" not in request.headers, request.path
            assert request.headers["user-agent"].startswith("trender/")
            assert request.headers["x-github-api-version"] == "2022-11-28"


# -- 2. repository search --------------------------------------------------------------------------

def test_trending_search_anchors_qualifiers_to_the_snapshot_date(fake_github):
    """The windows must be computed from the snapshot date, not from today, or a backfill of an old
    day would ask GitHub the wrong question; results come most-starred first and only from repos
    inside the windows (too old or too stale repositories never appear)."""
    github = make_resource(fake_github)
    items = github.trending_repositories("Python", date(2026, 11, 20), 25).items
    (request,) = fake_github.requests
    assert request.path == "/search/repositories"
    # created: is bounded on both sides, so a backfilled day never learns about younger repositories
    assert request.query["q"] == "language:Python pushed:>=2026-10-21 created:2026-05-24..2026-11-20"
    assert request.query["sort"] == "stars" and request.query["order"] == "desc"
    assert request.query["per_page"] == "25"
    # the scenario's malformed raw item (id 999) is passed through last, for staging to reject
    real = [i for i in items if i["id"] != scenario.MALFORMED_ITEM["id"]]
    assert [i["id"] for i in real] == [102, 101, 105, 103, 104]
    assert {i["id"] for i in real} == scenario.EXPECTED["python"]
    assert not {150, 151} & {i["id"] for i in items}
    stars = [i["stargazers_count"] for i in real]
    assert stars == sorted(stars, reverse=True)


def test_search_limit_is_exact_and_costs_one_request(fake_github):
    """Asking for 2 repositories must return exactly 2 and spend one search request (per_page=2),
    because the search quota is only 30 requests a minute."""
    github = make_resource(fake_github)
    items = github.trending_repositories("Python", scenario.DAY, 2).items
    assert [i["id"] for i in items] == [102, 101]
    assert fake_github.count("/search/repositories") == 1
    assert fake_github.requests[0].query["per_page"] == "2"


def test_search_follows_link_header_across_pages(sim):
    """Beyond 100 results GitHub pages; the client must follow ``rel="next"`` (not guess URLs),
    stop when there is no next page, and never duplicate a repository."""
    with many_python_repos(120) as fake:
        gh = make_client(fake, sim, token=None)
        items = gh.search_repositories(PY_QUERY, 150)
        assert fake.count("/search/repositories") == 2
        first, second = fake.requests
        assert first.query["per_page"] == "100" and first.query["page"] == "1"
        assert second.query["page"] == "2" and second.query["q"] == PY_QUERY
        assert len(items) == 120
        ids = [i["id"] for i in items]
        assert len(set(ids)) == 120
        assert ids == [10_000 + i for i in range(120)]  # stars descending


# -- 3. the 1,000-result window ----------------------------------------------------------------------

def test_search_window_422_ends_pagination_without_error(sim):
    """GitHub refuses pages past its 1,000-result window with 422 "Only the first 1000 search
    results are available"; that is the end of the data, not a failure, so what was fetched is kept."""
    with many_python_repos(120) as fake:
        fake.fail_next("/search/repositories", 200)  # page 1 answers normally (pass-through fault)
        fake.fail_next("/search/repositories", 422, body={
            "message": "Only the first 1000 search results are available",
            "documentation_url": "https://docs.github.com/v3/search/", "status": "422"})
        gh = make_client(fake, sim, token=None)
        items = gh.search_repositories(PY_QUERY, 150)
        assert [r.status for r in fake.requests] == [200, 422]
        assert len(items) == 100
        assert gh.telemetry.retries == 0


# -- 4. render discovery -----------------------------------------------------------------------------

def test_render_discovery_keeps_root_hits_looks_each_up_once_and_filters_by_age(fake_github):
    """Code search cannot filter to the repository root and its hits lack stars and dates: the client
    must drop non-root render.yaml hits, look every remaining repository up once (one GraphQL
    ``nodes`` query by node id, not one REST request each), drop ones created outside D-548..D, and
    rank by stars."""
    github = make_resource(fake_github)
    found = github.render_projects(scenario.DAY, 10)
    projects = found.items
    assert [p["id"] for p in projects] == [105, 401, 404]
    assert {p["id"] for p in projects} == scenario.EXPECTED["render"]
    assert fake_github.count("/search/code") == 1
    [lookup] = [r for r in fake_github.requests if r.path == "/graphql"]
    asked = json.loads(lookup.body)["variables"]["ids"]
    assert sorted(asked) == sorted(base64.b64encode(f"010:Repository{i}".encode()).decode()
                                   for i in (105, 401, 402, 404))  # the decoy 403 is not looked up
    assert fake_github.count("/repos/") == 0
    since = scenario.DAY - timedelta(days=548)
    assert all(datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")).date() >= since for p in projects)
    assert found.facts["render_hits_total"] == 5 and found.facts["render_hits_scanned"] == 5
    assert found.facts["render_root_repositories"] == 4


def test_render_discovery_without_token_fails_before_any_code_search(fake_github):
    """Code search requires authentication; without a token the resource must say so clearly and
    not waste a request that can only fail with 401."""
    github = make_resource(fake_github, token=None)
    with pytest.raises(GitHubAuthError, match="GITHUB_TOKEN"):
        github.render_projects(scenario.DAY, 10)
    assert fake_github.count("/search/code") == 0
    assert fake_github.requests == []


# -- 5. READMEs --------------------------------------------------------------------------------------

def test_readme_base64_decodes_exactly_with_bom_crlf_and_non_ascii(fake_github):
    """The contents API sends line-wrapped base64 of the raw bytes; the stored text must be those
    bytes as UTF-8 with the BOM dropped and CRLF normalised, with the blob sha and size kept, so the
    same README always stores the same text."""
    text = ("\ufeff# Café ☕ — naïve résumé\r\n\r\n日本語のテキスト, Ünïcödé and emoji 🚀\r\n"
            + "A long line that forces base64 wrapping. " * 5 + "\r\n")
    data = text.encode("utf-8")
    fake_github.add_repo(FakeRepo(900, "intl/unicode", "Python", 10, "2026-11-01T00:00:00Z",
                                  "2026-11-10T00:00:00Z", readme=text))
    # the fake really sends the content line-wrapped (so decoding has to cope with newlines)
    raw = httpx.get(f"{fake_github.url}/repos/intl/unicode/readme",
                    headers={"Authorization": f"Bearer {scenario.TOKEN}"}).json()
    assert raw["encoding"] == "base64" and "\n" in raw["content"].rstrip("\n")
    fake_github.requests.clear()

    github = make_resource(fake_github)
    readme = github.readmes(["intl/unicode"])["intl/unicode"]
    expected = text.lstrip("\ufeff").replace("\r\n", "\n")
    assert readme.content == expected
    assert "\r" not in readme.content and not readme.content.startswith("\ufeff")
    assert readme.sha == blob_sha(data)
    assert readme.size == len(data)
    assert readme.path == "README.md"
    assert readme.truncated is False
    assert base64.b64decode(raw["content"]) == data


def test_readme_name_is_kept_and_missing_readme_is_none_without_retry(fake_github):
    """GitHub picks the preferred README whatever its name (here ``readme.markdown``), and that path
    must be kept; a repository without a README answers 404, which is a fact (None), not an error,
    and must not be retried."""
    github = make_resource(fake_github)
    found = github.readmes(["web/ui-kit", "gamma/notebook"])
    assert found["web/ui-kit"].path == "readme.markdown"
    assert found["web/ui-kit"].content == "# readme"
    assert found["web/ui-kit"].sha == blob_sha(b"# readme")
    assert found["gamma/notebook"].status == "none" and found["gamma/notebook"].content is None
    assert [r.status for r in fake_github.requests if r.path == "/repos/gamma/notebook/readme"] == [404]
    assert github.telemetry.retries == 0


# -- 6. retries: one policy, one bound ---------------------------------------------------------------

@pytest.mark.parametrize("fault", [dict(status=502), dict(status=503), dict(status=0),
                                   dict(status=200, raw_body=b'{"id": 101, "full_na')],
                         ids=["502", "503", "dropped-connection", "truncated-json"])
def test_transient_failures_are_retried_with_backoff_to_the_same_answer(fake_github, sim, fault):
    """Bad gateways, dropped connections and cut-off bodies are transient on GitHub; the client must
    retry them with growing waits (one policy for all) and return the real data, counting retries."""
    gh = make_client(fake_github, sim, backoff_seconds=1.0)
    fake_github.fail_next("/repos/alpha/snake", count=2, **fault)
    repo = gh.get_repository("alpha/snake")
    assert (repo["id"], repo["full_name"], repo["stargazers_count"]) == (101, "alpha/snake", 900)
    assert [r.status for r in fake_github.requests] == [fault["status"]] * 2 + [200]
    assert gh.telemetry.retries == 2
    assert len(sim.sleeps) == 2
    assert 1.0 <= sim.sleeps[0] <= 2.0 and 2.0 <= sim.sleeps[1] <= 3.0  # exponential, with jitter


@pytest.mark.parametrize("fetch, what", [
    (lambda gh: gh.get_repository("alpha/snake"), "repository alpha/snake"),
    (lambda gh: gh.get_readme("alpha/snake"), "README of alpha/snake"),
])
def test_persistent_failure_raises_naming_what_and_never_the_token(fake_github, sim, fetch, what):
    """When retries run out the error must say what could not be fetched (so an operator can act)
    and stop after max_attempts; it must never carry the token."""
    gh = make_client(fake_github, sim, max_attempts=3, backoff_seconds=0.01)
    fake_github.fail_next("/repos/alpha/snake", 502, count=10)
    with pytest.raises(GitHubError) as caught:
        fetch(gh)
    message = str(caught.value)
    assert what in message and "after 3 attempts" in message
    assert scenario.TOKEN not in message and scenario.TOKEN not in repr(caught.value)
    assert fake_github.count("/repos/alpha/snake") == 3


PARTIAL_PAGE = b'{"total_count": 9, "incomplete_results": true, "items": []}'


def _keep_failing(fake: FakeGitHub, prefix: str, faults: list[dict], n: int = 30) -> None:
    """The next ``n`` answers under ``prefix`` fail, taking ``faults`` in turn."""
    for i in range(n):
        fake.fail_next(prefix, **faults[i % len(faults)])


@pytest.mark.parametrize("max_attempts", [3, 5])
def test_one_retry_policy_bounds_the_requests_of_a_call_whatever_fails(fake_github, sim, max_attempts):
    """Transport failures, 5xx and unusable bodies share one budget: a call against an endpoint that
    keeps failing, in every way at once, makes exactly ``max_attempts`` requests, then fails naming
    what (the retry loops used to nest: up to 25 requests for one search page)."""
    gh = make_client(fake_github, sim, max_attempts=max_attempts, backoff_seconds=0.01, pace=False)
    _keep_failing(fake_github, "/search/repositories", [
        dict(status=502), dict(status=200, raw_body=PARTIAL_PAGE), dict(status=0),
        dict(status=200, raw_body=b'{"total_count": 3, "it')])
    with pytest.raises(GitHubError, match="repository search 'language:Go'"):
        gh.search_repositories("language:Go", 25)
    assert fake_github.count("/search/repositories") == max_attempts
    assert gh.telemetry.retries == max_attempts - 1

    fake_github.reset_faults()
    _keep_failing(fake_github, "/repos/alpha/snake", [
        dict(status=502), dict(status=200, raw_body=b'{"id": 101, "full_na'), dict(status=0), dict(status=503)])
    with pytest.raises(GitHubError, match="repository alpha/snake"):
        gh.get_repository("alpha/snake")
    assert fake_github.count("/repos/alpha/snake") == max_attempts
    assert gh.telemetry.retries == 2 * (max_attempts - 1)


# -- 7. rate limits ----------------------------------------------------------------------------------

def test_retry_after_is_honoured_exactly(fake_github, sim):
    """A secondary limit with ``retry-after: 7`` means wait exactly 7 seconds: less gets the token
    penalised, more wastes the run."""
    gh = make_client(fake_github, sim)
    fake_github.fail_next("/repos/alpha/snake", 403, headers={"retry-after": "7"},
                          body={"message": SECONDARY, "status": "403"})
    assert gh.get_repository("alpha/snake")["id"] == 101
    assert sim.sleeps == [7]
    assert gh.telemetry.wait_seconds == pytest.approx(7)
    assert [r.status for r in fake_github.requests] == [403, 200]


def test_primary_exhaustion_waits_until_reset_plus_one(fake_github, sim):
    """With ``x-ratelimit-remaining: 0`` the quota is back at ``x-ratelimit-reset``; waiting until
    then (+1 s for clock skew) and retrying once is the documented behaviour."""
    gh = make_client(fake_github, sim)
    fake_github.fail_next("/repos/alpha/snake", 403, headers={
        "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(EPOCH) + 30), "x-ratelimit-resource": "core"},
        body={"message": "API rate limit exceeded for user ID 1.", "status": "403"})
    assert gh.get_repository("alpha/snake")["id"] == 101
    assert sim.sleeps == [31]  # reset (now + 30) + 1 s
    assert [r.status for r in fake_github.requests] == [403, 200]


@pytest.mark.parametrize("status", [403, 429])
def test_primary_exhaustion_beyond_the_allowed_wait_raises_without_sleeping(fake_github, sim, status):
    """A reset an hour away must not stall the run for an hour: it raises GitHubRateLimited at once
    so Dagster can retry the partition later."""
    gh = make_client(fake_github, sim, max_rate_limit_wait_seconds=60)
    fake_github.fail_next("/repos/alpha/snake", status, headers={
        "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(EPOCH) + 3600)},
        body={"message": "API rate limit exceeded for user ID 1.", "status": str(status)})
    with pytest.raises(GitHubRateLimited, match="more than the allowed wait of 60s"):
        gh.get_repository("alpha/snake")
    assert sim.sleeps == []
    assert fake_github.count("/repos/") == 1


@pytest.mark.parametrize("status, times, waits", [(429, 1, [60]), (403, 2, [60, 120])])
def test_secondary_limit_without_retry_after_backs_off_from_the_configured_time(fake_github, sim, status,
                                                                                times, waits):
    """A secondary limit that gives no ``retry-after`` needs a conservative pause (≥ 1 minute by
    default, configurable), doubled while it repeats, before trying again."""
    gh = make_client(fake_github, sim, secondary_limit_wait_seconds=60)
    fake_github.fail_next("/repos/alpha/snake", status, count=times, body={"message": SECONDARY,
                                                                           "status": str(status)})
    assert gh.get_repository("alpha/snake")["id"] == 101
    assert sim.sleeps == waits
    assert [r.status for r in fake_github.requests] == [status] * times + [200]


def test_plain_403_is_an_auth_error_without_retry(fake_github, sim):
    """A 403 that is not a rate limit (missing permission) will never succeed on retry: it must be
    a clear GitHubAuthError after one request."""
    gh = make_client(fake_github, sim)
    fake_github.fail_next("/repos/alpha/snake", 403,
                          body={"message": "Resource not accessible by integration", "status": "403"})
    with pytest.raises(GitHubAuthError, match="Resource not accessible"):
        gh.get_repository("alpha/snake")
    assert fake_github.count("/repos/") == 1
    assert sim.sleeps == [] and gh.telemetry.retries == 0


# -- 8. a wrong token --------------------------------------------------------------------------------

def test_wrong_token_fails_once_and_never_leaks(fake_github, sim, caplog):
    """A rejected token must produce one actionable error (mentioning GITHUB_TOKEN) after exactly
    one request, and the secret must appear in no message, repr or log line, even at DEBUG."""
    wrong = "ghp_WRONGsentinelSECRET9876543210"
    caplog.set_level(logging.DEBUG)
    for name in ("trender", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake_github.fail_next("/repos/alpha/snake", 502)  # one retry first, so warnings get logged too
    gh = make_client(fake_github, sim, token=wrong, backoff_seconds=0.01)
    with pytest.raises(GitHubAuthError) as caught:
        gh.get_repository("alpha/snake")
    assert "GITHUB_TOKEN" in str(caught.value)
    assert [r.status for r in fake_github.requests] == [502, 401]  # the 401 is not retried

    github = make_resource(fake_github, token=wrong)
    with pytest.raises(GitHubAuthError) as caught_resource:
        github.readmes(["alpha/snake"])
    assert fake_github.count("/repos/alpha/snake/readme") == 1
    assert any(r.name.startswith("httpx") for r in caplog.records)  # logs really were captured...
    assert any(r.name.startswith("trender") and "retried" in r.getMessage() for r in caplog.records)  # ...ours too

    texts = [str(caught.value), repr(caught.value), str(caught_resource.value), repr(gh), repr(github),
             str(github), repr(github.client), caplog.text, *(r.getMessage() for r in caplog.records)]
    for text in texts:
        assert wrong not in text
        assert scenario.TOKEN not in text


# -- 9. unreadable and incomplete answers --------------------------------------------------------------

def test_truncated_json_is_retried_then_fails_loudly(fake_github, sim):
    """A 200 whose body is cut off must never be taken as data: it is retried, and if it keeps
    happening the fetch fails naming what it was, so nothing half-fetched is stored."""
    gh = make_client(fake_github, sim, max_attempts=3, backoff_seconds=0.01)
    fake_github.fail_next("/repos/alpha/snake", 200, count=2, raw_body=b'{"id": 101, "full_na')
    assert gh.get_repository("alpha/snake")["id"] == 101
    assert gh.telemetry.retries == 2
    assert fake_github.count("/repos/alpha/snake") == 3

    fake_github.fail_next("/repos/beta/pyllm", 200, count=10, raw_body=b'{"id": 10')
    with pytest.raises(GitHubError, match="unreadable JSON for repository beta/pyllm"):
        gh.get_repository("beta/pyllm")
    assert fake_github.count("/repos/beta/pyllm") == 3


def test_incomplete_search_results_are_retried_then_fail_loudly(fake_github, sim):
    """``incomplete_results: true`` means GitHub timed out and the page is partial; storing it would
    silently lose repositories, so it is retried and, if it persists, raises."""
    partial = b'{"total_count": 9, "incomplete_results": true, "items": []}'
    gh = make_client(fake_github, sim, max_attempts=3, backoff_seconds=0.01, pace=False)
    fake_github.fail_next("/search/repositories", 200, count=2, raw_body=partial)
    items = gh.search_repositories("language:Go pushed:>=2026-10-21 created:>=2026-05-24", 25)
    assert {i["id"] for i in items} == scenario.EXPECTED["go"]
    assert fake_github.count("/search/repositories") == 3

    fake_github.fail_next("/search/repositories", 200, count=10, raw_body=partial)
    with pytest.raises(GitHubError, match="incomplete results"):
        gh.search_repositories("language:Go", 25)
    assert fake_github.count("/search/repositories") == 6


# -- 10. telemetry -----------------------------------------------------------------------------------

def test_telemetry_counts_requests_by_resource_and_status(fake_github, sim):
    """The run's budget is reported as Dagster metadata: requests by "resource status", what counted
    against the quota (/rate_limit is free), and the quota left per resource from the headers."""
    gh = make_client(fake_github, sim)
    gh.rate_limit()
    gh.search_repositories(PY_QUERY, 5)
    gh.get_repository("alpha/snake")
    assert gh.get_readme("gamma/notebook").status == "none"
    meta = gh.telemetry.as_metadata()
    assert meta["github_requests_by_status"] == {"core 200": 2, "core 404": 1, "search 200": 1}
    assert meta["github_requests"] == 4
    assert meta["github_requests_counted"] == 3
    assert meta["github_retries"] == 0
    # the fake starts each resource's window fresh: 2 core requests and 1 search were charged
    assert meta["github_remaining"] == {"core": 4998, "search": 29}


# -- 11. GraphQL look-ups -----------------------------------------------------------------------------

def test_graphql_lives_beside_the_rest_root_on_github_and_enterprise():
    from trender_assets.github.graphql import graphql_url

    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com/api/graphql"
    assert graphql_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/graphql"


def test_graphql_nodes_are_answered_in_the_rest_shape_staging_validates(fake_github, sim):
    """A looked-up repository must validate exactly like the same repository from a REST search."""
    from trender_assets.logic.validation import validate_repo
    from trender_assets.github.graphql import rest_shape

    fake_github.add_repo(FakeRepo(950, "gq/app", "Go", 77, "2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z",
                                  description="d", homepage="https://x.example", topics=["b", "a"], open_issues=4,
                                  license_spdx="Apache-2.0", render_yaml=True))
    gh = make_client(fake_github, sim)
    [hit] = [h for h in gh.search_code("filename:render.yaml path:/", 100).items if h["repository"]["id"] == 950]
    lookup = gh.repositories_by_node_id([hit["repository"]["node_id"], "bm9wZQ=="])
    assert lookup.missing == {"bm9wZQ==": "NOT_FOUND"}
    [node] = lookup.found.values()
    from_graphql = validate_repo(rest_shape(node), "render")
    from_rest = validate_repo(gh.get_repository("gq/app"), "render")
    assert from_graphql == from_rest
    assert gh.telemetry.requests["graphql 200"] == 1
    assert gh.telemetry.remaining["graphql"] == 4999


def test_graphql_rate_limited_with_http_200_is_a_rate_limit_not_data(sim):
    """GraphQL reports a spent budget as HTTP 200 with an error of type RATE_LIMITED: the client books
    the graphql bucket until the reset and, beyond the allowed wait, fails with a rate-limit error."""
    with FakeGitHub(token=scenario.TOKEN, clock=sim.clock) as fake:
        fake.add_repo(FakeRepo(950, "gq/app", "Go", 77, "2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z"))
        fake.set_rate_limit("graphql", 1)
        httpx.post(f"{fake.url}/graphql", json={"query": "{ rateLimit { remaining } }"},
                   headers={"Authorization": f"Bearer {scenario.TOKEN}"})  # another process spent it
        gh = make_client(fake, sim, max_rate_limit_wait_seconds=60)
        with pytest.raises(GitHubRateLimited, match="graphql"):
            gh.repositories_by_node_id([base64.b64encode(b"010:Repository950").decode()])
        assert [r.status for r in fake.requests if r.path == "/graphql"] == [200, 200]  # one from the client
        assert gh.telemetry.requests["graphql 200"] == 1


@pytest.mark.parametrize("body", [
    [{"type": "file", "name": "README.md"}],  # a JSON list
    {"id": 101, "full_name": "alpha/snake", "stargazers_count": 900},  # a repository, not a file
    {"type": "file", "encoding": "base64", "size": 4, "content": "!!not base64!!", "sha": "x"},
    {"type": "dir", "encoding": "base64", "size": 0, "content": ""},
])
def test_a_readme_answer_of_the_wrong_shape_is_malformed_not_content(fake_github, sim, body):
    fake_github.fail_next("/repos/alpha/snake/readme", 200, count=5, body=body)
    readme = make_client(fake_github, sim).get_readme("alpha/snake")
    assert (readme.status, readme.content) == ("malformed", None)
    assert fake_github.count("/repos/alpha/snake/readme") == 1
