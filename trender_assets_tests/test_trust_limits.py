"""A day never fails for a limit, one item or one token.

GitHub is the fake over real HTTP on 127.0.0.1, the day runs through Dagster into the real
PostgreSQL, and the warehouse is read back. Rate limits run on compressed time: the client and the
fake share a clock that runs faster than the wall clock, so GitHub's second-sized penalties pass in
milliseconds while the run's threads race each other as they do in production.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any, Optional

import pytest
import sqlalchemy as sa

from trender_assets.errors import GitHubAuthError, GitHubRateLimited
from trender_assets.github import GitHubClient
from trender_assets.github.credentials import Credential, StaticToken
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo
from trender_assets_tests.helpers import materialize_day, rows, trender, warehouse_dump
from trender_assets_tests.simulated_time import SimulatedTime

DAY = scenario.DAY


class CompressedTime:
    """A clock ``speed`` times faster than the wall clock, and a sleep to match, from any thread."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._start, self._origin = float(int(time.time())), time.monotonic()

    def clock(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self.speed

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) / self.speed)


TIME = CompressedTime(speed=25.0)


class GitHubOnCompressedTime(GitHubResource):
    """The run's GitHub resource, its client on ``TIME``."""

    def make_client(self, credentials: Optional[list[Credential]] = None, **overrides: Any) -> GitHubClient:
        overrides.setdefault("clock", TIME.clock)
        overrides.setdefault("sleep", TIME.sleep)
        return super().make_client(credentials, **overrides)


def resources_for(fake: FakeGitHub, database_url: str, **github: Any) -> dict:
    warehouse = WarehouseResource(database_url=database_url)
    github = {"token": scenario.TOKEN, "backoff_seconds": 0.01, "secondary_limit_wait_seconds": 0.05,
              "max_rate_limit_wait_seconds": 120, "pace_searches": False, **github}
    return {"github": GitHubOnCompressedTime(warehouse=warehouse, api_url=fake.url, **github),
            "warehouse": warehouse, "settings": TrenderSettings()}


def failures(results) -> list[str]:
    """Every failed step's error, whole."""
    return [event.event_specific_data.error.to_string()
            for result in results for event in result.get_step_failure_events()]


# -- limits wait, they never fail a day ----------------------------------------------------------------

def test_a_day_under_githubs_limits_equals_a_day_without_them(database_url, engine, instance, frozen_now):
    """8 % 5xx, 4 % secondary limits that penalise the whole token for 2 s (a request inside the
    penalty is refused again and starts it over), 2 % spent primary buckets: the day waits and ends
    exactly as without them. Before, every limit answer spent one of a request's five attempts and
    the queue left all at once when a penalty ended, so READMEs failed their category-day."""
    with scenario.serve_realistic(FakeGitHub(token=scenario.TOKEN, clock=TIME.clock), per_language=15) as fake:
        resources = resources_for(fake, database_url)
        assert failures(materialize_day(resources, instance, DAY, ranges=True)) == []
        clean = warehouse_dump(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("truncate github_http_cache"))  # every answer is asked for again
        fake.enable_limit_chaos(seed=16, server_errors=0.08, secondary=0.04, primary=0.02, penalty=2.0)
        results = materialize_day(resources_for(fake, database_url), instance, DAY, refetch=True, ranges=True)
        assert not (failed := failures(results)), failed
        assert fake.limit_chaos_answers["secondary (inside the penalty)"] >= 1  # penalties really went on
        assert warehouse_dump(engine) == clean


def test_after_a_secondary_limit_requests_resume_one_at_a_time():
    """Four threads fetch READMEs; one meets a secondary limit (retry-after 30) while three more are
    out. When the 30 s are over, one request leaves alone, and the others only once it is answered
    without a limit; before, the whole queue left in the same millisecond into a possible new penalty."""
    sim = SimulatedTime(1_900_000_000.0)
    with FakeGitHub(token=scenario.TOKEN, clock=sim.clock) as fake:
        for i in range(12):
            fake.add_repo(FakeRepo(900 + i, f"owner/repo-{i}", "Python", 1, scenario.NOW, scenario.NOW))
        fake.latency = 0.2  # every answer takes a while: requests overlap as on a busy day
        fake.fail_next("/repos/", 403, headers={"retry-after": "30"}, body={"message": SECONDARY}, delay=0.3)
        gh = GitHubClient(api_url=fake.url, credentials=[StaticToken(scenario.TOKEN)], clock=sim.clock,
                          sleep=sim.sleep, max_concurrency=4)
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert [r.status for r in pool.map(gh.get_readme, [f"owner/repo-{i}" for i in range(12)])] == ["ok"] * 12
        gh.close()
        [limited] = [n for n, r in enumerate(fake.requests) if r.status == 403]
        window_end = next(at for event, n, at in fake.timeline if event == "answered" and n == limited) + 30
        events = [(event, n) for event, n, at in fake.timeline]
        first = next(n for event, n, at in fake.timeline if event == "arrived" and at >= window_end)
        alone = events[events.index(("arrived", first)):events.index(("answered", first))]
        assert [n for event, n in alone if event == "arrived"] == [first], events  # none left beside it
        assert len(fake.requests) == 13


