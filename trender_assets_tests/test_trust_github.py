"""Trust under real conditions: one odd repository never fails a category-day, a day is the truth,
and no request goes into a spent rate-limit bucket.

Every case is served by the fake GitHub over real HTTP on 127.0.0.1, the partition is materialized
through Dagster into the real PostgreSQL, and the warehouse is read back: rows in raw, staging and
rejects, their statuses and reasons, the materialization's counts, and that the rest of the
partition proceeded.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from trender_assets.errors import GitHubRateLimited
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets.github import GitHubClient
from trender_assets.github.credentials import StaticToken
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo
from trender_assets_tests.helpers import materialize_day, rows
from trender_assets_tests.simulated_time import SimulatedTime

DAY = scenario.DAY
PYTHON_IDS = scenario.EXPECTED["python"]  # what the python partition stages when nothing is odd


def _ts(days_before: int, day: date = DAY) -> str:
    return f"{(day - timedelta(days=days_before)).isoformat()}T12:00:00Z"


def resources_for(fake: FakeGitHub, database_url: str, **github: object) -> dict:
    """Resources against ``fake``: tiny retry waits, no search pacing (nothing waits in real time)."""
    github.setdefault("backoff_seconds", 0.01)
    github.setdefault("secondary_limit_wait_seconds", 0.05)
    github.setdefault("max_rate_limit_wait_seconds", 5)
    warehouse = WarehouseResource(database_url=database_url)
    return {
        "github": GitHubResource(warehouse=warehouse, token=scenario.TOKEN, api_url=fake.url, pace_searches=False,
                                 **github),
        "warehouse": warehouse,
        "settings": TrenderSettings(),
    }


@pytest.fixture
def resources(fake_github, database_url, engine, frozen_now) -> dict:
    return resources_for(fake_github, database_url)


def ingest(resources: dict, instance, language: str = "python", day: date = DAY):
    """Materialize one category-day (raw + staging); returns (result, raw metadata)."""
    [result, *_] = materialize_day(resources, instance, day, languages=[language], refetch=True)
    mats = result.asset_materializations_for_node("raw_github_repos") if result.success else []
    meta = {k: v.value for k, v in mats[0].metadata.items()} if mats else {}
    return result, meta


def raw_rows(engine, language: str = "python", day: date = DAY) -> dict:
    """Raw rows of a partition by the name GitHub sent (as stored)."""
    found = rows(engine, "select repo_id, repo_full_name, api_response, item_status, readme_content, readme_status,"
                         " readme_sha, readme_path, readme_size, readme_truncated from raw_github_repos"
                         " where snapshot_date = :d and language = :l", d=day, l=language)
    return {r["repo_full_name"]: r for r in found}


def staged_ids(engine, language: str = "python", day: date = DAY) -> set[int]:
    return {r["repo_id"] for r in rows(engine, "select repo_id from stg_repos_validated where snapshot_date = :d"
                                               " and language = :l", d=day, l=language)}


def rejections(engine, language: str = "python") -> dict:
    return {r["repo_full_name"]: r["reason"] for r in rows(
        engine, "select repo_full_name, reason from stg_repos_rejected where language = :l", l=language)}


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- 1. one repository never fails a category-day: per-item answers -----------------------------------

def test_readme_over_1mb_is_fetched_raw_and_the_partition_succeeds(fake_github, resources, instance, engine):
    """GitHub refuses a README over 1 MB as JSON (403 too_large); trender asks again with the raw
    media type and keeps the blob sha from the ETag. Today's partition used to fail on this 403."""
    big = ("# Big\n\n" + "A paragraph of a long README.\n\n" * 40_000)
    data = big.encode()
    assert len(data) > 1 << 20
    fake_github.add_repo(FakeRepo(110, "huge/readme", "Python", 800, _ts(8), _ts(1), readme=big))

    result, meta = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)["huge/readme"]
    assert stored["readme_status"] == "ok_raw"
    assert stored["readme_sha"] == blob_sha(data) and stored["readme_size"] == len(data)
    assert stored["readme_truncated"] and stored["readme_content"].startswith("# Big")
    assert len(stored["readme_content"]) <= 200_000
    statuses = [(r.headers["accept"], r.status) for r in fake_github.requests if r.path == "/repos/huge/readme/readme"]
    assert statuses == [("application/vnd.github+json", 403), ("application/vnd.github.raw+json", 200)]
    assert meta["readme_status"] == {"ok": 4, "ok_raw": 1, "none": 2}  # 103 and the malformed item have none
    assert staged_ids(engine) == PYTHON_IDS | {110}
    [status] = rows(engine, "select readme_status from stg_repos_validated where repo_id = 110")
    assert status["readme_status"] == "ok_raw"


