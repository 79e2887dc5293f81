"""A polite GitHub REST client: one pooled httpx client, retries, rate limits, ETags, telemetry.

Kept free of Dagster so it can be used and tested on its own; ``GitHubResource`` wraps it.
Secrets stay inside the credentials: they are never logged, never put in an exception message,
and never returned. Nothing is lost silently: a transient failure is retried, and what cannot be
fetched raises an error naming it, so a partition is never stored half-fetched.

Failure has a scope. A permanent answer about one item (a README over 1 MB, a repository that is
empty, gone or blocked, a body of the wrong shape) is returned as that item's status; only systemic
failures (credentials, limits beyond the allowed wait, repeated 5xx, unreadable search pages)
raise.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Optional, Sequence

import httpx
import tenacity

from trender_assets import __version__
from trender_assets.errors import GitHubAuthError, GitHubError
from trender_assets.logic.discovery import created_qualifier
from trender_assets.logic.raw_items import storable_text
from trender_assets.logic.repo_names import repository_path
from trender_assets.resources.github_cache import CachedResponse, ResponseCache, cache_key
from trender_assets.resources.github_credentials import Anonymous, Credential, StaticToken
from trender_assets.resources.github_graphql import NODES_PER_QUERY, REPOSITORY_NODES_QUERY, graphql_url
from trender_assets.resources.github_ratelimit import RESOURCES, RateGovernor, resource_for

log = logging.getLogger("trender.github")

USER_AGENT = f"trender/{__version__} (Dagster pipeline; GitHub trending snapshots)"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw+json"
SEARCH_CAP = 1000  # GitHub returns at most 1,000 results per search


SIZE_MAX = 2**31 - 1  # readme_size is an integer column

README_STATUSES = {
    "ok": "fetched (content-file JSON)",
    "ok_raw": "over 1 MB: GitHub refuses the JSON form (403 too_large), fetched with the raw media type",
    "none": "404: the repository has no README, or is gone since the search",
    "empty_repository": "409: the repository is empty",
    "blocked": "451 (or 403 'Repository access blocked'): unavailable, e.g. for legal reasons",
    "too_large": "over 100 MB: refused in every media type",
    "malformed": "the answer was not a README (e.g. a JSON list, or undecodable content)",
    "invalid_name": "full_name breaks GitHub's naming rules: not requested",
    "not_requested": "the record has no full_name to ask with",
}
"""``raw_github_repos.readme_status``: every README outcome that does not fail the partition."""


@dataclass(frozen=True)
class Readme:
    content: Optional[str]  # None unless status is ok / ok_raw
    sha: Optional[str] = None
    path: Optional[str] = None
    size: Optional[int] = None  # bytes of the full file, even when ``content`` is truncated
    truncated: bool = False
    status: str = "ok"

    @classmethod
    def unavailable(cls, status: str) -> "Readme":
        return cls(content=None, status=status)


@dataclass(frozen=True)
class SearchHits:
    items: list
    total: Optional[int]  # GitHub's total_count for the whole query; None when it sent no number


@dataclass(frozen=True)
class NodeLookup:
    found: dict[str, dict]  # node id -> GraphQL node, in the order asked
    missing: dict[str, str]  # node id -> why it has no repository (NOT_FOUND, not a repository...)


@dataclass
class Telemetry:
    """What the run cost: requests by resource and status, retries, waits, 304s, quota left."""

    requests: Counter = field(default_factory=Counter)  # "core 200" -> n
    retries: int = 0
    wait_seconds: float = 0.0
    not_modified: int = 0
    counted: int = 0  # requests that count against the primary limit (304s and /rate_limit do not)
    remaining: dict[str, int] = field(default_factory=dict)
    anomalies: Counter = field(default_factory=Counter)  # odd but survivable answers, by kind
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, anomaly: str) -> None:
        with self._lock:
            self.anomalies[anomaly] += 1

    def record(self, resource: str, response: httpx.Response, path: str) -> None:
        with self._lock:
            self.requests[f"{resource} {response.status_code}"] += 1
            if response.status_code == 304:
                self.not_modified += 1
            elif not path.startswith("/rate_limit"):
                self.counted += 1

    def add_wait(self, seconds: float) -> None:
        with self._lock:
            self.wait_seconds += seconds

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def as_metadata(self) -> dict[str, Any]:
        return {
            "github_requests": sum(self.requests.values()),
            "github_requests_counted": self.counted,
            "github_not_modified": self.not_modified,
            "github_requests_by_status": dict(sorted(self.requests.items())),
            "github_retries": self.retries,
            "github_wait_seconds": round(self.wait_seconds, 3),
            "github_remaining": dict(sorted(self.remaining.items())),
            "github_anomalies": dict(sorted(self.anomalies.items())),
        }


class _Retryable(Exception):
    """A failure worth retrying; ``wait`` is the delay to honour before the next attempt, if any."""

    def __init__(self, reason: str, wait: Optional[float] = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def _parse_json(content: bytes) -> Any:
    """JSON from GitHub's UTF-8 bytes; invalid UTF-8 becomes lone surrogates (``surrogateescape``)
    so the page stays readable and the one record carrying them is rejected later, not the page."""
    return json.loads(content.decode("utf-8", errors="surrogateescape"))


def _body(response: httpx.Response) -> Any:
    try:
        return _parse_json(response.content)
    except (ValueError, RecursionError):
        return None


def _message(response: httpx.Response) -> str:
    body = _body(response)
    if isinstance(body, dict):
        return storable_text(str(body.get("message", ""))) or ""
    return "" if body is not None else (storable_text(response.text[:200]) or "")


def _error_codes(response: httpx.Response) -> set[str]:
    body = _body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return {str(e.get("code")) for e in errors if isinstance(e, dict)} if isinstance(errors, list) else set()


def _is_rate_limit(response: httpx.Response) -> bool:
    return (response.status_code == 429 or response.headers.get("x-ratelimit-remaining") == "0"
            or bool((response.headers.get("retry-after") or "").strip())
            or "rate limit" in _message(response).lower())


def _permanent_refusal(response: httpx.Response) -> bool:
    """A 403 about one item (a blob too large, a blocked repository), not about the credentials."""
    return (response.status_code == 403 and not _is_rate_limit(response)
            and ("too_large" in _error_codes(response) or "access blocked" in _message(response).lower()))


def _readme_refusal(response: httpx.Response) -> Optional[str]:
    """The README status a permanent per-item answer stands for, or None when it is not one."""
    status = response.status_code
    if status in (404, 410):
        return "none"
    if status == 409:
        return "empty_repository"
    if status == 451 or (status == 403 and "access blocked" in _message(response).lower()):
        return "blocked"
    if status == 403 and "too_large" in _error_codes(response):
        return "too_large"
    return None


def _whole_number(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _etag_sha(response: httpx.Response) -> Optional[str]:
    """GitHub's ETag for a file is its quoted git blob sha."""
    tag = (response.headers.get("etag") or "").removeprefix("W/").strip('"')
    return tag if re.fullmatch(r"[0-9a-f]{40}", tag) else None