def test_a_limit_that_never_lifts_fails_after_the_allowed_wait_not_after_five_answers():
    """Limit answers spend no attempts: they are waited out for at most max_rate_limit_wait_seconds
    from the first, then the request fails with one line naming the limit."""
    sim = SimulatedTime(1_900_000_000.0)
    with scenario.serve(FakeGitHub(token=scenario.TOKEN, clock=sim.clock)) as fake:
        fake.fail_next("/repos/alpha/snake", 403, count=1000, headers={"retry-after": "10"},
                       body={"message": SECONDARY})
        gh = GitHubClient(api_url=fake.url, credentials=[StaticToken(scenario.TOKEN)], clock=sim.clock,
                          sleep=sim.sleep, max_rate_limit_wait_seconds=95)
        with pytest.raises(GitHubRateLimited, match="kept refusing repository alpha/snake for longer than the "
                                                    "allowed wait of 95s"):
            gh.get_repository("alpha/snake")
        gh.close()
        assert fake.count("/repos/alpha/snake") == 10  # at 0, 10, ..., 90 s; a 10th wait would pass 95 s
        assert sum(sim.sleeps) == pytest.approx(90)


# -- one item's answer is that item's status -----------------------------------------------------------

SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
LIBRARY_WORDS = ("TooManyRedirects", "DecodingError", "Exceeded maximum allowed redirects", "Error -3",
                 "incorrect header check", "Traceback")


def redirect_in_a_loop(fake: FakeGitHub, path: str) -> None:
    """``path`` answers 301 to itself, for ever."""
    fake.fail_next(path, 301, count=1000, headers={"location": f"{fake.url}{path}"},
                   body={"message": "Moved Permanently", "url": f"{fake.url}{path}"})


def falsely_gzipped(fake: FakeGitHub, path: str) -> None:
    """``path`` answers its JSON with ``Content-Encoding: gzip``, for ever: the body is not gzip."""
    fake.fail_next(path, 200, count=1000, headers={"content-encoding": "gzip"})


def raw_readmes(engine, language: str, day: date = DAY) -> dict[str, str]:
    return {r["repo_full_name"]: r["readme_status"] for r in rows(
        engine, "select repo_full_name, readme_status from raw_github_repos where snapshot_date = :d"
                " and language = :l", d=day, l=language)}


def test_a_readme_that_cannot_be_read_is_that_readmes_status(fake_github, resources, instance, engine):
    """A README answered with a body that is not the gzip its Content-Encoding says is retried like a
    transport failure and, when it stays so, recorded as the README's status; a README whose request
    redirects in a loop is recorded at once (a loop does not end on retry). The category proceeds."""
    falsely_gzipped(fake_github, "/repos/alpha/snake/readme")
    redirect_in_a_loop(fake_github, "/repos/beta/pyllm/readme")
    [result, *_] = materialize_day(resources, instance, DAY, languages=["python"], refetch=True)
    assert not (failed := failures([result])), failed
    statuses = raw_readmes(engine, "python")
    assert statuses["alpha/snake"] == "undecodable" and statuses["beta/pyllm"] == "redirect_loop"
    assert statuses["delta/nul"] == "ok"
    assert fake_github.count("/repos/alpha/snake/readme") == 5  # max_attempts
    staged = {r["repo_id"] for r in rows(engine, "select repo_id from stg_repos_validated where language = 'python'")}
    assert staged == scenario.EXPECTED["python"]
    [mat] = result.asset_materializations_for_node("raw_github_repos")
    assert mat.metadata["readme_status"].value["undecodable"] == 1


def test_a_watched_repository_that_cannot_be_read_is_that_repositorys_status(cli_env, engine, fake_github,
                                                                              tmp_path):
    """A watchlist category with one repository that redirects in a loop and one whose answer is
    not the gzip it claims: both are reported by name with a readable reason, the rest is the day."""
    redirect_in_a_loop(fake_github, "/repos/loop/forever")
    falsely_gzipped(fake_github, "/repos/beta/pyllm")
    config = tmp_path / "trender.yaml"
    config.write_text("categories:\n  team: {watchlist: [alpha/snake, loop/forever, beta/pyllm]}\n")
    env = {**cli_env, "TRENDER_CONFIG": str(config), "TRENDER_REPORT_DIR": str(tmp_path / "reports")}
    day = trender(env, "run", "--date", DAY.isoformat())
    output = day.stdout + day.stderr
    assert day.returncode == 0, output
    [line] = [line for line in day.stdout.splitlines() if "raw_github_repos" in line and "|team" in line]
    assert "loop/forever redirects in a loop" in line, line
    assert "beta/pyllm answers with a body not decodable as its Content-Encoding says" in line, line
    assert not [word for word in LIBRARY_WORDS if word in output], output
    assert set(raw_readmes(engine, "team")) == {"alpha/snake"}


