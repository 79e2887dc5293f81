"""Applies the ordered files in ``sql/`` with yoyo-migrations, under a PostgreSQL advisory lock.

yoyo records each applied file in its ``_yoyo_migration`` table (the schema-version table); the
advisory lock serializes concurrent runs so two processes never race on the DDL.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from yoyo import get_backend, read_migrations

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_MIGRATION_LOCK_KEY = 7_310_221_001  # arbitrary, constant: identifies "trender schema migration"
_migrated: set[str] = set()
_local_lock = threading.Lock()


def _yoyo_url(url: sa.URL) -> str:
    # yoyo picks its driver from the scheme; psycopg 3 is what the warehouse uses.
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def apply_migrations(engine: sa.Engine) -> list[str]:
    """Bring the warehouse schema up to date; returns the ids of the files applied now."""
    key = engine.url.render_as_string(hide_password=False)
    with _local_lock:
        if key in _migrated:
            return []
        with engine.connect() as conn:
            conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
            try:
                backend = get_backend(_yoyo_url(engine.url))
                try:
                    migrations = read_migrations(str(SQL_DIR))
                    with backend.lock():
                        pending = backend.to_apply(migrations)
                        backend.apply_migrations(pending)
                    applied = [m.id for m in pending]
                finally:
                    backend.connection.close()
            finally:
                conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
        _migrated.add(key)
        return applied
