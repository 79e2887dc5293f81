"""Rate-limit bookkeeping per token and per GitHub resource (core, search, code_search).

GitHub counts requests against separate resources, each with its own window; it reports them in
``x-ratelimit-*`` headers. The governor paces search and code search under their per-minute limits,
remembers when a token is exhausted or inside a ``retry-after`` window (and never sends to it until
then), and picks the token with the most quota left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from trender_assets.errors import GitHubRateLimited

PER_MINUTE = {"search": 30, "code_search": 9}
"""Authenticated per-minute limits; code search is 9/min per GitHub's docs (10 per the spec)."""
ANONYMOUS_PER_MINUTE = {"search": 10}


def resource_for(path: str) -> str:
    """Which rate-limit resource a request path counts against."""
    if "/search/code" in path:
        return "code_search"
    if "/search/" in path:
        return "search"
    return "core"


@dataclass
class Quota:
    remaining: Optional[int] = None
    reset_at: Optional[float] = None
    blocked_until: float = 0.0
    last_sent: float = float("-inf")


class RateGovernor:
    def __init__(self, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 max_wait_seconds: float = 900.0, pace: bool = True):
        self._clock = clock
        self._sleep = sleep
        self._max_wait = max_wait_seconds
        self._pace = pace
        self._quotas: dict[tuple[str, str], Quota] = {}
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def _quota(self, identity: str, resource: str) -> Quota:
        return self._quotas.setdefault((identity, resource), Quota())

    def _interval(self, identity: str, resource: str) -> float:
        limits = ANONYMOUS_PER_MINUTE if identity == "anonymous" else PER_MINUTE
        per_minute = limits.get(resource)
        return 60.0 / per_minute if (per_minute and self._pace) else 0.0

    def acquire(self, identities: Sequence[str], resource: str, what: str) -> str:
        """The token to use now: not blocked, most quota left; waits (bounded) when none is ready."""
        while True:
            with self._lock:
                now = self._clock()
                ready_at = {}
                for identity in identities:
                    q = self._quota(identity, resource)
                    ready_at[identity] = max(q.blocked_until, q.last_sent + self._interval(identity, resource))
                ready = [i for i in identities if ready_at[i] <= now]
                if ready:
                    choice = max(ready, key=lambda i: (self._quota(i, resource).remaining
                                                       if self._quota(i, resource).remaining is not None
                                                       else 10**9, -identities.index(i)))
                    self._quota(choice, resource).last_sent = now
                    return choice
                wait = min(ready_at.values()) - now
            if wait > self._max_wait:
                raise GitHubRateLimited(
                    f"GitHub rate limit for {resource} reached while fetching {what}; every token is blocked "
                    f"for another {wait:.0f}s, more than the allowed wait of {self._max_wait:.0f}s"
                )
            self.waited_seconds += wait
            self._sleep(wait)

    def observe(self, identity: str, resource: str, headers) -> None:
        """Record what the response headers say about this token's quota."""
        name = headers.get("x-ratelimit-resource") or resource
        remaining, reset = headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")
        with self._lock:
            q = self._quota(identity, name)
            if remaining is not None and remaining.strip().isdigit():
                q.remaining = int(remaining)
            if reset is not None and reset.strip().isdigit():
                q.reset_at = float(reset)

    def block(self, identity: str, resources: Sequence[str], until: float) -> None:
        with self._lock:
            for resource in resources:
                q = self._quota(identity, resource)
                q.blocked_until = max(q.blocked_until, until)

    def remaining(self) -> dict[str, int]:
        """Quota left per resource, summed over tokens (what the run can still spend)."""
        totals: dict[str, int] = {}
        with self._lock:
            for (_identity, resource), q in self._quotas.items():
                if q.remaining is not None:
                    totals[resource] = totals.get(resource, 0) + q.remaining
        return dict(sorted(totals.items()))
