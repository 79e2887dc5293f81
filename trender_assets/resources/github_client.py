"""A polite GitHub REST client: one pooled httpx client, retries, rate-limit waits, telemetry.

Kept free of Dagster so it can be used and tested on its own; ``GitHubResource`` wraps it.
The token lives only in the client's default headers: it is never logged, never put in an
exception message, and never returned.
"""

from __future__ import annotations

import base64
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

import httpx
import tenacity

from trender_assets import __version__
from trender_assets.errors import GitHubAuthError, GitHubError, GitHubRateLimited

log = logging.getLogger("trender.github")

USER_AGENT = f"trender/{__version__} (Dagster pipeline; GitHub trending snapshots)"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw+json"


@dataclass(frozen=True)
class Readme:
    content: str
    sha: Optional[str]
    path: Optional[str]
    size: Optional[int]


@dataclass
class Telemetry:
    """What the run cost: requests by resource and status, retries, waits, remaining quota."""

    requests: Counter = field(default_factory=Counter)  # "core 200" -> n
    retries: int = 0
    wait_seconds: float = 0.0
    remaining: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, response: httpx.Response) -> None:
        resource = response.headers.get("x-ratelimit-resource", "unknown")
        with self._lock:
            self.requests[f"{resource} {response.status_code}"] += 1
            remaining = response.headers.get("x-ratelimit-remaining")
            if remaining is not None and remaining.isdigit():
                self.remaining[resource] = int(remaining)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "github_requests": sum(self.requests.values()),
            "github_requests_by_status": dict(sorted(self.requests.items())),
            "github_retries": self.retries,
            "github_wait_seconds": round(self.wait_seconds, 3),
            "github_remaining": dict(sorted(self.remaining.items())),
        }


