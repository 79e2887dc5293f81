"""The GitHub resource: everything trender asks GitHub, behind domain methods.

Assets never build URLs; they ask for "the trending repositories of a language (or a topic) on
day D", "the projects with this file at their root on day D", "these watched repositories" and
"these READMEs". The HTTP lives in ``trender_assets.github``
(free of Dagster); which repositories a day keeps is decided in ``logic.discovery``.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, ContextManager, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from trender_assets.errors import ConfigurationError
from trender_assets.github import GitHubClient, Readme, Telemetry
from trender_assets.github.cache import MemoryCache, WarehouseCache
from trender_assets.github.credentials import (
    AppInstallationToken,
    Credential,
    OAuthTokenStore,
    OAuthUserToken,
    StaticToken,
    app_private_key,
)
from trender_assets.github.graphql import rest_shape
from trender_assets.github.telemetry import RunTelemetry, partition_spend
from trender_assets.clock import utc_now
from trender_assets.logic import discovery
from trender_assets.logic.repo_names import (
    StoredName,
    full_name_problem,
    names_now_meaning_another,
    names_of_one_repository,
)
from trender_assets.logic.validation import created_at_problem
from trender_assets.resources.env import resolved
from trender_assets.resources.warehouse import WarehouseResource


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
    and code search (render discovery) is unavailable. The nested ``warehouse`` keeps the ETag
    cache and OAuth tokens across runs; without it (tests) the cache lasts one client.
    """

    warehouse: Optional[WarehouseResource] = None
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
    """HTTP requests per call at most, whatever fails (5xx, dropped connection, unreadable body...)."""
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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._client = None  # built on first use

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
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
            key = app_private_key(resolved(self.app_private_key) or "")
            found.append(AppInstallationToken(app_id, key, resolved(self.app_installation_id) or "",
                                              resolved(self.api_url)))
        client_id = resolved(self.oauth_client_id)
        if client_id:
            if self.warehouse is None or not resolved(self.encryption_key):
                raise ConfigurationError("OAuth user tokens need the warehouse and TRENDER_ENCRYPTION_KEY")
            store = OAuthTokenStore(self.warehouse.engine, resolved(self.encryption_key))
            found.append(OAuthUserToken(store, client_id, resolved(self.oauth_client_secret) or "", self.oauth_url))
        return found

    def make_client(self, credentials: Optional[list[Credential]] = None, **overrides: Any) -> GitHubClient:
        """A client configured as this resource is (``credentials``/``overrides`` narrow it, e.g.
        to probe one token); the caller closes it. Runs share ``client`` instead."""
        settings: dict[str, Any] = dict(
            api_url=resolved(self.api_url), api_version=self.api_version, timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts, backoff_seconds=self.backoff_seconds,
            max_rate_limit_wait_seconds=self.max_rate_limit_wait_seconds,
            secondary_limit_wait_seconds=self.secondary_limit_wait_seconds, max_concurrency=self.max_concurrency,
            pace=self.pace_searches, logger=dg.get_dagster_logger("trender.github"))
        settings.update(overrides)
        cache = WarehouseCache(self.warehouse.engine) if self.warehouse is not None else MemoryCache()
        return GitHubClient(credentials=credentials or self.credentials() or None, cache=cache,
                            telemetry=RunTelemetry(), **settings)

    @property
    def client(self) -> GitHubClient:
        """One client per run, shared by the partitions it fetches at once (one rate governor)."""
        with self._client_lock:
            if self._client is None:
                self._client = self.make_client()
            return self._client

    @property
    def has_token(self) -> bool:
        return bool(resolved(self.token) or resolved(self.tokens) or resolved(self.app_id)
                    or resolved(self.oauth_client_id))

    @property
    def telemetry(self) -> Telemetry:
        """What the whole run cost (every partition it fetched)."""
        return self.client.telemetry

    def partition_telemetry(self) -> ContextManager[Telemetry]:
        """What the requests made inside this block (and the README threads it starts) cost: one
        partition's figures while other partitions use the same client. Quota left is the run's."""
        return partition_spend(self.client.telemetry)

    def check_access(self) -> dict:
        """``GET /rate_limit`` (free) with the normal retry policy, on a client of its own: proves
        GitHub answers and accepts the credentials before a run starts."""
        probe = self.make_client()
        try:
            return probe.rate_limit()
        finally:
            probe.close()

    def trending_repositories(self, github_language: str, snapshot_date: date, limit: int,
                              pushed_within_days: int = 30, created_within_days: int = 180) -> Discovered:
        """Most-starred young, active repositories of a language as of D: created in D-180..D."""
        query = discovery.language_query(github_language, snapshot_date, pushed_within_days)
        return self._most_starred(query, snapshot_date, limit, pushed_within_days, created_within_days)

    def topic_repositories(self, topic: str, snapshot_date: date, limit: int,
                           pushed_within_days: int = 30, created_within_days: int = 180) -> Discovered:
        """Most-starred young, active repositories of a topic, as a language's are chosen."""
        query = discovery.topic_query(topic, snapshot_date, pushed_within_days)
        return self._most_starred(query, snapshot_date, limit, pushed_within_days, created_within_days)

    def _most_starred(self, query: str, snapshot_date: date, limit: int, pushed_within_days: int,
                      created_within_days: int) -> Discovered:
        since, until = discovery.created_window(snapshot_date, created_within_days)
        windows = self.client.search_repositories_created(query, limit, since, until)
        pushed_since = snapshot_date - timedelta(days=pushed_within_days)
        return Discovered(discovery.most_starred(windows, limit), "search",
                          {"search_window": f"created {since}..{until}, pushed since {pushed_since}"})

    def render_projects(self, snapshot_date: date, limit: int, max_age_days: int = 548) -> Discovered:
        """Repositories with render.yaml at their root, created in D-548..D, top ``limit`` by stars."""
        return self.root_file_projects(discovery.RENDER_FILE, "render", snapshot_date, limit, max_age_days)

    def root_file_projects(self, filename: str, name: str, snapshot_date: date, limit: int,
                           max_age_days: int = 548) -> Discovered:
        """Repositories with ``filename`` at their root, created in D-548..D, top ``limit`` by stars;
        metadata keys start with ``name`` (``render_hits_total``).

        Code search cannot sort by stars or filter by date, so every hit (up to
        ``render_scan_limit``) is considered: its repository is looked up by node id through GraphQL,
        100 per query, and ranked by ``logic.discovery``.

        A node whose ``createdAt`` is missing, not a timestamp or later than the answer is bad data,
        not a repository outside the window: it is kept (within ``limit``, after the ranked ones) so
        raw stores it and staging rejects it with its reason, as it does a search item.
        """
        hits = self.client.search_code(discovery.root_file_query(filename), self.render_scan_limit)
        roots = discovery.root_hits(hits.items, filename)
        lookup = self.client.repositories_by_node_id(roots.node_ids)
        known_by = utc_now()
        since, until = discovery.created_window(snapshot_date, max_age_days)
        repos = [rest_shape(node) for node in lookup.found.values()]
        unusable = [repo for repo in repos if created_at_problem(repo, known_by)]
        chosen, in_window = discovery.render_projects(repos, since, until, max(0, limit - len(unusable)))
        return Discovered([*chosen, *unusable][:limit], "graphql", {
            f"{name}_hits_total": hits.total,
            f"{name}_hits_scanned": len(hits.items),
            f"{name}_scan_limit": self.render_scan_limit,
            f"{name}_root_repositories": len(roots.node_ids),
            f"{name}_hits_without_node_id": roots.without_node_id,
            f"{name}_repositories_not_found": dict(Counter(lookup.missing.values())),
            f"{name}_created_in_window": in_window,
            f"{name}_unusable_created_at": len(unusable),
            f"{name}_fields_github_could_not_give": dg.MetadataValue.json(dict(lookup.fields_not_given)),
            "search_window": f"created {since}..{until}",
        })

    def watchlist(self, full_names: tuple[str, ...] | list[str],
                  stored: Optional[dict[str, StoredName]] = None) -> Discovered:
        """Each watched repository as GitHub has it today, whatever its rank (a few at a time).
        A renamed one is followed and reported under its new name (listed under both names, it is
        kept once: a partition holds a repository once, and the metadata says which names are one);
        a deleted (404) or blocked (451) one is reported in the metadata and left out, never failing
        the partition.

        A name is not an identity: when a watched name now answers with another repository than
        the one ``stored`` under it before (lower-cased name -> ``StoredName``), the earlier one was
        renamed or deleted and another took its name. That is reported, naming both ids and names,
        with where the earlier one went (asked by id), never left out silently."""
        def one(name: str) -> tuple[Optional[dict], str]:
            return self.client.get_watched_repository(name)

        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            futures = [pool.submit(contextvars.copy_context().run, one, name) for name in full_names]
            answers = list(zip(full_names, (f.result() for f in futures)))
        answered = {name: discovery.repository_id(repo) for name, (repo, _s) in answers}
        found, ids = [], set()
        for _, (repo, _status) in answers:  # an old and a new name of one repository: kept once
            repo_id = discovery.repository_id(repo)
            if repo is not None and (repo_id is None or repo_id not in ids):
                found.append(repo)
                ids.add(repo_id)
        renamed = {name: repo.get("full_name") for name, (repo, _s) in answers
                   if repo is not None and str(repo.get("full_name", "")).lower() != name.lower()}
        missing = {name: status for name, (_r, status) in answers if status != "ok"}
        by_id = {discovery.repository_id(repo): repo for repo in found}
        another = {}
        for name, (repo_id, before) in names_now_meaning_another(answered, stored or {}).items():
            earlier, status = ((by_id[before.repo_id], "ok") if before.repo_id in by_id
                               else self.client.get_repository_by_id(before.repo_id))
            another[name] = {"repository_id": repo_id, "full_name": by_id[repo_id].get("full_name"), "before": {
                "repository_id": before.repo_id, "full_name": before.full_name,
                "stored_on": before.stored_on.isoformat(),
                "now": earlier.get("full_name") if isinstance(earlier, dict) else status,
                "in_the_day": before.repo_id in by_id}}
        return Discovered(found, "repository", {
            "watchlist_size": len(full_names),
            "watchlist_found": len(found),
            "watchlist_renamed": dg.MetadataValue.json(renamed),
            "watchlist_missing": dg.MetadataValue.json(missing),
            "watchlist_name_now_means_another_repository": dg.MetadataValue.json(another),
            "watchlist_one_repository_under_several_names": dg.MetadataValue.json(
                {str(repo_id): names for repo_id, names in names_of_one_repository(answered).items()}),
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
