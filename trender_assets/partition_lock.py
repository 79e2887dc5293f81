"""PostgreSQL advisory locks that serialize work on one partition across processes.

Two runs of the same partition at once (two ``trender run`` of one day, a UI run beside the
schedule's) would otherwise both delete-then-insert and collide on unique keys, or both spend a
GitHub budget. Advisory locks die with their session, so a killed process never leaves one behind.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import sqlalchemy as sa

_LOCK = sa.text("select pg_advisory_xact_lock(hashtextextended(:k, 0))")
_TRY_SESSION_LOCK = sa.text("select pg_try_advisory_lock(hashtextextended(:k, 0))")
_SESSION_LOCK = sa.text("select pg_advisory_lock(hashtextextended(:k, 0))")
_SESSION_UNLOCK = sa.text("select pg_advisory_unlock(hashtextextended(:k, 0))")


def _key(asset: str, partition: str) -> str:
    return f"trender partition {asset} {partition}"


def lock_partition(conn: sa.Connection, asset: str, partition: str) -> None:
    """Until this transaction ends, no other transaction replaces the same partition."""
    conn.execute(_LOCK, {"k": _key(asset, partition)})


@contextmanager
def holding_partition(engine: sa.Engine, asset: str, partition: str,
                      on_wait: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Hold the partition for longer than one transaction (a fetch from GitHub, then its write).

    A second holder waits (``on_wait`` is told once) and then sees what the first one stored.
    """
    key = _key(asset, partition)
    with engine.connect() as conn:
        if not conn.execute(_TRY_SESSION_LOCK, {"k": key}).scalar_one():
            if on_wait is not None:
                on_wait()
            conn.execute(_SESSION_LOCK, {"k": key})
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(_SESSION_UNLOCK, {"k": key})
                conn.commit()
            except sa.exc.DBAPIError:
                conn.invalidate()  # the session is gone, and its lock with it
