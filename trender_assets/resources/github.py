"""The GitHub resource: everything trender knows about GitHub, behind domain methods.

Assets never build URLs; they ask for "the trending repositories of a language on day D",
"the render projects of day D" and "these READMEs".
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Callable, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from trender_assets.logic.discovery import RENDER_CODE_QUERY, language_query, render_created_since
from trender_assets.resources.env import resolved
from trender_assets.resources.github_client import GitHubClient, Readme, Telemetry


class GitHubResource(dg.ConfigurableResource):
    """GitHub REST API over one pooled httpx client with retries and rate-limit waits.

    ``token`` comes from ``EnvVar("GITHUB_TOKEN")`` (the UI shows the name, never the value);
    without one, requests are anonymous and code search (render discovery) is unavailable.
    """

    token: Optional[str] = Field(default=None, repr=False)
    api_url: str = "https://api.github.com"
    api_version: str = "2022-11-28"
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_rate_limit_wait_seconds: float = 900.0
    secondary_limit_wait_seconds: float = 60.0
    max_concurrency: int = 4
    """Requests in flight at once for READMEs and repository look-ups (GitHub asks for few)."""
    readme_max_chars: int = 200_000
    render_scan_limit: int = 100
    """Code-search hits examined for render discovery (each costs one repository request)."""

    _client: Optional[GitHubClient] = PrivateAttr(default=None)
    _sleep: Optional[Callable[[float], None]] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = self._make_client()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _make_client(self) -> GitHubClient:
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return GitHubClient(
            api_url=self.api_url,
            token=resolved(self.token),
            api_version=self.api_version,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            secondary_limit_wait_seconds=self.secondary_limit_wait_seconds,
            **kwargs,
        )

    @property
    def client(self) -> GitHubClient:
        if self._client is None:  # used outside a run (CLI preflight, tests)
            self._client = self._make_client()
        return self._client

    @property
    def has_token(self) -> bool:
        return bool(resolved(self.token))

    @property
    def telemetry(self) -> Telemetry:
        return self.client.telemetry

    def rate_limit(self) -> dict:
        return self.client.rate_limit()

    def trending_repositories(self, github_language: str, snapshot_date: date, limit: int,
                              pushed_within_days: int = 30, created_within_days: int = 180) -> list[dict]:
        """Most-starred young, active repositories of a language, as of the snapshot date."""
        query = language_query(github_language, snapshot_date, pushed_within_days, created_within_days)
        return self.client.search_repositories(query, limit)

    def render_projects(self, snapshot_date: date, limit: int, max_age_days: int = 548) -> list[dict]:
        """Repositories with render.yaml at their root, created within max_age_days, top by stars.

        Code-search items lack stars and dates, so each hit's repository is fetched.
        """
        hits = self.client.search_code(RENDER_CODE_QUERY, self.render_scan_limit)
        names: dict[int, str] = {}
        for hit in hits:
            repo = hit.get("repository") or {}
            if hit.get("path") == "render.yaml" and isinstance(repo.get("id"), int) and repo.get("full_name"):
                names.setdefault(repo["id"], repo["full_name"])
        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            repos = [r for r in pool.map(self.client.get_repository, names.values()) if r]
        since = render_created_since(snapshot_date, max_age_days)
        unique = {r["id"]: r for r in repos if isinstance(r.get("id"), int)}

        def created_on(repo: dict) -> Optional[date]:
            try:
                return datetime.fromisoformat(str(repo.get("created_at")).replace("Z", "+00:00")).date()
            except ValueError:
                return None

        young = [r for r in unique.values() if (created_on(r) or date.min) >= since]
        young.sort(key=lambda r: (-(r.get("stargazers_count") or 0), r["id"]))
        return young[:limit]

    def readmes(self, full_names: list[str]) -> dict[str, Optional[Readme]]:
        """READMEs of many repositories, fetched concurrently within ``max_concurrency``."""
        def one(name: str) -> Optional[Readme]:
            return self.client.get_readme(name, self.readme_max_chars)

        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            return dict(zip(full_names, pool.map(one, full_names)))
