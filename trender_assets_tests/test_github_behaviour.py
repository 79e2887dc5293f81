"""The GitHub client's behaviour against the fake over real HTTP: nothing lost, limits respected,
conditional requests, several tokens, App and OAuth credentials, the 1,000-result cap, renames,
README decoding, telemetry, and secrets that never leak."""

from __future__ import annotations

import base64
import json
import logging
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.errors import GitHubAuthError, GitHubRateLimited
from trender_assets.github import GitHubClient
from trender_assets.github.cache import MemoryCache, WarehouseCache
from trender_assets.github.credentials import AppInstallationToken, OAuthTokenStore, OAuthUserToken, StaticToken
from trender_assets.github.readmes import truncate_clean
from trender_assets.logic.discovery import most_starred
from trender_assets_tests import scenario
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo
from trender_assets_tests.helpers import materialize_day, rows, warehouse_dump
from trender_assets_tests.simulated_time import SimulatedTime


def client(fake: FakeGitHub, time: SimulatedTime, token: str = scenario.TOKEN, **kwargs) -> GitHubClient:
    kwargs.setdefault("credentials", [StaticToken(token)])
    return GitHubClient(api_url=fake.url, sleep=time.sleep, clock=time.clock, backoff_seconds=0.01, **kwargs)


@pytest.fixture
def clock() -> SimulatedTime:
    return SimulatedTime()  # starts at wall time: tokens the fake issues expire in wall time


# -- rate limits across requests and tokens (one request's retries and limits: test_github_client) ---

def test_no_request_goes_to_a_token_inside_its_retry_after_window(fake_github, clock):
    second = "ghp_SECONDtokenSENTINEL"
    fake_github.accepted_tokens.add(second)
    gh = client(fake_github, clock, credentials=[StaticToken(scenario.TOKEN), StaticToken(second)])
    fake_github.fail_next("/repos/", 403, headers={"retry-after": "30"},
                          body={"message": "You have exceeded a secondary rate limit."})
    first_token = None
    for name in ("alpha/snake", "beta/pyllm", "web/edge", "gopher/cli"):
        assert gh.get_repository(name)
    auth = [r.headers.get("authorization") for r in fake_github.requests]
    first_token = auth[0]
    assert all(a != first_token for a in auth[1:])  # the resting token was not used again
    assert clock.sleeps == []  # and nobody had to wait: the other token carried on


def test_search_and_code_search_are_paced_per_resource(fake_github, clock):
    gh = client(fake_github, clock)
    for _ in range(3):
        gh.search_code("filename:render.yaml path:/", 10)
    gh.search_repositories("language:Go", 5)
    gh.search_repositories("language:Go", 5)
    # each resource: one search at a time, 2 s apart (octokit's spacing); 2 code + 1 repository waits
    assert [round(s, 2) for s in clock.sleeps] == [2.0, 2.0, 2.0]
    gh.get_repository("alpha/snake")  # core is not held back by search pacing
    assert len(clock.sleeps) == 3


def test_code_search_keeps_its_per_minute_limit_by_the_quota_github_reports(clock):
    """Spaced 2 s apart, code search could start 30 a minute; GitHub allows 9, so the tenth waits
    for the window's reset instead of meeting a 403."""
    with scenario.serve(FakeGitHub(token=scenario.TOKEN, clock=clock.clock)) as fake:
        gh = client(fake, clock)
        for _ in range(12):
            gh.search_code("filename:render.yaml path:/", 10)
        statuses = [r.status for r in fake.requests if r.path == "/search/code"]
        gh.close()
    assert statuses == [200] * 12  # no request was sent into the spent bucket
    assert sorted(clock.sleeps)[-1] > 30  # the wait for the reset
    assert clock.sleeps.count(2.0) >= 8  # otherwise 2 s apart


def test_an_exhausted_search_quota_does_not_block_core(fake_github, clock):
    gh = client(fake_github, clock, max_rate_limit_wait_seconds=5)
    fake_github.fail_next("/search/repositories", 403, headers={
        "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(clock.now) + 3600),
        "x-ratelimit-resource": "search"})
    with pytest.raises(GitHubRateLimited):
        gh.search_repositories("language:Go", 5)
    assert gh.get_repository("alpha/snake")["id"] == 101