# -- one rejected token leaves the pool, the day goes on -------------------------------------------------

REVOKED = "ghp_REVOKEDsentinelTOKEN0123456789"


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def test_a_rejected_token_leaves_the_pool_and_the_day_goes_on(database_url, engine, instance, frozen_now, caplog):
    """GITHUB_TOKENS=revoked,good: the revoked token's 401 takes it out of the pool with one warning
    naming it by position and fingerprint, the request goes on with the good one, and the day is the
    good-only day. Before, whichever partition met the revoked token failed."""
    caplog.set_level(logging.INFO)
    with scenario.serve(FakeGitHub(token=scenario.TOKEN)) as fake:
        assert failures(materialize_day(resources_for(fake, database_url), instance, DAY, ranges=True)) == []
        good_only = warehouse_dump(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("truncate github_http_cache"))
        caplog.clear()
        # the revoked token first: the pool tries it before it knows either token's quota, so it is met
        # whatever order the day's requests leave in
        pool = resources_for(fake, database_url, token=None, tokens=f"{REVOKED},{scenario.TOKEN}")
        results = materialize_day(pool, instance, DAY, refetch=True, ranges=True)
        assert not (failed := failures(results)), failed
        assert warehouse_dump(engine) == good_only
        rejected = [r for r in fake.requests if r.status == 401]  # only those in flight when it was learnt
        assert 1 <= len(rejected) <= 4 and all(r.headers["authorization"] == f"Bearer {REVOKED}" for r in rejected)
    warnings = [r.getMessage() for r in caplog.records if "rejected token" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].endswith(
        f"GitHub rejected token 1 of 2 (sha256 {fingerprint(REVOKED)}): it is left out for the rest of this run;"
        " the other tokens carry on"), warnings
    events = [repr(event) for result in results for event in result.all_events]
    assert REVOKED not in caplog.text + "\n".join(events)


def test_when_every_token_is_rejected_the_request_fails_in_one_line(fake_github, database_url):
    github = resources_for(fake_github, database_url, token=None, tokens=f"{REVOKED},ghp_ALSOrevokedSENTINEL")["github"]
    with pytest.raises(GitHubAuthError) as caught:
        github.readmes(["alpha/snake"])
    assert str(caught.value) == ("GitHub rejected the token (Bad credentials) while fetching README of alpha/snake;"
                                 " check GITHUB_TOKEN")
    assert [r.status for r in fake_github.requests] == [401, 401]


def test_auth_check_reports_each_token(cli_env, fake_github):
    env = {**cli_env, "GITHUB_TOKEN": "", "GITHUB_TOKENS": f"{scenario.TOKEN},{REVOKED}"}
    checked = trender(env, "auth", "check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == [
        f"token 1 of 2 (sha256 {fingerprint(scenario.TOKEN)}): valid; code_search 9/9, core 5000/5000, "
        "search 30/30",
        f"token 2 of 2 (sha256 {fingerprint(REVOKED)}): rejected (Bad credentials)",
    ]
    assert "1 of 2 tokens rejected" in checked.stderr
    assert REVOKED not in checked.stdout + checked.stderr


def test_a_renewable_credential_is_renewed_once_per_rejection(fake_github):
    """A GitHub App token GitHub rejects is renewed and the request retried; one still rejected right
    after its renewal is rejected (alone, the one line; in a pool, it would leave it)."""
    from trender_assets.github.credentials import AppInstallationToken
    from trender_assets_tests.test_github_behaviour import _rsa_pair

    private, public = _rsa_pair()
    fake_github.configure_app("4242", public, "77")
    app = AppInstallationToken("4242", private, "77", fake_github.url)
    gh = GitHubClient(api_url=fake_github.url, credentials=[app], backoff_seconds=0.01)
    fake_github.fail_next("/repos/alpha/snake", 401, body={"message": "Bad credentials"})
    assert gh.get_repository("alpha/snake")["id"] == 101  # renewed, then answered
    fake_github.fail_next("/repos/beta/pyllm", 401, count=2, body={"message": "Bad credentials"})
    with pytest.raises(GitHubAuthError, match=r"^GitHub rejected the token \(Bad credentials\) while fetching"):
        gh.get_repository("beta/pyllm")
    assert [r.headers["authorization"] for r in fake_github.requests if r.path.startswith("/repos/")] == [
        "Bearer ghs_issued1", "Bearer ghs_issued2", "Bearer ghs_issued2", "Bearer ghs_issued3"]
    gh.close()
