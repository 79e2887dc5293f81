"""Applies the ordered files in ``sql/`` with yoyo-migrations, under a PostgreSQL advisory lock.

The files ship inside the package as ``trender_assets/sql`` (in a checkout, a link to the top-level
``sql/``; in a wheel, copies), so an installed trender finds them wherever it runs.

yoyo records each applied file in its ``_yoyo_migration`` table (the schema-version table). Its own
lock is a row in ``yoyo_lock`` that outlives a killed holder and then blocks every later process;
here that lock is a session advisory lock instead, which PostgreSQL releases when the holder's
connection dies. A process with nothing to migrate takes no lock at all.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from psycopg.errors import InsufficientPrivilege
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

from trender_assets.errors import WarehousePrivilegeMissing
from trender_assets.partition_lock import hold_session_lock_unbounded
from trender_assets.warehouse.sessions import pin_to_utc, utc_options

SQL_DIR = Path(str(resources.files("trender_assets") / "sql"))
MIGRATION_LOCK_KEY = 7_310_221_001  # arbitrary, constant: identifies "trender schema migration"
_migrated: set[str] = set()
_local_lock = threading.Lock()


class AdvisoryLockBackend(PostgresqlPsycopgBackend):
    """yoyo's psycopg 3 backend whose migration lock is a session advisory lock, not a lock row."""

    @contextmanager
    def lock(self, timeout: int = 10):
        if self._is_locked:  # re-entered by yoyo itself (its internal schema upgrade)
            yield
            return
        hold_session_lock_unbounded(self.connection, MIGRATION_LOCK_KEY)  # not cut by a statement_timeout
        self._is_locked = True
        try:
            # Whoever holds the advisory lock is the only migrator, so any lock row is stale: an
            # older trender (or yoyo's CLI) was killed while holding it. Clear it for their sake.
            self.break_lock()
            yield
        finally:
            self._is_locked = False
            self.execute("select pg_advisory_unlock(:k)", {"k": MIGRATION_LOCK_KEY})

    def init_connection(self, connection) -> None:
        super().init_connection(connection)
        pin_to_utc(connection)  # the migrations' own session derives UTC dates too

    def has_stale_lock_row(self) -> bool:
        return self.execute(f"select exists (select 1 from {self.lock_table_quoted})").fetchone()[0]


def _backend(url: sa.URL) -> AdvisoryLockBackend:
    # yoyo picks its driver from the scheme; psycopg 3 is what the warehouse uses.
    url = url.update_query_dict({"options": utc_options(url)})
    uri = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    backend = AdvisoryLockBackend(parse_uri(uri), default_migration_table)
    try:
        _refuse_without_create(backend, read_migrations(str(SQL_DIR)))
        backend.init_database()
    except BaseException:
        backend.connection.close()
        raise
    return backend


YOYO_TABLES = {"_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock"}


def _refuse_without_create(backend: AdvisoryLockBackend, migrations) -> None:
    """Rule: a role that may not create tables where the migrations would put them hears which privilege
    is missing, on which schema, and the GRANT that gives it, before anything is attempted (yoyo would
    otherwise fail later on a table it could not create). An already migrated warehouse needs no
    CREATE: such a role may use it."""
    user, schema, may_create = backend.execute(
        "select quote_ident(current_user), current_schema(),"
        " coalesce(has_schema_privilege(current_schema(), 'CREATE'), false)").fetchone()
    if may_create:
        return
    if YOYO_TABLES <= set(backend.list_tables()) and not backend.to_apply(migrations):
        return
    database = backend.execute("select current_database()").fetchone()[0]
    if schema is None:
        raise WarehousePrivilegeMissing(
            f"the warehouse's role {user} has no schema to create tables in: no schema on its search_path"
            f" exists in database '{database}' (create one, or set the role's search_path)")
    quoted = backend.execute("select quote_ident(:s)", {"s": schema}).fetchone()[0]
    raise WarehousePrivilegeMissing(
        f"the warehouse's role {user} lacks the CREATE privilege on schema '{schema}' of database"
        f" '{database}', which the schema migrations need: GRANT CREATE ON SCHEMA {quoted} TO {user}"
        " (as the schema's owner), or migrate once as a role that has it")


def apply_migrations(engine: sa.Engine) -> list[str]:
    """Bring the warehouse schema up to date; returns the ids of the files applied now."""
    key = engine.url.render_as_string(hide_password=False)
    with _local_lock:
        if key in _migrated:
            return []
        backend = _backend(engine.url)
        try:
            migrations = read_migrations(str(SQL_DIR))
            applied: list[str] = []
            if backend.to_apply(migrations) or backend.has_stale_lock_row():
                with backend.lock():
                    pending = backend.to_apply(migrations)  # another process may have applied them
                    backend.apply_migrations(pending)
                    applied = [m.id for m in pending]
        except InsufficientPrivilege as exc:  # a privilege the check above cannot foresee
            reason = (str(exc).strip().splitlines() or ["permission denied"])[0]
            raise WarehousePrivilegeMissing(
                f"the warehouse's role lacks a privilege the schema migrations need: {reason}") from None
        finally:
            backend.connection.close()
        _migrated.add(key)
        return applied
