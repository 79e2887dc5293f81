"""The warehouse's SQLAlchemy engine: a server named by DATABASE_URL, or the embedded one."""

from __future__ import annotations

import threading
from typing import Optional

import sqlalchemy as sa

from trender_assets import environment
from trender_assets.errors import ConfigurationError, WarehouseUnavailable
from trender_assets.warehouse.embedded import embedded_database_url
from trender_assets.warehouse.migrations import apply_migrations
from trender_assets.warehouse.sessions import utc_engine


def normalize_url(url: str) -> sa.URL:
    """Parse a PostgreSQL URL; plain ``postgres(ql)://`` uses psycopg 3."""
    try:
        parsed = sa.make_url(url.strip())
    except Exception:
        raise ConfigurationError("DATABASE_URL is not a valid database URL") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"DATABASE_URL must name a PostgreSQL database, not '{parsed.get_backend_name()}'"
        )
    if not (parsed.database or parsed.query.get("dbname")):
        # PostgreSQL would connect to the user's default database (often the server's `postgres`)
        raise ConfigurationError(
            "DATABASE_URL names no database: add one to the URL, e.g. postgresql://USER:PASS@HOST/trender"
        )
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def shown_url(url: sa.URL) -> str:
    """The URL as a person may see it: plain scheme, password hidden."""
    if url.drivername == "postgresql+psycopg":
        url = url.set(drivername="postgresql")
    return url.render_as_string(hide_password=True)


def warehouse_url(database_url: Optional[str]) -> sa.URL:
    """DATABASE_URL parsed, or the embedded server's URL (started, or joined, here) when unset."""
    if not database_url:
        environment.check_database_url()
    return normalize_url(database_url or embedded_database_url())


def connect_engine(database_url: Optional[str]) -> sa.Engine:
    """Engine for the warehouse, with the schema migrated; one clear error if it is unreachable."""
    return _connect(warehouse_url(database_url))


def _connect(url: sa.URL) -> sa.Engine:
    engine = utc_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)  # UTC dates: see sessions
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        apply_migrations(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
        raise WarehouseUnavailable(f"cannot connect to the warehouse database {shown_url(url)}: {reason}") from None
    except BaseException:
        engine.dispose()  # e.g. a missing privilege: the engine is not kept, so nothing may stay open
        raise
    return engine


_shared: dict[str, sa.Engine] = {}
_shared_lock = threading.Lock()


def shared_engine(database_url: Optional[str]) -> sa.Engine:
    """One engine per warehouse per process: a command's runs, their nested resources and the command
    itself share one pool and one migration check instead of building (and connecting) five. A
    warehouse that cannot be reached is not remembered, so the next call tries again."""
    url = warehouse_url(database_url)
    key = url.render_as_string(hide_password=False)  # in memory only: two passwords are two engines
    with _shared_lock:
        engine = _shared.get(key)
        if engine is None:
            engine = _shared[key] = _connect(url)
        return engine
