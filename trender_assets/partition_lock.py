"""PostgreSQL advisory locks that serialize work on one partition across processes, and keep
retention off the days runs are writing.

Two runs of the same partition at once (two ``trender run`` of one day, a UI run beside the
schedule's) would otherwise both delete-then-insert and collide on unique keys, or both spend a
GitHub budget. Advisory locks die with their session, so a killed process never leaves one behind.

Day locks: every writing step of a run (raw's fetch and write, staging, the marts) holds its day
shared while it works on it, and retention takes each day it is about to delete exclusively, or
keeps that day for a later retention (``try_days``). Runs of one day share it; retention and a run
of the same day exclude each other.

A lock wait is never cut short by the database's ``statement_timeout`` or ``lock_timeout`` (set
for a database or role, they would cancel the wait, and "take turns" would fail): both are off for
the lock call alone and the transaction's own values apply again afterwards.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from typing import Callable, Iterable, Iterator, Optional

import sqlalchemy as sa

_LOCK = sa.text("select pg_advisory_xact_lock(hashtextextended(:k, 0))")
_SHARED_LOCK = sa.text("select pg_advisory_xact_lock_shared(hashtextextended(:k, 0))")
_TRY_SESSION_LOCK = sa.text("select pg_try_advisory_lock(hashtextextended(:k, 0))")
_SESSION_LOCK = sa.text("select pg_advisory_lock(hashtextextended(:k, 0))")
_SESSION_UNLOCK = sa.text("select pg_advisory_unlock(hashtextextended(:k, 0))")
_SESSION_SHARED_LOCK = sa.text("select pg_advisory_lock_shared(hashtextextended(:k, 0))")
_SESSION_SHARED_UNLOCK = sa.text("select pg_advisory_unlock_shared(hashtextextended(:k, 0))")
_TRY_DAYS = sa.text("select d from unnest(cast(:days as text[])) d"
                    " where pg_try_advisory_xact_lock(hashtextextended('trender day ' || d, 0))")

_TIMEOUTS = sa.text("select current_setting('statement_timeout'), current_setting('lock_timeout')")
_SET_TIMEOUTS = sa.text("select set_config('statement_timeout', :s, true), set_config('lock_timeout', :l, true)")


def _key(asset: str, partition: str) -> str:
    return f"trender partition {asset} {partition}"


def _day_key(partition: str) -> str:
    """The day of a partition key: ``2026-11-20|go`` and ``2026-11-20`` are both of 2026-11-20."""
    return f"trender day {partition.split('|', 1)[0]}"


def wait_for_lock(conn: sa.Connection, statement: sa.TextClause, params: dict) -> None:
    """Run a blocking lock call with no statement or lock timeout for its wait; the transaction's
    own timeouts apply again to whatever follows."""
    statement_timeout, lock_timeout = conn.execute(_TIMEOUTS).one()
    conn.execute(_SET_TIMEOUTS, {"s": "0", "l": "0"})
    conn.execute(statement, params)
    conn.execute(_SET_TIMEOUTS, {"s": statement_timeout, "l": lock_timeout})


def lock_partition(conn: sa.Connection, asset: str, partition: str) -> None:
    """Until this transaction ends, no other transaction replaces the same partition, and retention
    leaves the partition's day alone."""
    wait_for_lock(conn, _LOCK, {"k": _key(asset, partition)})
    wait_for_lock(conn, _SHARED_LOCK, {"k": _day_key(partition)})


@contextmanager
def holding_partition(engine: sa.Engine, asset: str, partition: str,
                      on_wait: Optional[Callable[[], None]] = None) -> Iterator[None]:
    """Hold the partition for longer than one transaction (a fetch from GitHub, then its write),
    and its day against retention.

    A second holder waits (``on_wait`` is told once) and then sees what the first one stored.
    """
    key, day = _key(asset, partition), _day_key(partition)
    with engine.connect() as conn:
        if not conn.execute(_TRY_SESSION_LOCK, {"k": key}).scalar_one():
            if on_wait is not None:
                on_wait()
            wait_for_lock(conn, _SESSION_LOCK, {"k": key})
        wait_for_lock(conn, _SESSION_SHARED_LOCK, {"k": day})
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(_SESSION_SHARED_UNLOCK, {"k": day})
                conn.execute(_SESSION_UNLOCK, {"k": key})
                conn.commit()
            except sa.exc.DBAPIError:
                conn.invalidate()  # the session is gone, and its locks with it


def try_days(conn: sa.Connection, days: Iterable[date]) -> list[date]:
    """Take each day exclusively until this transaction ends, without waiting; the days taken.
    A day a run holds is not taken: retention keeps it, and a later retention deletes it."""
    wanted = sorted({d.isoformat() for d in days})
    if not wanted:
        return []
    return sorted(date.fromisoformat(d) for d in conn.execute(_TRY_DAYS, {"days": wanted}).scalars())


def hold_session_lock_unbounded(connection, key: int) -> None:
    """``pg_advisory_lock(key)`` on a DB-API connection in autocommit mode (yoyo's), its wait not cut
    by a statement or lock timeout: in a transaction of its own, with both off for it alone; the
    session lock outlives that transaction."""
    with connection.transaction():
        connection.execute("select set_config('statement_timeout', '0', true), set_config('lock_timeout', '0', true)")
        connection.execute("select pg_advisory_lock(%s)", (key,))
