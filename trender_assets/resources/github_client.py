"""A polite GitHub REST client: one pooled httpx client, retries, rate limits, ETags, telemetry.

Kept free of Dagster so it can be used and tested on its own; ``GitHubResource`` wraps it.
Secrets stay inside the credentials: they are never logged, never put in an exception message,
and never returned. Nothing is lost silently: a transient failure is retried, and what cannot be
fetched raises an error naming it, so a partition is never stored half-fetched.
"""

from __future__ import annotations

import base64
import logging
import random
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
from trender_assets.resources.github_cache import CachedResponse, ResponseCache, cache_key
from trender_assets.resources.github_credentials import Anonymous, Credential, StaticToken
from trender_assets.resources.github_ratelimit import RateGovernor, resource_for

log = logging.getLogger("trender.github")

USER_AGENT = f"trender/{__version__} (Dagster pipeline; GitHub trending snapshots)"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw+json"
SEARCH_CAP = 1000  # GitHub returns at most 1,000 results per search


@dataclass(frozen=True)
class Readme:
    content: str
    sha: Optional[str]
    path: Optional[str]
    size: Optional[int]  # bytes of the full file, even when ``content`` is truncated
    truncated: bool = False


@dataclass
class Telemetry:
    """What the run cost: requests by resource and status, retries, waits, 304s, quota left."""

    requests: Counter = field(default_factory=Counter)  # "core 200" -> n
    retries: int = 0
    wait_seconds: float = 0.0
    not_modified: int = 0
    counted: int = 0  # requests that count against the primary limit (304s and /rate_limit do not)
    remaining: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
        }