# -- conditional requests and several tokens -------------------------------------------------------

def test_etags_make_unchanged_readmes_free_and_stay_tied_to_their_token(fake_github, clock, engine):
    cache = WarehouseCache(engine)
    first = client(fake_github, clock, cache=cache)
    readme = first.get_readme("alpha/snake")
    again = client(fake_github, clock, cache=cache)  # another run: the cache is in the warehouse
    assert again.get_readme("alpha/snake") == readme
    conditional = [r for r in fake_github.requests if "if-none-match" in r.headers]
    assert len(conditional) == 1 and conditional[0].status == 304
    assert again.telemetry.not_modified == 1 and again.telemetry.counted == 0

    other = "ghp_OTHERtokenSENTINEL"
    fake_github.accepted_tokens.add(other)
    client(fake_github, clock, token=other, cache=cache).get_readme("alpha/snake")
    assert "if-none-match" not in fake_github.requests[-1].headers  # an ETag belongs to its token
    stored = rows(engine, "select token_identity, url from github_http_cache")
    assert len(stored) == 2 and all(scenario.TOKEN not in json.dumps(r) for r in stored)


def test_search_is_never_conditional(fake_github, clock):
    gh = client(fake_github, clock, cache=MemoryCache())
    gh.search_repositories("language:Go", 5)
    gh.search_repositories("language:Go", 5)
    assert all("if-none-match" not in r.headers for r in fake_github.requests)


def test_several_tokens_share_the_work(fake_github, clock):
    tokens = [scenario.TOKEN, "ghp_TWOsentinel", "ghp_THREEsentinel"]
    fake_github.accepted_tokens.update(tokens[1:])
    gh = client(fake_github, clock, credentials=[StaticToken(t) for t in tokens])
    for name in ["alpha/snake", "beta/pyllm", "web/edge", "gopher/cli", "web/ui-kit", "gopher/proxy"] * 2:
        gh.get_repository(name)
    used = [r.headers["authorization"] for r in fake_github.requests]
    assert {u.split()[-1] for u in used} == set(tokens)
    assert max(used.count(u) for u in set(used)) - min(used.count(u) for u in set(used)) <= 1


# -- other credentials ------------------------------------------------------------------------------

def _rsa_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_github_app_installation_token_is_issued_and_refreshed_before_expiry(fake_github, clock):
    private, public = _rsa_pair()
    fake_github.configure_app("4242", public, "77")
    app = AppInstallationToken("4242", private, "77", fake_github.url, clock=clock.clock)
    gh = client(fake_github, clock, credentials=[app])
    gh.get_repository("alpha/snake")
    gh.get_repository("beta/pyllm")
    assert fake_github.count("/app/installations/77/access_tokens") == 1
    clock.now += 3400  # within five minutes of expiry: renewed before use
    gh.get_repository("web/edge")
    assert fake_github.count("/app/installations/77/access_tokens") == 2
    assert fake_github.requests[-1].headers["authorization"] == "Bearer ghs_issued2"
    assert private not in repr(gh) and "ghs_" not in repr(gh)


def test_a_wrong_app_key_is_one_clear_error(fake_github, clock):
    _, public = _rsa_pair()
    other_private, _ = _rsa_pair()
    fake_github.configure_app("4242", public, "77")
    gh = client(fake_github, clock,
                credentials=[AppInstallationToken("4242", other_private, "77", fake_github.url)])
    with pytest.raises(GitHubAuthError, match="GitHub App credentials"):
        gh.get_repository("alpha/snake")
    assert fake_github.count("/repos/") == 0