def truncate_clean(text: str, max_chars: int) -> tuple[str, bool]:
    """At most ``max_chars``, cut at the last paragraph or line break (else word) before the limit."""
    if len(text) <= max_chars:
        return text, False
    head = text[:max_chars]
    for boundary in ("\n\n", "\n", " "):
        cut = head.rfind(boundary)
        if cut > max_chars // 2:
            return head[:cut].rstrip(), True
    return head, True


def decode_readme_bytes(raw: bytes) -> str:
    """Tolerant: invalid UTF-8 replaced, BOM dropped, CRLF -> LF, NUL removed."""
    return raw.decode("utf-8", errors="replace").lstrip("\ufeff").replace("\r\n", "\n").replace("\x00", "")


class GitHubClient:
    def __init__(
        self,
        api_url: str = "https://api.github.com",
        token: Optional[str] = None,
        api_version: str = "2022-11-28",
        timeout_seconds: float = 30.0,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_rate_limit_wait_seconds: float = 900.0,
        secondary_limit_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        credentials: Optional[Sequence[Credential]] = None,
        max_concurrency: int = 4,
        cache: Optional[ResponseCache] = None,
        pace: bool = True,
        logger: Optional[logging.Logger] = None,
    ):
        if credentials is None:
            credentials = [StaticToken(token)] if token else [Anonymous()]
        self._credentials = {c.identity: c for c in credentials}
        self._identities = list(self._credentials)
        self.has_token = not all(isinstance(c, Anonymous) for c in credentials)
        self.telemetry = Telemetry()
        self.cache = cache
        self._log = logger or log
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._secondary_wait = secondary_limit_wait_seconds
        self._secondary_strikes: Counter = Counter()
        self._graphql_url = graphql_url(api_url)
        self._governor = RateGovernor(clock=clock, sleep=self._timed_sleep,
                                      max_wait_seconds=max_rate_limit_wait_seconds, pace=pace)
        self._in_flight = threading.BoundedSemaphore(max(1, max_concurrency))
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"User-Agent": USER_AGENT, "Accept": JSON_MEDIA, "X-GitHub-Api-Version": api_version},
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            follow_redirects=True,  # renamed or transferred repositories answer 301
            max_redirects=5,
            limits=httpx.Limits(max_connections=max(1, max_concurrency), max_keepalive_connections=max(1, max_concurrency)),
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never show headers or credentials
        return f"GitHubClient(api_url={str(self._http.base_url)!r}, credentials={self._identities})"

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    # -- transport ---------------------------------------------------------------------------

    def _timed_sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.telemetry.add_wait(seconds)
            self._sleep(seconds)

    def _wait_for(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            delay = exc.wait
        else:
            delay = self._backoff * (2 ** (state.attempt_number - 1)) + random.uniform(0, self._backoff)
        self.telemetry.add_retry()
        if delay:
            self.telemetry.add_wait(delay)
        self._log.warning("GitHub request retried in %.1fs: %s", delay,
                          exc.reason if isinstance(exc, _Retryable) else type(exc).__name__)
        return delay

    def _rate_limited(self, identity: str, resource: str, response: httpx.Response, what: str) -> None:
        """Book a rate-limit answer against the token and raise _Retryable, or a clear error."""
        status = response.status_code
        retry_after = (response.headers.get("retry-after") or "").strip()
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = (response.headers.get("x-ratelimit-reset") or "").strip()
        message = _message(response)
        now = self._clock()
        if retry_after.isdigit():  # secondary limit: the whole token rests, exactly as long as asked
            self._governor.block(identity, RESOURCES, now + float(retry_after))
        elif remaining == "0":  # primary limit of this resource: rest until it resets
            until = float(reset) + 1.0 if reset.isdigit() else now + self._secondary_wait
            self._governor.block(identity, [response.headers.get("x-ratelimit-resource") or resource], until)
        elif "secondary rate limit" in message.lower() or status == 429:
            self._secondary_strikes[identity] += 1
            wait = self._secondary_wait * 2 ** (self._secondary_strikes[identity] - 1)
            self._governor.block(identity, RESOURCES, now + wait)
        else:
            raise GitHubAuthError(f"GitHub refused {what} (HTTP {status}: {message or 'forbidden'})")
        raise _Retryable(f"{what}: rate limited (HTTP {status})", wait=0.0)

    def _graphql_rate_limited(self, identity: str, response: httpx.Response, what: str) -> None:
        """GraphQL reports an exhausted budget as HTTP 200 with an error of type RATE_LIMITED."""
        body = _body(response)
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list) or not any(
                isinstance(e, dict) and e.get("type") == "RATE_LIMITED" for e in errors):
            return
        reset = (response.headers.get("x-ratelimit-reset") or "").strip()
        until = float(reset) + 1.0 if reset.isdigit() else self._clock() + self._secondary_wait
        self._governor.block(identity, ["graphql"], until)
        raise _Retryable(f"{what}: GraphQL rate limited", wait=0.0)

    def _send(self, method: str, path_or_url: str, params: Optional[dict], accept: str, what: str,
              conditional: bool, json_body: Any = None) -> httpx.Response:
        resource = resource_for(httpx.URL(path_or_url).path or path_or_url)
        identity = self._governor.acquire(self._identities, resource, what)
        try:
            return self._send_as(identity, resource, method, path_or_url, params, accept, what,
                                 conditional, json_body)
        finally:
            self._governor.release(identity, resource)

    def _send_as(self, identity: str, resource: str, method: str, path_or_url: str, params: Optional[dict],
                 accept: str, what: str, conditional: bool, json_body: Any) -> httpx.Response:
        credential = self._credentials[identity]
        headers = {"Accept": accept}
        secret = credential.token()
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        url = str(self._http.build_request(method, path_or_url, params=params).url)
        use_cache = conditional and method == "GET" and self.cache is not None
        key = cache_key(identity, accept, url) if use_cache else None
        cached = self.cache.get(key) if key else None
        if cached:
            headers["If-None-Match"] = cached.etag
        try:
            with self._in_flight:
                response = self._http.request(method, path_or_url, params=params, headers=headers, json=json_body)
        except httpx.TransportError as exc:
            raise _Retryable(f"{what}: {type(exc).__name__}") from None
        self._governor.observe(identity, resource, response.headers)
        self.telemetry.record(resource, response, httpx.URL(url).path)
        self.telemetry.remaining = self._governor.remaining()
        status = response.status_code
        if status == 304 and cached:
            return httpx.Response(200, content=cached.body, headers={"content-type": cached.content_type,
                                                                      "x-trender-cache": "hit",
                                                                      "etag": cached.etag})
        if status >= 500:
            raise _Retryable(f"{what}: HTTP {status}")
        if status == 401:
            if credential.refresh_after_rejection():
                raise _Retryable(f"{what}: credential renewed after HTTP 401", wait=0.0)
            if self.has_token:
                raise GitHubAuthError(f"GitHub rejected the token ({_message(response) or 'HTTP 401'}) while "
                                      f"fetching {what}; check GITHUB_TOKEN")
            raise GitHubAuthError(f"GitHub requires authentication for {what}; set GITHUB_TOKEN")
        if status in (403, 429) and not _permanent_refusal(response):
            self._rate_limited(identity, resource, response, what)
        if resource == "graphql" and status == 200:
            self._graphql_rate_limited(identity, response, what)
        self._secondary_strikes[identity] = 0
        if key and status == 200 and response.headers.get("etag"):
            self.cache.put(key, url, identity, CachedResponse(
                response.headers["etag"], response.content, response.headers.get("content-type", "")))
        return response

    def request(self, path_or_url: str, params: Optional[dict] = None, accept: str = JSON_MEDIA,
                what: Optional[str] = None, conditional: bool = False, method: str = "GET",
                json_body: Any = None) -> httpx.Response:
        what = what or path_or_url.split("?")[0]
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait_for, sleep=self._timed_sleep_raw, reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(method, path_or_url, params, accept, what, conditional, json_body)
        except _Retryable as exc:
            raise GitHubError(f"GitHub at {self.base_url} did not answer {what} after "
                              f"{self._max_attempts} attempts ({exc.reason.split(': ')[-1]})") from None
        raise AssertionError("unreachable")

    def _timed_sleep_raw(self, seconds: float) -> None:
        if seconds > 0:  # already counted in _wait_for
            self._sleep(seconds)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return _parse_json(response.content)
        except (ValueError, RecursionError):
            return _UNREADABLE

    def _readable(self, send: Callable[[], httpx.Response], what: str,
                  usable: Callable[[httpx.Response, Any], bool]) -> tuple[httpx.Response, Any]:
        """Send until the answer is usable; a truncated or unreadable body is retried like a
        transport failure. Returns the last answer when it stays unusable (the caller decides)."""
        for attempt in range(1, self._max_attempts + 1):
            response = send()
            body = self._json(response) if response.content else None
            if usable(response, body) or attempt == self._max_attempts:
                return response, body
            self.telemetry.add_retry()
            self._timed_sleep(self._backoff * (2 ** (attempt - 1)))
        raise AssertionError("unreachable")

    def get_json(self, path_or_url: str, params: Optional[dict] = None, what: Optional[str] = None,
                 allow_404: bool = False, conditional: bool = False) -> Any:
        """GET JSON; a truncated or unreadable body is retried like a transport failure."""
        what = what or path_or_url.split("?")[0]
        response, body = self._readable(
            lambda: self.request(path_or_url, params=params, what=what, conditional=conditional), what,
            lambda r, b: r.status_code >= 400 or b is not _UNREADABLE)
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
        if body is _UNREADABLE:
            raise GitHubError(f"GitHub kept sending unreadable JSON for {what}")
        return body

    # -- search ------------------------------------------------------------------------------

    def _search_page(self, url: str, params: Optional[dict], what: str) -> Optional[tuple[httpx.Response, dict]]:
        """One complete page; None past the 1,000-result window. Partial answers are retried, then fail."""
        def complete(response: httpx.Response, body: Any) -> bool:
            return response.status_code >= 400 or (
                isinstance(body, dict) and isinstance(body.get("items"), list) and not body.get("incomplete_results"))

        response, body = self._readable(lambda: self.request(url, params=params, what=what), what, complete)
        if response.status_code == 422 and "first 1000" in _message(response):
            return None
        if response.status_code >= 400:
            raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
        if not complete(response, body):
            problem = "incomplete results" if isinstance(body, dict) and isinstance(body.get("items"), list) \
                else "unreadable JSON"
            raise GitHubError(f"GitHub kept returning {problem} for {what}; nothing was stored")
        return response, body

    def _search(self, path: str, query: str, limit: int, extra: dict, what: str,
                key: Callable[[Any], Any]) -> SearchHits:
        """Up to ``limit`` distinct items (following Link headers) and GitHub's total_count.

        Duplicates (GitHub's pages can shift between requests) are dropped before counting, so
        ``limit`` distinct items come back whenever GitHub has them.
        """
        per_page = max(1, min(100, limit))
        url: Optional[str] = path
        params: Optional[dict] = {"q": query, "per_page": per_page, "page": 1, **extra}
        items: list = []
        seen: set = set()
        total: Optional[int] = None
        first = True
        while url and len(items) < limit:
            page = self._search_page(url, params, what)
            if page is None:
                break
            response, body = page
            if first:
                total = _whole_number(body.get("total_count"))
                if total is None:
                    self.telemetry.note("search total_count not a number")
                first = False
            for item in body["items"]:
                identity = key(item)
                if identity is not None:
                    if identity in seen:
                        self.telemetry.note("search duplicate dropped")
                        continue
                    seen.add(identity)
                items.append(item)
                if len(items) == limit:
                    break
            next_link = response.links.get("next", {}).get("url")
            url, params = (next_link, None) if next_link else (None, None)
        return SearchHits(items, total)

    def search_repositories(self, query: str, limit: int, created_since: Optional[date] = None,
                            created_until: Optional[date] = None) -> list[dict]:
        """Top ``limit`` distinct repositories for ``query`` by stars.

        With ``created_since``, only repositories created in ``created_since..created_until``
        (inclusive; default today) are asked for. Beyond GitHub's 1,000-result cap that window is
        split into disjoint ``created:`` windows until each fits, and their top results are merged.
        """
        what = f"repository search '{query}'"
        if created_since is None:
            return self._search("/search/repositories", query, limit, {"sort": "stars", "order": "desc"},
                                what, _repository_key).items
        until = created_until or date.today()
        if limit <= SEARCH_CAP:  # GitHub sorts every match by stars before it cuts at 1,000
            windowed = f"{query} {created_qualifier(created_since, until)}"
            return self._search("/search/repositories", windowed, limit, {"sort": "stars", "order": "desc"},
                                what, _repository_key).items
        items = self._split_by_created(query, limit, created_since, until, what)
        return _dedupe(items, sort_by_stars=True)[:limit]

    def _split_by_created(self, query: str, limit: int, start: date, end: date, what: str) -> list:
        windowed = f"{query} {created_qualifier(start, end)}"
        hits = self._search("/search/repositories", windowed, min(limit, SEARCH_CAP),
                            {"sort": "stars", "order": "desc"}, what, _repository_key)
        if hits.total is None or hits.total <= SEARCH_CAP or start >= end:
            return hits.items
        middle = start + timedelta(days=(end - start).days // 2)
        return (self._split_by_created(query, limit, start, middle, what)
                + self._split_by_created(query, limit, middle + timedelta(days=1), end, what))

    def search_code(self, query: str, limit: int, size_range: tuple[int, int] = (0, 400_000)) -> SearchHits:
        """Up to ``limit`` distinct code-search hits and GitHub's total_count for ``query``; beyond
        1,000 the query is split into disjoint ``size:`` byte ranges."""
        if not self.has_token:
            raise GitHubAuthError("GitHub code search needs a token; set GITHUB_TOKEN")
        what = f"code search '{query}'"
        low, high = size_range
        scoped = query if size_range == (0, 400_000) else f"{query} size:{low}..{high}"
        hits = self._search("/search/code", scoped, min(limit, SEARCH_CAP), {}, what, _code_hit_key)
        if limit <= SEARCH_CAP or hits.total is None or hits.total <= SEARCH_CAP or low >= high:
            return hits
        middle = (low + high) // 2
        parts = self.search_code(query, limit, (low, middle)).items + self.search_code(query, limit, (middle + 1, high)).items
        unique, seen = [], set()
        for item in parts:
            identity = _code_hit_key(item)
            if identity is None or identity not in seen:
                seen.add(identity)
                unique.append(item)
        return SearchHits(unique[:limit], hits.total)

    # -- GraphQL -----------------------------------------------------------------------------

    def graphql(self, query: str, variables: dict, what: str) -> dict:
        """POST a GraphQL query; the body (``data`` and any per-item ``errors``). A body without
        ``data`` is a systemic failure: the query itself was refused."""
        response, body = self._readable(
            lambda: self.request(self._graphql_url, what=what, method="POST",
                                 json_body={"query": query, "variables": variables}),
            what, lambda r, b: r.status_code >= 400 or isinstance(b, dict))
        if response.status_code >= 400:
            raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
        if not isinstance(body, dict):
            raise GitHubError(f"GitHub kept sending unreadable JSON for {what}")
        if not isinstance(body.get("data"), dict):
            errors = body.get("errors") if isinstance(body.get("errors"), list) else []
            detail = "; ".join(storable_text(str(e.get("message"))) or "" for e in errors if isinstance(e, dict))
            raise GitHubError(f"GitHub refused {what}: {detail or 'no data in the answer'}")
        return body

    def repositories_by_node_id(self, node_ids: Sequence[str]) -> NodeLookup:
        """Repository nodes for ``node_ids``, 100 per GraphQL query. A node GitHub cannot resolve
        (``null`` plus a NOT_FOUND error) is a per-item answer, listed in ``missing``."""
        found: dict[str, dict] = {}
        missing: dict[str, str] = {}
        ids = list(dict.fromkeys(node_ids))
        for start in range(0, len(ids), NODES_PER_QUERY):
            batch = ids[start:start + NODES_PER_QUERY]
            what = f"repository look-up of {len(batch)} node ids"
            body = self.graphql(REPOSITORY_NODES_QUERY, {"ids": batch}, what)
            nodes = body["data"].get("nodes")
            if not isinstance(nodes, list) or len(nodes) != len(batch):
                raise GitHubError(f"GitHub answered the {what} without one node per id")
            reasons: dict[int, str] = {}
            for error in body.get("errors") or []:
                path = error.get("path") if isinstance(error, dict) else None
                if isinstance(path, list) and len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
                    reasons[path[1]] = storable_text(str(error.get("type") or error.get("message"))) or "error"
                else:
                    raise GitHubError(f"GitHub refused the {what}: {_graphql_message(error)}")
            for index, (node_id, node) in enumerate(zip(batch, nodes)):
                if isinstance(node, dict) and node.get("__typename") == "Repository":
                    found[node_id] = node
                else:
                    missing[node_id] = reasons.get(index) or ("NOT_A_REPOSITORY" if node else "NOT_FOUND")
        return NodeLookup(found, missing)

    # -- repositories and READMEs ------------------------------------------------------------

    def rate_limit(self) -> dict:
        """Quota per resource; free of charge against the primary limit."""
        return self.get_json("/rate_limit", what="the rate limit status")

    def get_repository(self, full_name: str) -> Optional[dict]:
        """Full repository JSON (renames followed via 301; the answer has the new full_name).
        A name that breaks GitHub's naming rules raises InvalidRepositoryName; nothing is sent."""
        return self.get_json(repository_path(full_name), what=f"repository {full_name}", allow_404=True,
                             conditional=True)

    def get_readme(self, full_name: str, max_chars: int = 200_000) -> Readme:
        """The preferred README, whatever its name, with its status (see ``README_STATUSES``).

        The JSON form comes first because it carries the path, blob sha and size in one (cacheable)
        answer; the raw media type, which carries only the bytes and an ETag, is the fallback for
        READMEs over 1 MB, which GitHub refuses as JSON (403 ``too_large``) or sends without content.
        """
        path = f"{repository_path(full_name)}/readme"
        what = f"README of {full_name}"
        response, body = self._readable(
            lambda: self.request(path, what=what, conditional=True), what,
            lambda r, b: r.status_code != 200 or b is not _UNREADABLE)
        status = response.status_code
        if status != 200:
            refusal = _readme_refusal(response)
            if refusal == "too_large":
                return self._raw_readme(path, full_name, max_chars, None)
            if refusal is None:
                raise GitHubError(f"GitHub answered HTTP {status} for {what}: {_message(response)}")
            return Readme.unavailable(refusal)
        if not isinstance(body, dict):
            self.telemetry.note("README answer not an object")
            return Readme.unavailable("malformed")
        size = body.get("size")
        size = size if _whole_number(size) is not None and 0 <= size <= SIZE_MAX else None
        content, encoding = body.get("content"), body.get("encoding")
        if body.get("type") != "file" or encoding not in ("base64", "none"):
            self.telemetry.note("README answer not a content file")
            return Readme.unavailable("malformed")
        if size and not content:  # over 1 MB GitHub may send encoding "none" and no content: ask raw
            return self._raw_readme(path, full_name, max_chars, body)
        if encoding != "base64" or not isinstance(content, str):
            return Readme.unavailable("malformed")
        try:
            raw = base64.b64decode(content)  # ignores the line wrapping GitHub adds
        except (binascii.Error, ValueError):
            return Readme.unavailable("malformed")
        text, truncated = truncate_clean(decode_readme_bytes(raw), max_chars)
        return Readme(content=text, sha=storable_text(body.get("sha")), path=storable_text(body.get("path")),
                      size=size if size is not None else len(raw), truncated=truncated, status="ok")

    def _raw_readme(self, path: str, full_name: str, max_chars: int, described: Optional[dict]) -> Readme:
        response = self.request(path, accept=RAW_MEDIA, what=f"raw README of {full_name}", conditional=True)
        if response.status_code != 200:
            refusal = _readme_refusal(response)
            if refusal is None:
                raise GitHubError(f"GitHub answered HTTP {response.status_code} for the raw README of "
                                  f"{full_name}: {_message(response)}")
            return Readme.unavailable(refusal)
        raw = response.content
        text, truncated = truncate_clean(decode_readme_bytes(raw), max_chars)
        described = described or {}
        size = described.get("size")
        return Readme(content=text, sha=storable_text(described.get("sha")) or _etag_sha(response),
                      path=storable_text(described.get("path")),
                      size=size if _whole_number(size) is not None and 0 <= size <= SIZE_MAX else min(len(raw), SIZE_MAX),
                      truncated=truncated, status="ok_raw")


class _Unreadable:
    pass


_UNREADABLE = _Unreadable()


def _graphql_message(error: Any) -> str:
    if isinstance(error, dict):
        return storable_text(str(error.get("message") or error.get("type") or "an error")) or "an error"
    return "an error"


def _repository_key(item: Any) -> Optional[int]:
    repo_id = item.get("id") if isinstance(item, dict) else None
    return repo_id if _whole_number(repo_id) is not None else None


def _code_hit_key(item: Any) -> Optional[tuple]:
    repository = item.get("repository") if isinstance(item, dict) else None
    repo_id = repository.get("id") if isinstance(repository, dict) else None
    if _whole_number(repo_id) is None:
        return None
    return repo_id, str(item.get("path"))


def _dedupe(items: list, sort_by_stars: bool) -> list:
    seen: dict[int, dict] = {}
    extras: list = []
    for item in items:
        repo_id = _repository_key(item)
        if repo_id is not None:
            seen.setdefault(repo_id, item)
        else:
            extras.append(item)  # malformed: kept so staging can reject it with a reason
    kept = list(seen.values())
    if sort_by_stars:
        kept.sort(key=lambda i: (-(_whole_number(i.get("stargazers_count")) or 0), i["id"]))
    return [*kept, *extras]
