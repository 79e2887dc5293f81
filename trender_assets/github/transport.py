"""HTTP to GitHub: one pooled httpx client, the token pool, rate limits, ETags and one retry policy.

Ours because GitHub's limits are per token and per resource and told in headers, and an unusable
answer (5xx, a dropped connection, truncated JSON, partial search results) must be retried under the
same bound as any failure; httpx and tenacity are the libraries, the policy is GitHub's.

Secrets stay inside the credentials: they are never logged, never put in an exception message, and
never returned.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import httpx
import tenacity

from trender_assets import __version__
from trender_assets.errors import GitHubAuthError, GitHubError
from trender_assets.github import answers
from trender_assets.github.cache import CachedResponse, ResponseCache, cache_key
from trender_assets.github.credentials import Anonymous, Credential
from trender_assets.github.origin import origin, shown_api_url, userinfo_auth, without_userinfo
from trender_assets.github.ratelimit import RESOURCES, RateGovernor, resource_for
from trender_assets.github.telemetry import Telemetry

log = logging.getLogger("trender.github")

USER_AGENT = f"trender/{__version__} (Dagster pipeline; GitHub trending snapshots)"
JSON_MEDIA = "application/vnd.github+json"
RAW_MEDIA = "application/vnd.github.raw+json"

Usable = Callable[[httpx.Response, Any], Optional[str]]
"""Says what is wrong with an answer (its problem, retried), or None when the caller can use it."""


def readable_json(response: httpx.Response, body: Any) -> Optional[str]:
    """Errors are the caller's to judge; a 2xx/3xx body must be JSON."""
    return "unreadable JSON" if response.status_code < 400 and body is answers.UNREADABLE else None


@dataclass(frozen=True)
class Answer:
    response: httpx.Response
    body: Any  # parsed JSON; answers.UNREADABLE; None when empty or not asked to parse
    problem: Optional[str] = None  # what was still wrong with it after the last attempt


ITEM_STATUSES = {
    "redirect_loop": "redirects in a loop",
    "undecodable": "answers with a body not decodable as its Content-Encoding says",
}
"""What GitHub's answer about one item can be that no retry reads (``ItemUnreadable.status``)."""


class ItemUnreadable(GitHubError):
    """The answer about one item (a README, a watched repository) cannot be read.

    Rule: that is the item's problem, not the partition's. A redirect loop does not end on retry and
    is raised at once; a body that is not what its ``Content-Encoding`` says is retried like a
    transport failure first. The caller records ``status`` on the item (the message says it in
    words) and the rest proceeds; where no item can take it (a search page), it fails as one line."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


class TokenRejected(GitHubAuthError):
    """GitHub rejected the token (HTTP 401) and no other is left; ``reason`` is GitHub's word for it."""

    def __init__(self, reason: str, what: str):
        super().__init__(f"GitHub rejected the token ({reason}) while fetching {what}; check GITHUB_TOKEN")
        self.reason = reason


class _Retryable(Exception):
    """A failure worth retrying; ``wait`` is the delay to honour before the next attempt, if any."""

    counted = True  # spends one of the call's ``max_attempts``

    def __init__(self, reason: str, wait: Optional[float] = None, answer: Optional[Answer] = None,
                 item_status: Optional[str] = None):
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.answer = answer  # an unusable answer, returned to the caller if it is the last one
        self.item_status = item_status  # when it persists: the item's status (see ItemUnreadable)


class _Limited(_Retryable):
    """A rate-limit answer: not a failure. The governor holds the token for as long as GitHub asked,
    and the request goes again when a token is ready."""

    counted = False

    def __init__(self, reason: str):
        super().__init__(reason, wait=0.0)


class _Rerouted(_Retryable):
    """The token left the pool (GitHub rejected it): the request goes on with another, unspent."""

    counted = False

    def __init__(self, reason: str):
        super().__init__(reason, wait=0.0)