def test_oauth_token_refreshes_once_under_lock_and_is_stored_encrypted(fake_github, clock, engine):
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    store = OAuthTokenStore(engine, key)
    expired = datetime.fromtimestamp(clock.now - 10, tz=timezone.utc)
    store.store("Iv1.client", "ghu_EXPIREDsentinel", "ghr_FIRSTsentinel", expired)
    fake_github.configure_oauth("Iv1.client", "s3cret", "ghr_FIRSTsentinel")
    oauth_url = fake_github.url

    first = OAuthUserToken(store, "Iv1.client", "s3cret", oauth_url, clock=clock.clock)
    gh = client(fake_github, clock, credentials=[first])
    assert gh.get_repository("alpha/snake")
    # another process starts later: it finds the fresh token in the warehouse and does not refresh
    second = OAuthUserToken(OAuthTokenStore(engine, key), "Iv1.client", "s3cret", oauth_url, clock=clock.clock)
    assert second.token() == "ghu_issued1"
    assert fake_github.count("/login/oauth/access_token") == 1
    dump = json.dumps(rows(engine, "select * from github_oauth_credentials"), default=str)
    assert "ghu_issued1" not in dump and "ghr_issued1" not in dump  # encrypted at rest

    # the old refresh token was single-use: a stale copy gets one clear error, no retry storm
    fake_github.configure_oauth("Iv1.client", "s3cret", "ghr_SOMETHINGelse")
    clock.now += 9 * 3600
    with pytest.raises(GitHubAuthError, match="refuse"):
        second.token()


# -- search beyond the cap, renames, READMEs ---------------------------------------------------------

def test_search_beyond_1000_results_splits_into_created_windows(clock):
    day = date(2026, 11, 20)
    with FakeGitHub(token=scenario.TOKEN) as fake:
        for i in range(1500):
            created = day - timedelta(days=1 + i % 170)
            fake.add_repo(FakeRepo(10_000 + i, f"many/r{i}", "Rust", 5000 - i, f"{created}T00:00:00Z",
                                   f"{day}T00:00:00Z"))
        gh = client(fake, clock, pace=False)
        windows = gh.search_repositories_created("language:Rust", 1200, day - timedelta(days=180), day)
        items = most_starred(windows, 1200)
    assert len(items) == 1200 == len({i["id"] for i in items})
    assert [i["stargazers_count"] for i in items] == list(range(5000, 5000 - 1200, -1))
    windows = {r.query["q"] for r in fake.requests}
    assert len(windows) >= 3 and all("created:" in q for q in windows)


def test_renamed_repository_is_followed_and_keeps_its_id(fake_github, clock):
    fake_github.rename(101, "alpha-org/snake-renamed")
    gh = client(fake_github, clock)
    repo = gh.get_repository("alpha/snake")
    assert (repo["id"], repo["full_name"]) == (101, "alpha-org/snake-renamed")
    assert gh.get_readme("alpha/snake").content == "# readme"
    assert any(r.status == 301 for r in fake_github.requests)


def test_readme_decoding_is_tolerant(fake_github, clock):
    text = "\ufeff# Título\r\nline two\r\n"
    fake_github.add_repo(FakeRepo(900, "enc/utf", "Python", 1, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z",
                                  readme=text, readme_name="README.rst"))
    fake_github.add_repo(FakeRepo(901, "enc/empty", "Python", 1, "2026-11-01T00:00:00Z",
                                  "2026-11-02T00:00:00Z", readme=""))
    gh = client(fake_github, clock)
    readme = gh.get_readme("enc/utf")
    assert readme.content == "# Título\nline two\n" and readme.path == "README.rst"
    assert gh.get_readme("enc/empty").content == ""
    invalid = {"type": "file", "encoding": "base64", "size": 4, "name": "README", "path": "README",
               "sha": "abc", "content": base64.encodebytes(b"ok \xff\xfe").decode()}
    fake_github.fail_next("/repos/enc/utf/readme", 200, body=invalid)
    assert gh.get_readme("enc/utf").content == "ok \ufffd\ufffd"


def test_big_readmes_use_the_raw_media_type_and_are_truncated_cleanly(fake_github, clock):
    big = ("A paragraph of text.\n\n" * 200)
    fake_github.add_repo(FakeRepo(902, "big/readme", "Go", 1, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z",
                                  readme=big))
    gh = client(fake_github, clock)
    fake_github.fail_next("/repos/big/readme/readme", 200, body={
        "type": "file", "encoding": "none", "size": len(big), "name": "README.md", "path": "README.md",
        "sha": "f00d", "content": ""})
    readme = gh.get_readme("big/readme", max_chars=1000)
    assert fake_github.requests[-1].headers["accept"].startswith("application/vnd.github.raw")
    assert readme.truncated and len(readme.content) <= 1000
    assert readme.content.endswith("A paragraph of text.") and readme.size == len(big) and readme.sha == "f00d"
    assert truncate_clean("word " * 10, 12) == ("word word", True)