def test_readme_too_large_even_raw_is_recorded_on_the_item(fake_github, resources, instance, engine):
    """Over 100 MB GitHub refuses every media type: the repository is kept, its README is not."""
    fake_github.blob_json_limit, fake_github.blob_raw_limit = 10, 20  # "1 MB" and "100 MB", scaled down
    fake_github.add_repo(FakeRepo(110, "huge/readme", "Python", 800, _ts(8), _ts(1), readme="x" * 50))
    result, meta = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)["huge/readme"]
    assert (stored["readme_status"], stored["readme_content"]) == ("too_large", None)
    assert meta["readme_status"]["too_large"] == 1
    assert 110 in staged_ids(engine)


def test_permanent_per_item_answers_are_recorded_and_counted(fake_github, resources, instance, engine):
    """409 empty repository, 451 blocked, 404 gone since the search, and a README answered as a JSON
    list: each is recorded on its item and counted; the partition succeeds and stages all of them."""
    fake_github.add_repo(FakeRepo(110, "odd/empty", "Python", 800, _ts(8), _ts(1), empty=True))
    fake_github.add_repo(FakeRepo(111, "odd/blocked", "Python", 700, _ts(8), _ts(1), blocked=True))
    fake_github.add_repo(FakeRepo(112, "odd/gone", "Python", 600, _ts(8), _ts(1), gone=True))
    fake_github.add_repo(FakeRepo(113, "odd/listed", "Python", 500, _ts(8), _ts(1)))
    fake_github.fail_next("/repos/odd/listed/readme", 200, count=10,
                          body=[{"type": "file", "name": "README.md", "path": "README.md"}])

    result, meta = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)
    assert {name: stored[name]["readme_status"] for name in ("odd/empty", "odd/blocked", "odd/gone", "odd/listed")} == {
        "odd/empty": "empty_repository", "odd/blocked": "blocked", "odd/gone": "none", "odd/listed": "malformed"}
    assert all(stored[n]["readme_content"] is None for n in ("odd/empty", "odd/blocked", "odd/gone", "odd/listed"))
    assert meta["readme_status"] == {"ok": 4, "none": 3, "empty_repository": 1, "blocked": 1, "malformed": 1}
    assert staged_ids(engine) == PYTHON_IDS | {110, 111, 112, 113}
    assert meta["github_retries"] == 0  # permanent answers are not retried