class _Retryable(Exception):
    """A failure worth retrying; ``wait`` is the delay to honour before the next attempt, if any."""

    def __init__(self, reason: str, wait: Optional[float] = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


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
            self._governor.block(identity, ["core", "search", "code_search"], now + float(retry_after))
        elif remaining == "0":  # primary limit of this resource: rest until it resets
            until = float(reset) + 1.0 if reset.isdigit() else now + self._secondary_wait
            self._governor.block(identity, [response.headers.get("x-ratelimit-resource") or resource], until)
        elif "secondary rate limit" in message.lower() or status == 429:
            self._secondary_strikes[identity] += 1
            wait = self._secondary_wait * 2 ** (self._secondary_strikes[identity] - 1)
            self._governor.block(identity, ["core", "search", "code_search"], now + wait)
        else:
            raise GitHubAuthError(f"GitHub refused {what} (HTTP {status}: {message or 'forbidden'})")
        raise _Retryable(f"{what}: rate limited (HTTP {status})", wait=0.0)

    def _send(self, path_or_url: str, params: Optional[dict], accept: str, what: str,
              conditional: bool) -> httpx.Response:
        resource = resource_for(httpx.URL(path_or_url).path or path_or_url)
        identity = self._governor.acquire(self._identities, resource, what)
        credential = self._credentials[identity]
        headers = {"Accept": accept}
        secret = credential.token()
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        url = str(self._http.build_request("GET", path_or_url, params=params).url)
        key = cache_key(identity, accept, url) if (conditional and self.cache is not None) else None
        cached = self.cache.get(key) if key else None
        if cached:
            headers["If-None-Match"] = cached.etag
        try:
            with self._in_flight:
                response = self._http.get(path_or_url, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise _Retryable(f"{what}: {type(exc).__name__}") from None
        self._governor.observe(identity, resource, response.headers)
        self.telemetry.record(resource, response, httpx.URL(url).path)
        self.telemetry.remaining = self._governor.remaining()
        status = response.status_code
        if status == 304 and cached:
            return httpx.Response(200, content=cached.body, headers={"content-type": cached.content_type,
                                                                      "x-trender-cache": "hit"})
        if status >= 500:
            raise _Retryable(f"{what}: HTTP {status}")
        if status == 401:
            if credential.refresh_after_rejection():
                raise _Retryable(f"{what}: credential renewed after HTTP 401", wait=0.0)
            if self.has_token:
                raise GitHubAuthError(f"GitHub rejected the token ({_message(response) or 'HTTP 401'}) while "
                                      f"fetching {what}; check GITHUB_TOKEN")
            raise GitHubAuthError(f"GitHub requires authentication for {what}; set GITHUB_TOKEN")
        if status in (403, 429):
            self._rate_limited(identity, resource, response, what)
        self._secondary_strikes[identity] = 0
        if key and status == 200 and response.headers.get("etag"):
            self.cache.put(key, url, identity, CachedResponse(
                response.headers["etag"], response.content, response.headers.get("content-type", "")))
        return response

    def request(self, path_or_url: str, params: Optional[dict] = None, accept: str = JSON_MEDIA,
                what: Optional[str] = None, conditional: bool = False) -> httpx.Response:
        what = what or path_or_url.split("?")[0]
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait_for, sleep=self._timed_sleep_raw, reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send(path_or_url, params, accept, what, conditional)
        except _Retryable as exc:
            raise GitHubError(f"GitHub at {self.base_url} did not answer {what} after "
                              f"{self._max_attempts} attempts ({exc.reason.split(': ')[-1]})") from None
        raise AssertionError("unreachable")

    def _timed_sleep_raw(self, seconds: float) -> None:
        if seconds > 0:  # already counted in _wait_for
            self._sleep(seconds)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return _UNREADABLE

    def get_json(self, path_or_url: str, params: Optional[dict] = None, what: Optional[str] = None,
                 allow_404: bool = False, conditional: bool = False) -> Any:
        """GET JSON; a truncated or unreadable body is retried like a transport failure."""
        what = what or path_or_url.split("?")[0]
        for attempt in range(1, self._max_attempts + 1):
            response = self.request(path_or_url, params=params, what=what, conditional=conditional)
            if response.status_code == 404 and allow_404:
                return None
            if response.status_code >= 400:
                raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
            body = self._json(response)
            if body is not _UNREADABLE:
                return body
            if attempt == self._max_attempts:
                raise GitHubError(f"GitHub kept sending unreadable JSON for {what}")
            self.telemetry.add_retry()
            self._timed_sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

    # -- search ------------------------------------------------------------------------------

    def _search_page(self, url: str, params: Optional[dict], what: str) -> Optional[tuple[httpx.Response, dict]]:
        """One complete page; None past the 1,000-result window. Partial answers are retried, then fail."""
        for attempt in range(1, self._max_attempts + 1):
            response = self.request(url, params=params, what=what)
            if response.status_code == 422 and "first 1000" in _message(response):
                return None
            if response.status_code >= 400:
                raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
            body = self._json(response)
            if isinstance(body, dict) and isinstance(body.get("items"), list) and not body.get("incomplete_results"):
                return response, body
            if attempt == self._max_attempts:
                problem = "incomplete results" if isinstance(body, dict) else "unreadable JSON"
                raise GitHubError(f"GitHub kept returning {problem} for {what}; nothing was stored")
            self.telemetry.add_retry()
            self._timed_sleep(self._backoff * (2 ** (attempt - 1)))
        raise AssertionError("unreachable")

    def _search(self, path: str, query: str, limit: int, extra: dict, what: str) -> tuple[list, int]:
        """Up to ``limit`` items (following Link headers) and GitHub's total_count."""
        per_page = max(1, min(100, limit))
        url: Optional[str] = path
        params: Optional[dict] = {"q": query, "per_page": per_page, "page": 1, **extra}
        items: list = []
        total = 0
        while url and len(items) < limit:
            page = self._search_page(url, params, what)
            if page is None:
                break
            response, body = page
            total = int(body.get("total_count") or 0)
            items.extend(body["items"])
            next_link = response.links.get("next", {}).get("url")
            url, params = (next_link, None) if next_link else (None, None)
        return items[:limit], total

    def search_repositories(self, query: str, limit: int, created_since: Optional[date] = None,
                            created_until: Optional[date] = None) -> list[dict]:
        """Top ``limit`` repositories for ``query`` by stars, deduplicated by id.

        Beyond GitHub's 1,000-result cap the query is split into disjoint ``created:`` windows
        until each fits, and the windows' top results are merged.
        """
        what = f"repository search '{query}'"
        if limit <= SEARCH_CAP or created_since is None:
            items, _ = self._search("/search/repositories", query, limit, {"sort": "stars", "order": "desc"}, what)
            return _dedupe(items, sort_by_stars=False)
        items = self._split_by_created(query, limit, created_since, created_until or date.today(), what)
        return _dedupe(items, sort_by_stars=True)[:limit]

    def _split_by_created(self, query: str, limit: int, start: date, end: date, what: str) -> list:
        windowed = f"{query} created:{start.isoformat()}..{end.isoformat()}"
        items, total = self._search("/search/repositories", windowed, min(limit, SEARCH_CAP),
                                    {"sort": "stars", "order": "desc"}, what)
        if total <= SEARCH_CAP or start >= end:
            return items
        middle = start + timedelta(days=(end - start).days // 2)
        return (self._split_by_created(query, limit, start, middle, what)
                + self._split_by_created(query, limit, middle + timedelta(days=1), end, what))

    def search_code(self, query: str, limit: int, size_range: tuple[int, int] = (0, 400_000)) -> list[dict]:
        """Code-search hits; beyond 1,000 the query is split into disjoint ``size:`` byte ranges."""
        if not self.has_token:
            raise GitHubAuthError("GitHub code search needs a token; set GITHUB_TOKEN")
        what = f"code search '{query}'"
        low, high = size_range
        scoped = query if size_range == (0, 400_000) else f"{query} size:{low}..{high}"
        items, total = self._search("/search/code", scoped, min(limit, SEARCH_CAP), {}, what)
        if limit <= SEARCH_CAP or total <= SEARCH_CAP or low >= high:
            return items[:limit]
        middle = (low + high) // 2
        return (self.search_code(query, limit, (low, middle)) + self.search_code(query, limit, (middle + 1, high)))[:limit]

    # -- repositories and READMEs ------------------------------------------------------------

    def rate_limit(self) -> dict:
        """Quota per resource; free of charge against the primary limit."""
        return self.get_json("/rate_limit", what="the rate limit status")

    def get_repository(self, full_name: str) -> Optional[dict]:
        """Full repository JSON (renames followed via 301; the answer has the new full_name)."""
        return self.get_json(f"/repos/{full_name}", what=f"repository {full_name}", allow_404=True, conditional=True)

    def get_readme(self, full_name: str, max_chars: int = 200_000) -> Optional[Readme]:
        """The preferred README, whatever its name; None when the repository has none."""
        body = self.get_json(f"/repos/{full_name}/readme", what=f"README of {full_name}", allow_404=True,
                             conditional=True)
        if body is None:
            return None
        if body.get("encoding") == "base64" and body.get("content"):
            raw = base64.b64decode(body["content"])  # ignores the line wrapping GitHub adds
        elif body.get("size"):  # over 1 MB GitHub sends encoding "none": ask for the raw media type
            response = self.request(f"/repos/{full_name}/readme", accept=RAW_MEDIA,
                                    what=f"raw README of {full_name}", conditional=True)
            raw = response.content if response.status_code == 200 else b""
        else:
            raw = b""
        content, truncated = truncate_clean(decode_readme_bytes(raw), max_chars)
        return Readme(content=content, sha=body.get("sha"), path=body.get("path"),
                      size=body.get("size", len(raw)), truncated=truncated)


class _Unreadable:
    pass


_UNREADABLE = _Unreadable()


def _dedupe(items: list, sort_by_stars: bool) -> list:
    seen: dict[int, dict] = {}
    extras: list = []
    for item in items:
        repo_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(repo_id, int) and not isinstance(repo_id, bool):
            seen.setdefault(repo_id, item)
        else:
            extras.append(item)  # malformed: kept so staging can reject it with a reason
    kept = list(seen.values())
    if sort_by_stars:
        kept.sort(key=lambda i: (-(i.get("stargazers_count") or 0), i["id"]))
    return [*kept, *extras]