# -- telemetry, a full day with faults, the cost of a second run, secrets ----------------------------

def test_raw_materialization_reports_the_budget(resources, instance, engine):
    results = materialize_day(resources, instance, scenario.DAY, languages=["render"])
    [mat] = results[0].asset_materializations_for_node("raw_github_repos")
    meta = {k: v.value for k, v in mat.metadata.items()}
    assert meta["github_requests"] == meta["github_requests_counted"] + meta["github_not_modified"]
    assert meta["github_requests_by_status"]["code_search 200"] == 1
    assert meta["github_requests_by_status"]["core 200"] >= 3
    assert set(meta["github_remaining"]) >= {"code_search", "core"}
    assert meta["github_retries"] == 0


def test_a_full_day_with_faults_equals_a_fault_free_day(fake_github, database_url, engine, instance,
                                                          frozen_now, tmp_path):
    resources = make_resources(fake_github, database_url)
    assert all(r.success for r in materialize_day(resources, instance, scenario.DAY))
    clean = warehouse_dump(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("truncate github_http_cache"))
    fake_github.enable_chaos(0.15, seed=11)
    before = len(fake_github.requests)
    results = materialize_day(make_resources(fake_github, database_url), instance, scenario.DAY, refetch=True)
    assert all(r.success for r in results)
    faults = sum(1 for r in fake_github.requests[before:] if r.status not in (200, 301, 304, 404))
    assert faults >= 3  # faults really happened...
    assert warehouse_dump(engine) == clean  # ...and the warehouse is exactly as without them


def test_a_second_run_costs_at_most_a_fifth_of_the_first(database_url, engine, instance, frozen_now):
    """Refetching an unchanged day: searches count again, repositories and READMEs answer 304."""
    with scenario.serve_realistic(FakeGitHub(token=scenario.TOKEN), per_language=25) as fake:
        materialize_day(make_resources(fake, database_url), instance, scenario.DAY, refetch=True)
        first = sum(1 for r in fake.requests if r.status != 304 and r.path != "/rate_limit")
        start = len(fake.requests)
        materialize_day(make_resources(fake, database_url), instance, scenario.DAY, refetch=True)
        second = sum(1 for r in fake.requests[start:] if r.status != 304 and r.path != "/rate_limit")
    print(f"counted requests: first run {first}, unchanged re-run {second} ({second / first:.1%})")
    assert first > 70  # 25 READMEs per category; render repositories are looked up 100 per GraphQL query
    assert second <= 0.2 * first


def test_the_token_appears_nowhere(fake_github, database_url, engine, instance, frozen_now, caplog):
    caplog.set_level(logging.DEBUG)
    fake_github.enable_chaos(0.1, seed=3)
    resources = make_resources(fake_github, database_url)
    results = materialize_day(resources, instance, scenario.DAY)
    wrong = make_resources(fake_github, database_url, token="ghp_WRONGsentinelXYZ")
    failed = materialize_day(wrong, instance, scenario.DAY, languages=["go"], refetch=True)
    assert not failed[0].success
    texts = [caplog.text]
    for result in [*results, *failed]:
        for event in result.all_events:
            texts.append(repr(event))
            data = event.event_specific_data
            if getattr(data, "error", None) is not None:
                texts.append(str(data.error.to_string()))
    for key in ("raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots"):
        for record in instance.fetch_materializations(dg.AssetKey(key), limit=100).records:
            texts.append(repr(record.asset_materialization.metadata))
    for table, content in warehouse_dump(engine).items():
        texts.append(json.dumps(content, default=str))
    texts.append(json.dumps(rows(engine, "select * from github_http_cache"), default=str))
    blob = "\n".join(texts)
    assert scenario.TOKEN not in blob
    assert "ghp_WRONGsentinelXYZ" not in blob
    assert "rejected the token" in blob  # the failure itself is visible