@pytest.mark.parametrize("fault", [
    pytest.param(dict(prefix="/repos/alpha/snake/readme", status=502, count=50), id="repeated-5xx"),
    pytest.param(dict(prefix="/repos/alpha/snake/readme", status=403, count=1,
                      body={"message": "Resource not accessible by integration"}), id="forbidden"),
    pytest.param(dict(prefix="/repos/alpha/snake/readme", status=403, count=1,
                      headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9999999999"}),
                 id="rate-limit-beyond-wait"),
    pytest.param(dict(prefix="/search/repositories", status=200, count=50, raw_body=b'{"total_count": 3, "it'),
                 id="unreadable-search"),
])
def test_systemic_failures_still_fail_the_partition_and_write_nothing(fake_github, resources, instance, engine,
                                                                       fault):
    prefix, status, count = fault.pop("prefix"), fault.pop("status"), fault.pop("count")
    fake_github.fail_next(prefix, status, count=count, **fault)
    result, _ = ingest(resources, instance)
    assert not result.success
    assert raw_rows(engine) == {}


# -- 1. hostile values reject one record, never the partition ----------------------------------------

def _hostile_description(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(120, "hostile/repo", "Python", 800, _ts(8), _ts(1), description="bad \ud800 text"))


def _hostile_utf8(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(120, "hostile/repo", "Python", 800, _ts(8), _ts(1), description="bad INVALIDUTF8 text"))
    fake.rewrite_body("/search/repositories", rb"INVALIDUTF8", b"\xff\xfe\xc3")


def _hostile_stars(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(120, "hostile/repo", "Python", 2**31, _ts(8), _ts(1)))


def _hostile_forks(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(120, "hostile/repo", "Python", 800, _ts(8), _ts(1), forks=2**40))


def _hostile_id(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(2**64 + 5, "hostile/repo", "Python", 800, _ts(8), _ts(1)))


def _hostile_infinity(fake: FakeGitHub) -> None:
    fake.add_repo(FakeRepo(120, "hostile/repo", "Python", 800, _ts(8), _ts(1), open_issues=777_777))
    fake.rewrite_body("/search/repositories", rb'"open_issues_count": 777777', b'"open_issues_count": 1e999')


@pytest.mark.parametrize("serve, reason", [
    pytest.param(_hostile_description, "invalid text in description (a lone UTF-16 surrogate", id="lone-surrogate"),
    pytest.param(_hostile_utf8, "invalid text in description (a lone UTF-16 surrogate or invalid UTF-8",
                 id="invalid-utf8-in-search-body"),
    pytest.param(_hostile_stars, "stargazers_count is beyond the warehouse's integer range: 2147483648",
                 id="stars-beyond-2^31"),
    pytest.param(_hostile_forks, "forks_count is beyond the warehouse's integer range", id="forks-beyond-2^31"),
    pytest.param(_hostile_id, "id 18446744073709551621 is beyond the 64-bit range", id="id-beyond-2^63"),
    pytest.param(_hostile_infinity, "open_issues_count is not a finite number", id="non-finite-number"),
])
def test_a_hostile_value_rejects_one_record_never_the_partition(fake_github, resources, instance, engine, serve,
                                                                 reason):
    serve(fake_github)
    result, meta = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)
    assert "hostile/repo" in stored  # raw keeps what GitHub sent, as far as PostgreSQL can hold it
    assert reason in rejections(engine)["hostile/repo"]
    assert staged_ids(engine) == PYTHON_IDS  # the rest of the partition proceeded
    assert stored["hostile/repo"]["readme_status"] == "ok"
    assert meta["dagster/row_count"] == len(PYTHON_IDS) + 2  # + the scenario's malformed item


def test_raw_stores_a_lone_surrogate_as_u_fffd_and_names_it(fake_github, resources, instance, engine):
    """jsonb cannot hold "\\ud800" (PostgreSQL: invalid input syntax for type json): raw keeps the
    record with U+FFFD in its place and says so in item_status, which staging turns into the reason."""
    _hostile_description(fake_github)
    result, meta = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)["hostile/repo"]
    assert stored["api_response"]["description"] == "bad \ufffd text"
    assert stored["item_status"].startswith("invalid text in description")
    assert meta["items_not_storable_as_sent"] == 1


def test_an_id_beyond_bigint_is_stored_without_a_repo_id(fake_github, resources, instance, engine):
    _hostile_id(fake_github)
    result, _ = ingest(resources, instance)
    assert result.success
    stored = raw_rows(engine)["hostile/repo"]
    assert stored["repo_id"] is None and stored["api_response"]["id"] == 2**64 + 5


def test_a_total_count_that_is_not_a_number_does_not_fail_the_search(fake_github, resources, instance, engine):
    fake_github.rewrite_body("/search/repositories", rb'"total_count": \d+', b'"total_count": "lots"')
    result, meta = ingest(resources, instance)
    assert result.success
    assert staged_ids(engine) == PYTHON_IDS
    assert meta["github_anomalies"] == {"search total_count not a number": 1}