class _Budget:
    """What one call may still spend.

    Rule: a failure (transport error, 5xx, unusable body, renewed credential) spends one of
    ``max_attempts``. Waiting on a rate limit is not a failure and spends none: it is bounded by
    time instead, at most ``max_rate_limit_wait_seconds`` from the first limit answer the call met
    (``deadline``, enforced by the governor), so a day waits out GitHub's limits and only a limit
    beyond the allowed wait fails it."""

    def __init__(self, max_attempts: int, max_wait: float, clock: Callable[[], float]):
        self.max_attempts, self._max_wait, self._clock = max_attempts, max_wait, clock
        self.failures = 0
        self.deadline: Optional[float] = None
        self._last_counted = True

    def retry(self, state: tenacity.RetryCallState) -> bool:
        """tenacity's retry condition (asked first, once per outcome): books the outcome."""
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, _Retryable):
            return False
        self._last_counted = exc.counted
        if exc.counted:
            self.failures += 1
        elif isinstance(exc, _Limited) and self.deadline is None:
            self.deadline = self._clock() + self._max_wait
        return True

    def spent(self, state: tenacity.RetryCallState) -> bool:
        """tenacity's stop condition: whether the call must give up after this outcome."""
        return self._last_counted and self.failures >= self.max_attempts


class Transport:
    """Every request to GitHub goes through ``request``: at most ``max_attempts`` failed HTTP requests
    per call, whatever went wrong (transport error, 5xx, renewed credential, unusable body); rate
    limits are waited out within the allowed wait (see ``_Budget``)."""

    def __init__(self, api_url: str, credentials: Sequence[Credential], api_version: str = "2022-11-28",
                 timeout_seconds: float = 30.0, max_attempts: int = 5, backoff_seconds: float = 1.0,
                 max_rate_limit_wait_seconds: float = 900.0, secondary_limit_wait_seconds: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time,
                 max_concurrency: int = 4, cache: Optional[ResponseCache] = None, pace: bool = True,
                 telemetry: Optional[Telemetry] = None, logger: Optional[logging.Logger] = None):
        self._credentials = {c.identity: c for c in credentials}
        self._identities = list(self._credentials)  # the pool; a rejected token leaves it (``_rejected``)
        self._positions = {identity: n for n, identity in enumerate(self._identities, 1)}
        self._pool_lock = threading.Lock()
        self._renewals: Counter = Counter()  # identity -> renewals after a 401 so far
        self._unproven: set[str] = set()  # renewed after a 401, not answered without one since
        self.has_token = not all(isinstance(c, Anonymous) for c in credentials)
        self.telemetry = telemetry or Telemetry()
        self.cache = cache
        self._log = logger or log
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max(1, max_attempts)
        self._backoff = backoff_seconds
        self._secondary_wait = secondary_limit_wait_seconds
        self._secondary_strikes: Counter = Counter()
        self._max_wait = max_rate_limit_wait_seconds
        self._governor = RateGovernor(clock=clock, sleep=self._timed_sleep, max_wait_seconds=self._max_wait,
                                      pace=pace, max_in_flight=max_concurrency)
        self._shown_url = shown_api_url(api_url.rstrip("/"))
        self._userinfo = userinfo_auth(api_url)  # see ``origin``: never in a URL httpx sees
        self._http = httpx.Client(
            base_url=without_userinfo(api_url.rstrip("/")),
            headers={"User-Agent": USER_AGENT, "Accept": JSON_MEDIA, "X-GitHub-Api-Version": api_version},
            timeout=httpx.Timeout(timeout_seconds, connect=10.0),
            follow_redirects=True,  # renamed or transferred repositories answer 301
            max_redirects=5,
            limits=httpx.Limits(max_connections=max(1, max_concurrency),
                                max_keepalive_connections=max(1, max_concurrency)),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def base_url(self) -> str:
        """The API's URL as a person may see it (user and password hidden): for messages."""
        return self._shown_url

    def on_api_origin(self, path_or_url: str) -> bool:
        """Whether ``path_or_url`` (a path, or an absolute URL) is on the API's own origin: the only
        place credentials go."""
        return origin(self._http.base_url.join(path_or_url)) == origin(self._http.base_url)

    @property
    def identities(self) -> list[str]:
        return list(self._identities)

    # -- the one retry policy ------------------------------------------------------------------

    def request(self, path_or_url: str, what: str, params: Optional[dict] = None, accept: str = JSON_MEDIA,
                conditional: bool = False, method: str = "GET", json_body: Any = None,
                usable: Optional[Usable] = None) -> Answer:
        """Send until the answer is usable, failing at most ``max_attempts`` times. With ``usable`` the
        body is parsed as JSON and judged: an unusable one is retried like a transport failure and,
        if the last attempt is still unusable, returned with its ``problem`` for the caller to name."""
        budget = _Budget(self.max_attempts, self._max_wait, self._clock)
        retrying = tenacity.Retrying(
            retry=budget.retry, stop=budget.spent,
            wait=lambda state: self._delay(state, budget.failures), before_sleep=self._count_retry,
            sleep=self._sleep_between, reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send(method, path_or_url, params, accept, what, conditional, json_body,
                                          budget.deadline)
                    if usable is None:
                        return Answer(response, None)
                    body = answers.json_body(response)
                    problem = usable(response, body)
                    if problem:
                        raise _Retryable(f"{what}: {problem}", answer=Answer(response, body, problem))
                    return Answer(response, body)
        except _Retryable as exc:
            if exc.answer is not None:
                return exc.answer
            if exc.item_status:
                raise self._unreadable(exc.item_status, what, f" ({self.max_attempts} attempts)") from None
            raise GitHubError(f"GitHub at {self.base_url} did not answer {what} after "
                              f"{self.max_attempts} attempts ({exc.reason.split(': ')[-1]})") from None
        raise AssertionError("unreachable")

    def _unreadable(self, status: str, what: str, tried: str = "") -> ItemUnreadable:
        message = f"GitHub: {what} {ITEM_STATUSES[status]}{tried}"
        self.telemetry.note(f"answer {status}")
        self._log.warning("%s: that item's status is %s", message, status)
        return ItemUnreadable(status, message)

    def _delay(self, state: tenacity.RetryCallState, failures: int) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.wait is not None:
            return exc.wait  # e.g. 0 after a rate limit: the governor waits for the token's reset
        return self._backoff * (2 ** max(0, failures - 1)) + random.uniform(0, self._backoff)

    def _count_retry(self, state: tenacity.RetryCallState) -> None:
        """Only a retry that will happen is counted and logged (tenacity computes a wait for the
        last attempt too, before it decides to stop)."""
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        self.telemetry.add_retry()
        if delay:
            self.telemetry.add_wait(delay)
        self._log.warning("GitHub request retried in %.1fs: %s", delay,
                          exc.reason if isinstance(exc, _Retryable) else type(exc).__name__)

    def _sleep_between(self, seconds: float) -> None:
        if seconds > 0:  # counted in _count_retry
            self._sleep(seconds)

    def _timed_sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.telemetry.add_wait(seconds)
            self._sleep(seconds)

    # -- one HTTP request ------------------------------------------------------------------------

    def _send(self, method: str, path_or_url: str, params: Optional[dict], accept: str, what: str,
              conditional: bool, json_body: Any, deadline: Optional[float] = None) -> httpx.Response:
        resource = resource_for(httpx.URL(path_or_url).path or path_or_url)
        identity = self._governor.acquire(self._identities, resource, what, deadline)
        try:
            return self._send_as(identity, resource, method, path_or_url, params, accept, what,
                                 conditional, json_body)
        finally:
            self._governor.release(identity, resource)

    def _send_as(self, identity: str, resource: str, method: str, path_or_url: str, params: Optional[dict],
                 accept: str, what: str, conditional: bool, json_body: Any) -> httpx.Response:
        credential = self._credentials[identity]
        renewals = self._renewals[identity]  # read before the token: a 401 to an older token is not news
        headers = {"Accept": accept}
        url = str(self._http.build_request(method, path_or_url, params=params).url)
        # Credentials go to the API's own origin only (scheme, host and port of the API URL): a URL
        # elsewhere, whoever named it, is sent without Authorization (and no token is renewed for it).
        at_home = self.on_api_origin(url)
        secret = credential.token() if at_home else None
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        use_cache = conditional and method == "GET" and self.cache is not None
        key = cache_key(identity, accept, url) if use_cache else None
        cached = self.cache.get(key) if key else None
        if cached:
            headers["If-None-Match"] = cached.etag
        sent_at = self._clock()
        try:
            response = self._http.request(method, path_or_url, params=params, headers=headers, json=json_body,
                                          auth=self._userinfo if at_home else None)
        except httpx.TransportError as exc:
            raise _Retryable(f"{what}: {type(exc).__name__}") from None
        except httpx.DecodingError:  # raised on reading the body; not a TransportError
            raise _Retryable(f"{what}: {ITEM_STATUSES['undecodable']}", item_status="undecodable") from None
        except httpx.TooManyRedirects:  # not a TransportError either, and permanent
            raise self._unreadable("redirect_loop", what) from None
        self._governor.observe(identity, resource, response.headers)
        self.telemetry.record(resource, response, httpx.URL(url).path)
        self.telemetry.remaining = self._governor.remaining()
        status = response.status_code
        if status >= 500:
            raise _Retryable(f"{what}: HTTP {status}")
        if status == 401:
            self._rejected(identity, credential, response, what, renewals)
        if status in (403, 429) and not answers.permanent_refusal(response):
            self._rate_limited(identity, resource, response, what)
        if resource == "graphql" and status == 200 and answers.graphql_rate_limited(response):
            reset = (response.headers.get("x-ratelimit-reset") or "").strip()
            until = float(reset) + 1.0 if reset.isdigit() else self._clock() + self._secondary_wait
            self._governor.block(identity, ["graphql"], until)
            raise _Limited(f"{what}: GraphQL rate limited")
        self._secondary_strikes[identity] = 0
        self._governor.settled(identity, sent_at)
        self._unproven.discard(identity)
        if status == 304 and cached:
            return httpx.Response(200, content=cached.body, headers={"content-type": cached.content_type,
                                                                      "x-trender-cache": "hit",
                                                                      "etag": cached.etag})
        if key and status == 200 and response.headers.get("etag"):
            self.cache.put(key, shown_api_url(url), identity, CachedResponse(
                response.headers["etag"], response.content, response.headers.get("content-type", "")))
        return response

    def _rejected(self, identity: str, credential: Credential, response: httpx.Response, what: str,
                  renewals: int) -> None:
        """A 401 to a request sent after ``renewals`` renewals of the credential.

        Rule: a credential that can renew is renewed once and the request retried; a token GitHub
        still rejects leaves the pool for the rest of this client's run, with one warning that names
        it by position and fingerprint (never its value), and the request goes on with the other
        tokens. Only the last token's rejection fails the request, with the one line it always gave."""
        if not self.has_token:
            raise GitHubAuthError(f"GitHub requires authentication for {what}; set GITHUB_TOKEN")
        with self._pool_lock:
            if renewals < self._renewals[identity]:  # sent with the token a renewal has since replaced
                raise _Retryable(f"{what}: credential renewed after HTTP 401", wait=0.0)
            try:
                renewed = identity not in self._unproven and credential.refresh_after_rejection()
            except GitHubAuthError:
                if len(self._identities) <= 1:
                    raise
                renewed = False
            if renewed:
                self._renewals[identity] += 1
                self._unproven.add(identity)
                raise _Retryable(f"{what}: credential renewed after HTTP 401", wait=0.0)
            if identity in self._identities and len(self._identities) == 1:
                raise TokenRejected(answers.message(response) or "HTTP 401", what)
            if identity in self._identities:  # the first to learn it says it, once
                self._identities = [i for i in self._identities if i != identity]
                self._governor.retire(identity)
                self._log.warning("GitHub rejected token %d of %d (%s): it is left out for the rest of this run; "
                                  "the other tokens carry on", self._positions[identity], len(self._positions),
                                  credential.shown)
        raise _Rerouted(f"{what}: sent again with another token")

    def _rate_limited(self, identity: str, resource: str, response: httpx.Response, what: str) -> None:
        """Book a rate-limit answer against the token and raise _Limited, or a clear error."""
        status = response.status_code
        retry_after = (response.headers.get("retry-after") or "").strip()
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = (response.headers.get("x-ratelimit-reset") or "").strip()
        message = answers.message(response)
        now = self._clock()
        if retry_after.isdigit():  # secondary limit: the whole token rests, exactly as long as asked
            self._governor.block(identity, RESOURCES, now + float(retry_after), secondary=True)
        elif remaining == "0":  # primary limit of this resource: rest until it resets
            until = float(reset) + 1.0 if reset.isdigit() else now + self._secondary_wait
            self._governor.block(identity, [response.headers.get("x-ratelimit-resource") or resource], until)
        elif "secondary rate limit" in message.lower() or status == 429:
            self._secondary_strikes[identity] += 1
            wait = self._secondary_wait * 2 ** (self._secondary_strikes[identity] - 1)
            self._governor.block(identity, RESOURCES, now + wait, secondary=True)
        else:
            raise GitHubAuthError(f"GitHub refused {what} (HTTP {status}: {message or 'forbidden'})")
        raise _Limited(f"{what}: rate limited (HTTP {status})")
