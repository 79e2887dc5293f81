"""A day never fails for a limit, one item or one token.

GitHub is the fake over real HTTP on 127.0.0.1, the day runs through Dagster into the real
PostgreSQL, and the warehouse is read back. Rate limits run on compressed time: the client and the
fake share a clock that runs faster than the wall clock, so GitHub's second-sized penalties pass in
milliseconds while the run's threads race each other as they do in production.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import sqlalchemy as sa

from trender_assets.github import GitHubClient
from trender_assets.github.credentials import Credential
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import materialize_day, warehouse_dump

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

def test_a_day_under_gitHubs_limits_equals_a_day_without_them(database_url, engine, instance, frozen_now):
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