@pytest.mark.parametrize("full_name", ["o/n?x=1", "a/../../rate_limit", "o/a%2Fb", "o/n#frag", "-o/n", "o/..",
                                       "o/" + "n" * 101, "o" * 40 + "/n"])
def test_a_full_name_never_changes_the_request_target(fake_github, resources, instance, engine, full_name):
    """Names come from GitHub's answers: one that breaks GitHub's naming rules is never put in a URL.
    It is kept raw and rejected with a reason; before, ``o/n?x=1`` stored the repository JSON as the
    README."""
    fake_github.add_repo(FakeRepo(130, full_name, "Python", 800, _ts(8), _ts(1)))
    result, meta = ingest(resources, instance)
    assert result.success
    everything = raw_rows(engine)
    stored = everything[full_name]
    assert (stored["readme_status"], stored["readme_content"]) == ("invalid_name", None)
    assert "full_name" in stored["item_status"] and "not requested" in stored["item_status"]
    assert "full_name" in rejections(engine)[full_name]
    asked = {r.path for r in fake_github.requests}
    assert asked == {"/search/repositories"} | {f"/repos/{n}/readme" for n in everything if n != full_name}
    assert staged_ids(engine) == PYTHON_IDS
    assert meta["readme_status"]["invalid_name"] == 1


def test_duplicates_are_removed_before_the_cut_to_repo_limit(fake_github, database_url, engine, instance, frozen_now):
    """GitHub's pages can shift while a client pages, so a repository can come twice; the limit counts
    distinct repositories, asking for another page when duplicates took places."""
    for i in range(8):
        fake_github.add_repo(FakeRepo(500 + i, f"many/r{i}", "Go", 50_000 - i, _ts(5 + i), _ts(1)))
    fake_github.repeat_in_search(500, 2)
    fake_github.repeat_in_search(502, 1)
    resources = resources_for(fake_github, database_url)
    resources["settings"] = TrenderSettings(repo_limit=6)
    result, meta = ingest(resources, instance, "go")
    assert result.success
    stored = raw_rows(engine, "go")
    assert sorted(r["repo_id"] for r in stored.values()) == [500, 501, 502, 503, 504, 505]
    assert [r.query.get("page") for r in fake_github.requests if r.path == "/search/repositories"] == ["1", "2"]
    assert meta["github_anomalies"]["search duplicate dropped"] == 3


# -- 2. a day is the truth -------------------------------------------------------------------------------

def test_a_backfilled_day_stores_no_repository_created_after_it(fake_github, resources, instance, engine):
    """Run on 2026-11-20, a backfill of 2026-10-21 asks GitHub only for repositories created by then
    (``created:D-180..D``, render D-548..D), and staging and facts hold nothing younger."""
    past = DAY - timedelta(days=30)
    end_of_past = datetime(past.year, past.month, past.day, 23, 59, 59, 999999, tzinfo=timezone.utc)
    younger = {r.id for r in scenario.repos() if r.created_at > end_of_past.isoformat().replace("+00:00", "Z")}
    assert younger  # the fake knows repositories created after the backfilled day
    fake_github.add_repo(FakeRepo(160, "old/but-young-enough", "Python", 10, _ts(40), _ts(35)))

    results = materialize_day(resources, instance, past, refetch=True)
    assert all(r.success for r in results)
    created = rows(engine, "select (api_response->>'created_at')::timestamptz as created, repo_id from raw_github_repos")
    assert created and all(r["created"] <= end_of_past for r in created if r["created"] is not None)
    assert not younger & {r["repo_id"] for r in created}
    for table in ("stg_repos_validated", "fact_repo_snapshots"):
        assert rows(engine, f"select count(*) as n from {table} t join stg_repos_validated s using (repo_id)"
                            " where s.created_at > :end", end=end_of_past)[0]["n"] == 0
    assert 160 in {r["repo_id"] for r in created}
    queries = [r.query["q"] for r in fake_github.requests if r.path == "/search/repositories"]
    assert queries and all(q.endswith(f"created:{past - timedelta(days=180)}..{past}") for q in queries)
    [raw_meta] = results[0].asset_materializations_for_node("raw_github_repos")
    assert "star counts are as of the fetch" in raw_meta.metadata["note"].value


