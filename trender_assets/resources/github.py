"""The GitHub resource: everything trender knows about GitHub, behind domain methods.

Assets never build URLs; they ask for "the trending repositories of a language on day D",
"the render projects of day D" and "these READMEs".
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import dagster as dg
import sqlalchemy as sa
from pydantic import Field, PrivateAttr

from trender_assets.errors import ConfigurationError
from trender_assets.logic.discovery import RENDER_CODE_QUERY, created_window, language_query
from trender_assets.logic.repo_names import full_name_problem
from trender_assets.resources.env import resolved
from trender_assets.resources.github_cache import MemoryCache, WarehouseCache
from trender_assets.resources.github_client import GitHubClient, Readme, Telemetry
from trender_assets.resources.github_graphql import rest_shape
from trender_assets.resources.github_credentials import (
    AppInstallationToken,
    Credential,
    OAuthTokenStore,
    OAuthUserToken,
    StaticToken,
)


_partition_spend: contextvars.ContextVar[Optional[Telemetry]] = contextvars.ContextVar(
    "trender_partition_telemetry", default=None)


class RunTelemetry(Telemetry):
    """The client's telemetry for the whole run, which also counts each request, retry, wait and
    anomaly into the telemetry of the partition being fetched on that thread (see
    ``GitHubResource.partition_telemetry``): partitions fetched at once share one client."""

    def note(self, anomaly: str) -> None:
        super().note(anomaly)
        if (scoped := _partition_spend.get()) is not None:
            scoped.note(anomaly)

    def record(self, resource: str, response, path: str) -> None:
        super().record(resource, response, path)
        if (scoped := _partition_spend.get()) is not None:
            scoped.record(resource, response, path)

    def add_wait(self, seconds: float) -> None:
        super().add_wait(seconds)
        if (scoped := _partition_spend.get()) is not None:
            scoped.add_wait(seconds)

    def add_retry(self) -> None:
        super().add_retry()
        if (scoped := _partition_spend.get()) is not None:
            scoped.add_retry()


@dataclass(frozen=True)
class Discovered:
    """What a discovery found for one partition, and facts about how (for asset metadata)."""

    items: list[dict]
    source: str  # how ``items`` were fetched: "search" (REST) or "graphql" (nodes, in REST field names)
    facts: dict[str, Any] = field(default_factory=dict)


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
    render_scan_limit: int = 5_000
    """Most code-search hits examined for render discovery. Each 100 cost one code search (9/min)
    and one GraphQL query (~1 of 5,000 points/h); the metadata says how many were scanned of how many."""

    _client: Optional[GitHubClient] = PrivateAttr(default=None)
    _client_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
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
        client = GitHubClient(
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
        client.telemetry = RunTelemetry()
        return client

    @property
    def client(self) -> GitHubClient:
        """One client per run, shared by the partitions it fetches at once (one rate governor)."""
        with self._client_lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    @property
    def has_token(self) -> bool:
        return bool(resolved(self.token) or resolved(self.tokens) or resolved(self.app_id)
                    or resolved(self.oauth_client_id))

    @property
    def telemetry(self) -> Telemetry:
        """What the whole run cost (every partition it fetched)."""
        return self.client.telemetry

    @contextmanager
    def partition_telemetry(self) -> Iterator[Telemetry]:
        """What the requests made inside this block (and the README threads it starts) cost: one
        partition's figures while other partitions use the same client. Quota left is the run's."""
        spent = Telemetry()
        token = _partition_spend.set(spent)
        try:
            yield spent
        finally:
            _partition_spend.reset(token)
            if self._client is not None:
                spent.remaining = dict(self._client.telemetry.remaining)

    def rate_limit(self) -> dict:
        return self.client.rate_limit()

    def check_access(self) -> dict:
        """``GET /rate_limit`` (free) with the normal retry policy, on a client of its own: proves
        GitHub answers and accepts the credentials before a run starts."""
        probe = self._make_client()
        try:
            return probe.rate_limit()
        finally:
            probe.close()

    def trending_repositories(self, github_language: str, snapshot_date: date, limit: int,
                              pushed_within_days: int = 30, created_within_days: int = 180) -> Discovered:
        """Most-starred young, active repositories of a language as of D: created in D-180..D."""
        query = language_query(github_language, snapshot_date, pushed_within_days)
        since, until = created_window(snapshot_date, created_within_days)
        items = self.client.search_repositories(query, limit, created_since=since, created_until=until)
        pushed_since = snapshot_date - timedelta(days=pushed_within_days)
        return Discovered(items, "search", {"search_window": f"created {since}..{until}, pushed since {pushed_since}"})

    def render_projects(self, snapshot_date: date, limit: int, max_age_days: int = 548) -> Discovered:
        """Repositories with render.yaml at their root, created in D-548..D, top ``limit`` by stars.

        Code search cannot sort by stars or filter by date, so every hit (up to
        ``render_scan_limit``) is considered: its repository is looked up by node id through GraphQL,
        100 per query, and ranked here.
        """
        hits = self.client.search_code(RENDER_CODE_QUERY, self.render_scan_limit)
        node_ids: dict[str, None] = {}  # an ordered set: a repository may have several hits
        without_node_id = 0
        for hit in hits.items:
            repo = hit.get("repository") if isinstance(hit, dict) else None
            if not isinstance(repo, dict) or hit.get("path") != "render.yaml":
                continue
            node_id = repo.get("node_id")
            if isinstance(node_id, str) and node_id:
                node_ids.setdefault(node_id)
            else:
                without_node_id += 1
        lookup = self.client.repositories_by_node_id(list(node_ids))
        since, until = created_window(snapshot_date, max_age_days)
        repos = [rest_shape(node) for node in lookup.found.values()]
        unique: dict[Any, dict] = {}
        for repo in repos:
            unique.setdefault(repo["id"] if isinstance(repo.get("id"), int) else id(repo), repo)

        def created_on(repo: dict) -> Optional[date]:
            try:
                return datetime.fromisoformat(str(repo.get("created_at")).replace("Z", "+00:00")).date()
            except (ValueError, OverflowError):
                return None

        in_window = [r for r in unique.values() if since <= (created_on(r) or date.min) <= until]

        def stars(repo: dict) -> int:
            value = repo.get("stargazers_count")
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        in_window.sort(key=lambda r: (-stars(r), r["id"] if isinstance(r.get("id"), int) else 0))
        return Discovered(in_window[:limit], "graphql", {
            "render_hits_total": hits.total,
            "render_hits_scanned": len(hits.items),
            "render_scan_limit": self.render_scan_limit,
            "render_root_repositories": len(node_ids),
            "render_hits_without_node_id": without_node_id,
            "render_repositories_not_found": dict(Counter(lookup.missing.values())),
            "render_created_in_window": len(in_window),
            "search_window": f"created {since}..{until}",
        })

    def readmes(self, full_names: list[str]) -> dict[str, Readme]:
        """READMEs of many repositories, fetched concurrently within ``max_concurrency``. A name that
        breaks GitHub's naming rules is never sent: its status is ``invalid_name``."""
        def one(name: str) -> Readme:
            if full_name_problem(name):
                return Readme.unavailable("invalid_name")
            return self.client.get_readme(name, self.readme_max_chars)

        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            # each task runs in a copy of the caller's context: it counts to the caller's partition
            futures = [pool.submit(contextvars.copy_context().run, one, name) for name in full_names]
            return dict(zip(full_names, (f.result() for f in futures)))
