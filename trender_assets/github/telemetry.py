"""What GitHub requests cost: requests by resource and status, retries, waits, 304s, quota left.

Ours because the figures are what trender reports as asset metadata, per run and per partition while
partitions share one client; httpx's event hooks would see requests but not retries or waits.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import httpx


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


_partition_spend: contextvars.ContextVar[Optional[Telemetry]] = contextvars.ContextVar(
    "trender_partition_telemetry", default=None)


class RunTelemetry(Telemetry):
    """A whole run's telemetry that also counts each request, retry, wait and anomaly into the
    telemetry of the partition being fetched in that context (see ``partition_spend``): partitions
    fetched at once share one client."""

    def note(self, anomaly: str) -> None:
        super().note(anomaly)
        if (scoped := _partition_spend.get()) is not None:
            scoped.note(anomaly)

    def record(self, resource: str, response: httpx.Response, path: str) -> None:
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


@contextmanager
def partition_spend(run: Telemetry) -> Iterator[Telemetry]:
    """What the requests made in this context (and in threads started with a copy of it) cost;
    quota left is the run's, copied when the block ends."""
    spent = Telemetry()
    token = _partition_spend.set(spent)
    try:
        yield spent
    finally:
        _partition_spend.reset(token)
        spent.remaining = dict(run.remaining)