def test_staging_rejects_a_repository_created_after_the_day(fake_github, resources, instance, engine):
    """Whatever a search answers, a repository created after the end of D (UTC) is not part of D."""
    item = {"id": 170, "full_name": "future/repo", "language": "Python", "stargazers_count": 5,
            "created_at": f"{DAY + timedelta(days=1)}T00:00:00Z", "pushed_at": f"{DAY}T12:00:00Z"}
    fake_github.add_raw_search_item("Python", item)
    result, _ = ingest(resources, instance)
    assert result.success
    assert rejections(engine)["future/repo"] == (
        f"created_at {DAY + timedelta(days=1)}T00:00:00+00:00 is after the snapshot day {DAY}")
    assert staged_ids(engine) == PYTHON_IDS


# -- 2. render discovery considers every hit, enriched through GraphQL -------------------------------------

def _render_day(fake: FakeGitHub, n: int = 250) -> int:
    """``n`` render projects found by code search in id order; stars grow with the id, so the
    most-starred young projects are the last hits, far beyond the first 100. Returns the best id."""
    for i in range(n):
        fake.add_repo(FakeRepo(10_000 + i, f"render-{i}/app", "TypeScript", 10 + i,
                               _ts(600 if i % 7 == 0 else 20 + i % 300), _ts(1), render_yaml=True))
    return 10_000 + n - 1


def test_render_considers_every_hit_and_ranks_them_by_stars(database_url, engine, instance, frozen_now):
    with FakeGitHub(token=scenario.TOKEN) as fake:
        best = _render_day(fake)
        result, meta = ingest(resources_for(fake, database_url), instance, "render")
        assert result.success
        stored = raw_rows(engine, "render")
        expected = sorted((i for i in range(10_000, 10_250) if (i - 10_000) % 7), reverse=True)[:25]
        assert sorted(r["repo_id"] for r in stored.values()) == sorted(expected)
        assert best in expected
        assert {r.path for r in fake.requests} == {"/search/code", "/graphql"} | {f"/repos/{n}/readme" for n in stored}
        lookups = [json.loads(r.body) for r in fake.requests if r.path == "/graphql"]
        assert [len(b["variables"]["ids"]) for b in lookups] == [100, 100, 50]
        assert "readme" not in lookups[0]["query"].lower()
        assert meta["render_hits_total"] == 250 and meta["render_hits_scanned"] == 250
        assert meta["github_requests_by_status"]["graphql 200"] == 3
        assert all(r["api_response"]["full_name"] == name for name, r in stored.items())
        api_source = rows(engine, "select distinct api_source from raw_github_repos where language = 'render'")
        assert api_source == [{"api_source": "graphql"}]
        assert len(staged_ids(engine, "render")) == 25
        print(f"render day of 250 hits: {len(fake.requests)} requests, of which "
              f"{sum(1 for r in fake.requests if r.path == '/graphql')} GraphQL look-ups")


def test_render_hit_gone_before_the_look_up_is_per_item(fake_github, resources, instance, engine):
    """A repository deleted between code search and look-up answers ``null`` + NOT_FOUND in GraphQL:
    it is counted, the rest of render proceeds."""
    fake_github.add_repo(FakeRepo(406, "render/deleted", "Go", 9000, _ts(10), _ts(1), render_yaml=True, gone=True))
    result, meta = ingest(resources, instance, "render")
    assert result.success
    assert staged_ids(engine, "render") == scenario.EXPECTED["render"]
    assert meta["render_repositories_not_found"] == {"NOT_FOUND": 1}


