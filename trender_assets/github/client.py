"""A polite GitHub client: repositories, searches, READMEs and GraphQL look-ups over one transport.

Ours because trender needs GitHub's rate limits kept per token and resource across threads, ETags
kept in the warehouse, and per-item answers told apart from systemic failures; a general SDK
(PyGithub, githubkit) would still need all three built around it.

Nothing is lost silently: a transient failure is retried (see ``transport``), and what cannot be
fetched raises an error naming it, so a partition is never stored half-fetched. Failure has a
scope: a permanent answer about one item (a README over 1 MB, a repository that is empty, gone or
blocked, a body of the wrong shape) is returned as that item's status; only systemic failures
(credentials, limits beyond the allowed wait, repeated 5xx, unreadable search pages) raise.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any, Callable, Optional, Sequence

from trender_assets.errors import GitHubError
from trender_assets.github import answers, graphql, readmes, search
from trender_assets.github.cache import ResponseCache
from trender_assets.github.credentials import Anonymous, Credential
from trender_assets.github.graphql import NodeLookup
from trender_assets.github.origin import without_userinfo
from trender_assets.github.readmes import Readme
from trender_assets.github.search import SearchHits
from trender_assets.github.telemetry import Telemetry
from trender_assets.github.transport import ItemUnreadable, Transport, readable_json
from trender_assets.logic.repo_names import repository_path


class GitHubClient:
    """GitHub's REST and GraphQL APIs as trender asks them; free of Dagster (``GitHubResource``
    wraps it). Safe to share across threads: one rate governor and connection pool for all."""

    def __init__(
        self,
        api_url: str = "https://api.github.com",
        credentials: Optional[Sequence[Credential]] = None,
        api_version: str = "2022-11-28",
        timeout_seconds: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_rate_limit_wait_seconds: float = 900.0,
        secondary_limit_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_concurrency: int = 4,
        cache: Optional[ResponseCache] = None,
        pace: bool = True,
        telemetry: Optional[Telemetry] = None,
        logger: Optional[logging.Logger] = None,
    ):
        self._transport = Transport(
            api_url, list(credentials or [Anonymous()]), api_version=api_version, timeout_seconds=timeout_seconds,
            max_attempts=max_attempts, backoff_seconds=backoff_seconds,
            max_rate_limit_wait_seconds=max_rate_limit_wait_seconds,
            secondary_limit_wait_seconds=secondary_limit_wait_seconds, sleep=sleep, clock=clock,
            max_concurrency=max_concurrency, cache=cache, pace=pace, telemetry=telemetry, logger=logger)
        self._graphql_url = graphql.graphql_url(str(without_userinfo(api_url)))  # see ``origin``

    def close(self) -> None:
        self._transport.close()

    def __repr__(self) -> str:  # never show headers or credentials
        return f"GitHubClient(api_url={self.base_url!r}, credentials={self._transport.identities})"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def has_token(self) -> bool:
        return self._transport.has_token

    @property
    def telemetry(self) -> Telemetry:
        return self._transport.telemetry

    @property
    def cache(self) -> Optional[ResponseCache]:
        return self._transport.cache

    def get_json(self, path_or_url: str, what: str, params: Optional[dict] = None, allow_404: bool = False,
                 conditional: bool = False) -> Any:
        """GET JSON; a truncated or unreadable body is retried like a transport failure."""
        answer = self._transport.request(path_or_url, what, params=params, conditional=conditional,
                                         usable=readable_json)
        response = answer.response
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            raise GitHubError(answers.refused(response.status_code, what, response))
        if answer.problem:
            raise GitHubError(f"GitHub kept sending {answer.problem} for {what}")
        return answer.body

    def rate_limit(self) -> dict:
        """Quota per resource; free of charge against the primary limit."""
        return self.get_json("/rate_limit", what="the rate limit status")

    def get_repository(self, full_name: str) -> Optional[dict]:
        """Full repository JSON (renames followed via 301; the answer has the new full_name).
        A name that breaks GitHub's naming rules raises InvalidRepositoryName; nothing is sent."""
        return self.get_json(repository_path(full_name), what=f"repository {full_name}", allow_404=True,
                             conditional=True)

    def get_watched_repository(self, full_name: str) -> tuple[Optional[dict], str]:
        """A repository asked for by name, and what GitHub said about it: ``ok`` (a rename is
        followed through the 301; the answer has the new full_name), ``not_found`` (404: deleted,
        or private now), ``blocked`` (451), or an answer no retry reads (``transport.ITEM_STATUSES``).
        Facts about one repository, not failures."""
        return self._watched(repository_path(full_name), f"repository {full_name}")

    def get_repository_by_id(self, repo_id: int) -> tuple[Optional[dict], str]:
        """A repository asked for by its durable id (``/repositories/{id}``), whatever its name is
        now, with what GitHub said about it, as ``get_watched_repository``."""
        return self._watched(f"/repositories/{int(repo_id)}", f"repository {int(repo_id)}")

    def _watched(self, path: str, what: str) -> tuple[Optional[dict], str]:
        try:
            answer = self._transport.request(path, what, conditional=True, usable=readable_json)
        except ItemUnreadable as exc:
            return None, exc.status
        status = answer.response.status_code
        if status in (404, 451):
            return None, "not_found" if status == 404 else "blocked"
        if status >= 400:
            raise GitHubError(answers.refused(status, what, answer.response))
        if answer.problem:
            raise GitHubError(f"GitHub kept sending {answer.problem} for {what}")
        return answer.body, "ok"

    def get_readme(self, full_name: str, max_chars: int = 200_000) -> Readme:
        """The preferred README, whatever its name, with its status (see ``readmes.README_STATUSES``)."""
        return readmes.get_readme(self._transport, full_name, max_chars)

    def search_repositories(self, query: str, limit: int) -> list[dict]:
        """Top ``limit`` distinct repositories for ``query``, as GitHub ranks them by stars."""
        return search.repositories(self._transport, query, limit)

    def search_repositories_created(self, query: str, limit: int, since: date, until: date) -> list[list[dict]]:
        """Repositories for ``query`` created in ``since..until``: one list per ``created:`` window
        asked (several only beyond GitHub's 1,000-result cap); ``logic.discovery`` merges them."""
        return search.repositories_created(self._transport, query, limit, since, until)

    def search_code(self, query: str, limit: int) -> SearchHits:
        """Up to ``limit`` distinct code-search hits and GitHub's total_count (needs a token)."""
        return search.code(self._transport, query, limit)

    def repositories_by_node_id(self, node_ids: Sequence[str]) -> NodeLookup:
        """Repository nodes by node id through GraphQL, 100 per query; unresolvable ids in ``missing``."""
        return graphql.repositories_by_node_id(self._transport, self._graphql_url, node_ids)