class _Retryable(Exception):
    """A failure worth retrying; ``wait`` is the delay GitHub asked for, if it asked."""

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
    ):
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": JSON_MEDIA,
            "X-GitHub-Api-Version": api_version,
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.has_token = bool(token)
        self.telemetry = Telemetry()
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._max_wait = max_rate_limit_wait_seconds
        self._secondary_wait = secondary_limit_wait_seconds
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            follow_redirects=True,
            max_redirects=5,
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=10),
        )

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:  # never show headers
        return f"GitHubClient(api_url={str(self._http.base_url)!r}, authenticated={self.has_token})"

    # -- transport ---------------------------------------------------------------------------

    def _wait_for(self, attempt_state: tenacity.RetryCallState) -> float:
        exc = attempt_state.outcome.exception() if attempt_state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            delay = exc.wait
        else:
            delay = self._backoff * (2 ** (attempt_state.attempt_number - 1))
            delay += random.uniform(0, self._backoff)  # jitter keeps parallel runs from syncing
        self.telemetry.retries += 1
        self.telemetry.wait_seconds += delay
        log.warning("GitHub request will be retried in %.1fs: %s", delay,
                    exc.reason if isinstance(exc, _Retryable) else exc)
        return delay

    def _classify(self, response: httpx.Response, what: str) -> httpx.Response:
        """Return the response, or raise _Retryable / a GitHubError that retrying cannot fix."""
        status = response.status_code
        if status >= 500:
            raise _Retryable(f"{what}: HTTP {status}")
        if status == 401:
            if self.has_token:
                raise GitHubAuthError(
                    f"GitHub rejected the token ({_message(response) or 'HTTP 401'}) while fetching {what}; "
                    "check GITHUB_TOKEN"
                )
            raise GitHubAuthError(f"GitHub requires authentication for {what}; set GITHUB_TOKEN")
        if status in (403, 429):
            message = _message(response)
            retry_after = response.headers.get("retry-after")
            remaining = response.headers.get("x-ratelimit-remaining")
            if retry_after and retry_after.strip().isdigit():
                wait = float(retry_after)
            elif remaining == "0":
                reset = response.headers.get("x-ratelimit-reset", "")
                wait = max(0.0, float(reset) - self._clock()) + 1.0 if reset.isdigit() else self._secondary_wait
            elif "secondary rate limit" in message.lower() or status == 429:
                wait = self._secondary_wait
            else:
                raise GitHubAuthError(f"GitHub refused {what} (HTTP {status}: {message or 'forbidden'})")
            if wait > self._max_wait:
                raise GitHubRateLimited(
                    f"GitHub rate limit reached while fetching {what}; it resets in {wait:.0f}s, "
                    f"more than the allowed wait of {self._max_wait:.0f}s"
                )
            raise _Retryable(f"{what}: rate limited (HTTP {status})", wait=wait)
        return response

    def request(self, path_or_url: str, params: Optional[dict] = None, accept: str = JSON_MEDIA,
                what: Optional[str] = None) -> httpx.Response:
        what = what or path_or_url.split("?")[0]
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(self._max_attempts),
            wait=self._wait_for,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        response = self._http.get(path_or_url, params=params, headers={"Accept": accept})
                    except httpx.TransportError as exc:
                        raise _Retryable(f"{what}: {type(exc).__name__}") from None
                    self.telemetry.record(response)
                    return self._classify(response, what)
        except _Retryable as exc:
            raise GitHubError(
                f"GitHub at {self._http.base_url} did not answer {what} after {self._max_attempts} attempts "
                f"({exc.reason})"
            ) from None
        raise AssertionError("unreachable")

    def get_json(self, path_or_url: str, params: Optional[dict] = None, what: Optional[str] = None,
                 allow_404: bool = False) -> Any:
        """GET JSON; a truncated or non-JSON body is retried like a transport failure."""
        what = what or path_or_url.split("?")[0]
        for attempt in range(1, self._max_attempts + 1):
            response = self.request(path_or_url, params=params, what=what)
            if response.status_code == 404 and allow_404:
                return None
            if response.status_code >= 400:
                raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
            try:
                return response.json()
            except ValueError:
                if attempt == self._max_attempts:
                    raise GitHubError(f"GitHub sent unreadable JSON for {what}") from None
                self.telemetry.retries += 1
                self._sleep(self._backoff * attempt)
        raise AssertionError("unreachable")

    # -- domain ------------------------------------------------------------------------------

    def rate_limit(self) -> dict:
        """Quota per resource; free of charge against the primary limit."""
        return self.get_json("/rate_limit", what="the rate limit status")

    def _search_pages(self, path: str, query: str, limit: int, extra: dict, what: str) -> Iterator[dict]:
        per_page = max(1, min(100, limit))
        params: Optional[dict] = {"q": query, "per_page": per_page, "page": 1, **extra}
        url = path
        yielded = 0
        while url and yielded < limit:
            response = self.request(url, params=params, what=what)
            if response.status_code == 422 and "first 1000" in _message(response):
                return  # the 1,000-result window is exhausted: end of results, not an error
            if response.status_code >= 400:
                raise GitHubError(f"GitHub answered HTTP {response.status_code} for {what}: {_message(response)}")
            body = self._search_body(response, url, params, what)
            for item in body.get("items", []):
                yield item
                yielded += 1
                if yielded >= limit:
                    return
            next_link = response.links.get("next", {}).get("url")
            url, params = (next_link, None) if next_link else (None, None)

    def _search_body(self, response: httpx.Response, url: str, params: Optional[dict], what: str) -> dict:
        """A complete search page: truncated JSON and ``incomplete_results`` are retried, then fail."""
        for attempt in range(1, self._max_attempts + 1):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and not body.get("incomplete_results"):
                return body
            if attempt == self._max_attempts:
                problem = "incomplete results" if isinstance(body, dict) else "unreadable JSON"
                raise GitHubError(f"GitHub kept returning {problem} for {what}")
            self.telemetry.retries += 1
            delay = self._backoff * (2 ** (attempt - 1))
            self.telemetry.wait_seconds += delay
            self._sleep(delay)
            response = self.request(url, params=params, what=what)
        raise AssertionError("unreachable")

    def search_repositories(self, query: str, limit: int) -> list[dict]:
        """Top ``limit`` repositories for ``query`` by stars, deduplicated by id."""
        seen: dict[int, dict] = {}
        extras: list[dict] = []
        pages = self._search_pages("/search/repositories", query, limit,
                                   {"sort": "stars", "order": "desc"}, f"repository search '{query}'")
        for item in pages:
            repo_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(repo_id, int) and not isinstance(repo_id, bool):
                seen.setdefault(repo_id, item)
            else:
                extras.append(item)  # malformed: kept so staging can reject it with a reason
        return [*seen.values(), *extras]

    def search_code(self, query: str, limit: int) -> list[dict]:
        if not self.has_token:
            raise GitHubAuthError("GitHub code search needs a token; set GITHUB_TOKEN")
        return list(self._search_pages("/search/code", query, limit, {}, f"code search '{query}'"))

    def get_repository(self, full_name: str) -> Optional[dict]:
        """Full repository JSON (renames are followed via 301); None if it no longer exists."""
        return self.get_json(f"/repos/{full_name}", what=f"repository {full_name}", allow_404=True)

    def get_readme(self, full_name: str, max_chars: int = 200_000) -> Optional[Readme]:
        """The preferred README, whatever its name; None when the repository has none."""
        body = self.get_json(f"/repos/{full_name}/readme", what=f"README of {full_name}", allow_404=True)
        if body is None:
            return None
        encoding = body.get("encoding")
        if encoding == "base64" and body.get("content") is not None:
            raw = base64.b64decode(body["content"])  # ignores the line wrapping GitHub adds
        else:  # files over 1 MB come with encoding "none": ask for the raw media type
            response = self.request(f"/repos/{full_name}/readme", accept=RAW_MEDIA,
                                    what=f"raw README of {full_name}")
            raw = response.content if response.status_code == 200 else b""
        text = raw.decode("utf-8", errors="replace").lstrip("\ufeff").replace("\r\n", "\n").replace("\x00", "")
        return Readme(content=text[:max_chars], sha=body.get("sha"), path=body.get("path"), size=body.get("size"))
