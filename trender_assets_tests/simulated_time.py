"""Simulated time for the GitHub client, its credentials and the fake GitHub: the clock moves only
when somebody sleeps, and every sleep is recorded, so waits are measured, never spent.

(A clock that never moves cannot be used: the rate governor re-reads the clock after sleeping and
would wait for ever.)
"""

from __future__ import annotations

import threading
import time
from typing import Optional


class SimulatedTime:
    """Starts at ``start`` (default: now, to the whole second, for tokens the fake GitHub issues in
    wall time); ``clock`` and ``sleep`` stand in for ``time.time`` and ``time.sleep``, from any thread."""

    def __init__(self, start: Optional[float] = None) -> None:
        self.now = float(int(time.time())) if start is None else start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)
