"""Rate-limit bookkeeping per token and per GitHub resource (core, search, code_search, graphql).

GitHub counts requests against separate resources, each with its own window; it reports them in
``x-ratelimit-*`` headers. The governor spaces searches 2 s apart, keeps every bucket within what
GitHub reports as remaining,
remembers when a token is exhausted or inside a ``retry-after`` window, and picks the token with
the most quota left.

A bucket GitHub reported at ``remaining: 0`` gets no request until its reset: requests already in
flight count against ``remaining`` (they are reserved when acquired and released when answered),
so concurrent threads cannot all slip through on the last unit and meet a 403 each.

A request is given a token only when it can leave at once (the bound on requests in flight is kept
here too), so no queue forms behind a token's back that would leave into a limit it has since met.
After a secondary limit the token resumes gently: when its window ends, its requests leave one at a
time until GitHub answers one without a limit, never the whole queue in the same millisecond
(GitHub penalises a token again, and for longer, for every request inside the window).

Waiting on a limit is bounded by time, not by a number of answers: a request waits at most
``max_wait_seconds`` for a token to be ready, and in total from the first limit it met (the caller
passes that ``deadline``).

Ours because GitHub's quotas are per token and per resource and reported in headers; generic rate
limiters (pyrate-limiter, limits) count requests against a fixed rate and cannot honour a reported
reset or pick the token with the most quota left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from trender_assets.errors import GitHubRateLimited

SEARCH_SPACING = 2.0
"""Seconds between searches (repository and code search) of one token, as octokit's throttling
plugin does. GitHub's per-minute limits (search 30, code search 10) are then kept by the quota
GitHub reports: a bucket at ``remaining: 0`` waits for its reset, so code search never bursts past
its limit even though it may start 2 s apart."""
ANONYMOUS_PER_MINUTE = {"search": 10}
RESOURCES = ("core", "search", "code_search", "graphql")
RESET_MARGIN = 1.0
"""Seconds past ``x-ratelimit-reset`` before a bucket is trusted again (as octokit does)."""
MIN_REST = 1.0
"""Seconds a token rests at least after any limit answer: one that asks for no wait (``retry-after:
0``, a reset already past) is not answered by a flood of requests."""
_IN_FLIGHT_POLL = 0.5


def resource_for(path: str) -> str:
    """Which rate-limit resource a request path counts against."""
    if "/search/code" in path:
        return "code_search"
    if "/search/" in path:
        return "search"
    if path.rstrip("/").endswith("/graphql"):
        return "graphql"
    return "core"


@dataclass
class Quota:
    remaining: Optional[int] = None
    reset_at: Optional[float] = None
    blocked_until: float = 0.0
    last_sent: float = float("-inf")
    in_flight: int = 0

    def spendable(self, now: float) -> Optional[int]:
        """Units left for new requests, or None when unknown (never reported, or the window reset)."""
        if self.remaining is None or self.reset_at is None:
            return None
        if now >= self.reset_at + RESET_MARGIN:
            self.remaining, self.reset_at = None, None  # a new window: GitHub will say how much
            return None
        return self.remaining - self.in_flight


class RateGovernor:
    def __init__(self, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 max_wait_seconds: float = 900.0, pace: bool = True, max_in_flight: int = 4):
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait_seconds
        self._pace = pace
        self._max_in_flight = max(1, max_in_flight)
        self._in_flight = 0
        self._quotas: dict[tuple[str, str], Quota] = {}
        self._resuming: dict[str, float] = {}  # token -> end of its secondary limit: one request at a time
        self._retired: set[str] = set()  # tokens GitHub rejected: never chosen again
        self._changed = threading.Condition()

    def _quota(self, identity: str, resource: str) -> Quota:
        return self._quotas.setdefault((identity, resource), Quota())

    def _interval(self, identity: str, resource: str) -> float:
        if not self._pace or resource not in ("search", "code_search"):
            return 0.0
        if identity == "anonymous":  # 10 a minute, and no header to trust before the first answer
            return 60.0 / ANONYMOUS_PER_MINUTE["search"]
        return SEARCH_SPACING

    def _token_in_flight(self, identity: str) -> int:
        return sum(q.in_flight for (i, _resource), q in self._quotas.items() if i == identity)

    def acquire(self, identities: Sequence[str], resource: str, what: str,
                deadline: Optional[float] = None) -> str:
        """Reserve one request: the token that is not blocked and has the most quota left, once a
        request may leave. Waits (bounded by ``max_wait_seconds`` and by ``deadline``, a clock time)
        when none is ready; every acquire must be followed by ``release``."""
        while True:
            with self._changed:
                if self._in_flight >= self._max_in_flight:  # every slot is busy: an answer frees one
                    self._changed.wait(_IN_FLIGHT_POLL)
                    continue
                now = self._clock()
                identities = [i for i in identities if i not in self._retired]
                ready_at, awaiting_answers = {}, False
                for identity in identities:
                    q = self._quota(identity, resource)
                    ready = max(q.blocked_until, q.last_sent + self._interval(identity, resource))
                    if identity in self._resuming and ready <= now and self._token_in_flight(identity):
                        awaiting_answers = True  # resuming after a secondary limit: one at a time
                        ready = float("inf")
                    spendable = q.spendable(now)
                    if spendable is not None and spendable <= 0:
                        if q.remaining > 0:  # the last units are in flight: their answers will tell
                            awaiting_answers = True
                            ready = float("inf")
                        else:
                            ready = max(ready, q.reset_at + RESET_MARGIN)
                    ready_at[identity] = ready
                ready = [i for i in identities if ready_at[i] <= now]
                if ready:
                    def left(i: str) -> int:
                        spendable = self._quota(i, resource).spendable(now)
                        return 10**9 if spendable is None else spendable

                    choice = max(ready, key=lambda i: (left(i), -identities.index(i)))
                    q = self._quota(choice, resource)
                    q.last_sent = now
                    q.in_flight += 1
                    self._in_flight += 1
                    return choice
                wait = min(ready_at.values()) - now
                if awaiting_answers:  # an answer in flight will tell (and may come before ``wait``)
                    self._changed.wait(min(wait, _IN_FLIGHT_POLL))
                    continue
            if wait > self._max_wait:
                raise GitHubRateLimited(
                    f"GitHub rate limit for {resource} reached while fetching {what}; every token is blocked "
                    f"for another {wait:.0f}s, more than the allowed wait of {self._max_wait:.0f}s"
                )
            if deadline is not None and now + wait > deadline:
                raise GitHubRateLimited(
                    f"GitHub rate limits kept refusing {what} for longer than the allowed wait of "
                    f"{self._max_wait:.0f}s"
                )
            self._sleep(wait)

    def release(self, identity: str, resource: str) -> None:
        """The reserved request was answered (or failed); its unit is no longer pending."""
        with self._changed:
            q = self._quota(identity, resource)
            q.in_flight = max(0, q.in_flight - 1)
            self._in_flight = max(0, self._in_flight - 1)
            self._changed.notify_all()

    def observe(self, identity: str, resource: str, headers) -> None:
        """Record what the response headers say about this token's quota."""
        name = headers.get("x-ratelimit-resource") or resource
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        with self._changed:
            q = self._quota(identity, name)
            new_reset = float(reset) if reset is not None and reset.strip().isdigit() else q.reset_at
            if remaining is not None and remaining.strip().isdigit():
                # answers overtake each other: within one window the count only goes down
                same_window = q.remaining is not None and new_reset == q.reset_at
                q.remaining = min(q.remaining, int(remaining)) if same_window else int(remaining)
            q.reset_at = new_reset
            self._changed.notify_all()

    def block(self, identity: str, resources: Sequence[str], until: float, secondary: bool = False) -> None:
        """A limit answer: the token rests on ``resources`` until ``until`` (at least ``MIN_REST``);
        after a ``secondary`` limit it resumes one request at a time (see ``settled``)."""
        with self._changed:
            until = max(until, self._clock() + MIN_REST)
            for resource in resources:
                q = self._quota(identity, resource)
                q.blocked_until = max(q.blocked_until, until)
            if secondary:
                self._resuming[identity] = max(self._resuming.get(identity, until), until)

    def retire(self, identity: str) -> None:
        """GitHub rejected the token: no request is given it again (waiting ones choose again)."""
        with self._changed:
            self._retired.add(identity)
            self._changed.notify_all()

    def settled(self, identity: str, sent_at: float) -> None:
        """GitHub answered, without a limit, a request of the token sent at ``sent_at``: once that
        request left after the token's secondary limit ended, its requests may leave together again
        (an answer to one sent before says nothing about the limit)."""
        with self._changed:
            if identity in self._resuming and sent_at >= self._resuming[identity]:
                del self._resuming[identity]
                self._changed.notify_all()

    def remaining(self) -> dict[str, int]:
        """Quota left per resource, summed over tokens (what the run can still spend)."""
        totals: dict[str, int] = {}
        with self._changed:
            for (_identity, resource), q in self._quotas.items():
                if q.remaining is not None:
                    totals[resource] = totals.get(resource, 0) + q.remaining
        return dict(sorted(totals.items()))