def test_graphql_budget_is_booked_and_never_overspent(database_url, engine, instance, frozen_now):
    """GraphQL has its own hourly budget: once GitHub reports it spent, no query is sent into it; the
    wait beyond the allowed one fails the partition, and nothing is written."""
    with FakeGitHub(token=scenario.TOKEN) as fake:
        _render_day(fake)
        fake.set_rate_limit("graphql", 1)
        result, _ = ingest(resources_for(fake, database_url), instance, "render")
        assert not result.success
        assert [r.status for r in fake.requests if r.path == "/graphql"] == [200]
        [failure] = result.get_step_failure_events()
        assert "rate limit for graphql" in failure.event_specific_data.error.to_string()
    assert raw_rows(engine, "render") == {}


# -- 5. no request into a spent bucket; the preflight retries -------------------------------------------

@pytest.mark.parametrize("window, allowed_wait, outcome", [
    pytest.param(3600, 60, "fails", id="reset-beyond-the-allowed-wait"),
    pytest.param(30, 60, "waits", id="reset-within-the-allowed-wait"),
])
def test_no_request_is_sent_into_a_bucket_reported_empty(window, allowed_wait, outcome):
    """Four threads fetch READMEs from a core bucket of 6. The in-flight reservations stop them at 6,
    and the observed ``remaining: 0`` holds every thread until the reset: not one request meets a 403
    (before, about 3 did per exhaustion)."""
    time = SimulatedTime(1_900_000_000.0)  # one clock for the client and the fake
    with FakeGitHub(token=scenario.TOKEN, clock=time.clock) as fake:
        names = [f"owner/repo-{i}" for i in range(12)]
        for i, name in enumerate(names):
            fake.add_repo(FakeRepo(900 + i, name, "Python", 1, _ts(3), _ts(1)))
        fake.set_rate_limit("core", 6, window=window)
        client = GitHubClient(api_url=fake.url, credentials=[StaticToken(scenario.TOKEN)], clock=time.clock,
                              sleep=time.sleep, max_concurrency=4, max_rate_limit_wait_seconds=allowed_wait)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(client.get_readme, name) for name in names]
        if outcome == "fails":
            errors = [f.exception() for f in futures]
            assert sum(isinstance(e, GitHubRateLimited) for e in errors) == 6
            assert fake.count("/repos/") == 6
        else:
            assert [f.result().status for f in futures] == ["ok"] * 12
            assert fake.count("/repos/") == 12
        assert [r.status for r in fake.requests if r.status != 200] == []
        client.close()


def test_the_preflight_retries_transient_errors_like_any_request(fake_github, database_url, engine):
    from trender_assets.commands.days import preflight

    fake_github.fail_next("/rate_limit", 502, count=3)
    warehouse = WarehouseResource(database_url=database_url)
    defs = SimpleNamespace(resources={
        "warehouse": warehouse,
        "github": GitHubResource(warehouse=warehouse, token=scenario.TOKEN, api_url=fake_github.url,
                                 backoff_seconds=0.01),
    })
    preflight(defs, [DAY], ["python"], refetch=True)
    assert [r.status for r in fake_github.requests if r.path == "/rate_limit"] == [502, 502, 502, 200]



def test_a_watchlist_naming_a_repository_by_its_old_and_new_names_keeps_it_once(fake_github, database_url):
    """Both names answer with the same repository (the old one through a 301); the partition holds
    a repository once, so the second answer is dropped and the rename is still reported."""
    fake_github.rename(101, "alpha-org/snake-renamed")
    github = resources_for(fake_github, database_url)["github"]
    found = github.watchlist(("alpha/snake", "alpha-org/snake-renamed", "beta/pyllm"))
    assert [(r["id"], r["full_name"]) for r in found.items] == [(101, "alpha-org/snake-renamed"), (102, "beta/pyllm")]
    assert found.facts["watchlist_renamed"].data == {"alpha/snake": "alpha-org/snake-renamed"}
    assert found.facts["watchlist_found"] == 2
