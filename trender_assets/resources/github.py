"""The GitHub resource: everything trender knows about GitHub, behind domain methods.

Assets never build URLs; they ask for "the trending repositories of a language on day D",
"the render projects of day D" and "these READMEs".
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Optional

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, PrivateAttr

from trender_assets.errors import ConfigurationError
from trender_assets.logic.discovery import RENDER_CODE_QUERY, language_query, render_created_since
from trender_assets.resources.env import resolved
from trender_assets.resources.github_cache import MemoryCache, WarehouseCache
from trender_assets.resources.github_client import GitHubClient, Readme, Telemetry
from trender_assets.resources.github_credentials import (
    AppInstallationToken,
    Credential,
    OAuthTokenStore,
    OAuthUserToken,
    StaticToken,
)


class GitHubResource(dg.ConfigurableResource):
    """GitHub REST API over one pooled httpx client: retries, per-resource rate limits, ETags.

    Credentials come from environment variables through ``EnvVar`` (the UI shows their names, never
    their values): ``GITHUB_TOKEN`` and/or ``GITHUB_TOKENS`` (comma-separated, spread across), a
    GitHub App installation, or a refreshable OAuth user token. With none, requests are anonymous
    and code search (render discovery) is unavailable.
    """

    token: Optional[str] = Field(default=None, repr=False)
    tokens: Optional[str] = Field(default=None, repr=False)
    """Several tokens, comma-separated; each keeps its own rate limits."""
    app_id: Optional[str] = None
    app_private_key: Optional[str] = Field(default=None, repr=False)
    """PEM text, or the path of a PEM file."""
    app_installation_id: Optional[str] = None
    oauth_client_id: Optional[str] = None
    oauth_client_secret: Optional[str] = Field(default=None, repr=False)
    oauth_url: str = "https://github.com"
    encryption_key: Optional[str] = Field(default=None, repr=False)
    """Fernet key that encrypts stored OAuth tokens (TRENDER_ENCRYPTION_KEY)."""
    api_url: str = "https://api.github.com"
    api_version: str = "2022-11-28"
    timeout_seconds: float = 30.0
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_rate_limit_wait_seconds: float = 900.0
    secondary_limit_wait_seconds: float = 60.0
    max_concurrency: int = 4
    """Requests in flight at once (GitHub asks for few; never near its limit of 100)."""
    pace_searches: bool = True
    """Space searches under 30/min and code searches under 9/min."""
    readme_max_chars: int = 200_000
    render_scan_limit: int = 100
    """Code-search hits examined for render discovery (each costs one repository request)."""

    _client: Optional[GitHubClient] = PrivateAttr(default=None)
    _engine: Optional[sa.Engine] = PrivateAttr(default=None)
    _sleep: Optional[Callable[[float], None]] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = None  # built on first use, once the warehouse is attached

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def attach_warehouse(self, engine: sa.Engine) -> None:
        """Keep the ETag cache (and OAuth tokens) in the warehouse, so they outlive the run."""
        if self._engine is not engine:
            self._engine = engine
            if self._client is not None:
                self._client.close()
                self._client = None

    def credentials(self) -> list[Credential]:
        found: list[Credential] = []
        secrets = [resolved(self.token), *(resolved(self.tokens) or "").split(",")]
        for secret in secrets:
            if secret and secret.strip() and all(c.identity != StaticToken(secret.strip()).identity for c in found):
                found.append(StaticToken(secret.strip()))
        app_id = resolved(self.app_id)
        if app_id:
            key = resolved(self.app_private_key) or ""
            if key and not key.lstrip().startswith("-----") and Path(key).expanduser().is_file():
                key = Path(key).expanduser().read_text()
            found.append(AppInstallationToken(app_id, key, resolved(self.app_installation_id) or "", self.api_url))
        client_id = resolved(self.oauth_client_id)
        if client_id:
            if self._engine is None or not resolved(self.encryption_key):
                raise ConfigurationError("OAuth user tokens need the warehouse and TRENDER_ENCRYPTION_KEY")
            store = OAuthTokenStore(self._engine, resolved(self.encryption_key))
            found.append(OAuthUserToken(store, client_id, resolved(self.oauth_client_secret) or "", self.oauth_url))
        return found

    def _make_client(self) -> GitHubClient:
        kwargs = {"sleep": self._sleep} if self._sleep else {}
        return GitHubClient(
            api_url=self.api_url,
            api_version=self.api_version,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            backoff_seconds=self.backoff_seconds,
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            secondary_limit_wait_seconds=self.secondary_limit_wait_seconds,
            credentials=self.credentials() or None,
            max_concurrency=self.max_concurrency,
            cache=WarehouseCache(self._engine) if self._engine is not None else MemoryCache(),
            pace=self.pace_searches,
            logger=dg.get_dagster_logger("trender.github"),
            **kwargs,
        )

    @property
    def client(self) -> GitHubClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    @property
    def has_token(self) -> bool:
        return bool(resolved(self.token) or resolved(self.tokens) or resolved(self.app_id)
                    or resolved(self.oauth_client_id))

    @property
    def telemetry(self) -> Telemetry:
        return self.client.telemetry

    def rate_limit(self) -> dict:
        return self.client.rate_limit()

    def trending_repositories(self, github_language: str, snapshot_date: date, limit: int,
                              pushed_within_days: int = 30, created_within_days: int = 180) -> list[dict]:
        """Most-starred young, active repositories of a language, as of the snapshot date."""
        query = language_query(github_language, snapshot_date, pushed_within_days, created_within_days)
        created_since = snapshot_date - timedelta(days=created_within_days)
        return self.client.search_repositories(query, limit, created_since=created_since,
                                               created_until=snapshot_date)

    def render_projects(self, snapshot_date: date, limit: int, max_age_days: int = 548) -> list[dict]:
        """Repositories with render.yaml at their root, created within max_age_days, top by stars.

        Code-search items lack stars and dates, so each hit's repository is fetched (conditionally).
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
