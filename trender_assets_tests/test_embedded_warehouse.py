"""The default warehouse: an embedded PostgreSQL in a documented folder, shared by processes.

Runs whatever TRENDER_TEST_DATABASE_URL says, so CI covers both database paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from trender_assets.warehouse.migrations import SQL_DIR
from trender_assets_tests import scenario
from trender_assets_tests.helpers import trender

URL_OF_EMBEDDED = "from trender_assets.warehouse.embedded import embedded_database_url as u; print(u())"


def test_run_on_the_embedded_default_then_stop(cli_env, embedded_data_dir):
    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"}
    data_dir = embedded_data_dir
    env["TRENDER_DATA_DIR"] = str(data_dir)
    try:
        result = trender(env, "run", "--date", scenario.DAY.isoformat(), "--language", "go")
        assert result.returncode == 0, result.stdout + result.stderr
        assert (data_dir / "pgdata" / "PG_VERSION").exists()

        # two more processes join the same server rather than starting their own
        urls = {
            subprocess.run([sys.executable, "-c", URL_OF_EMBEDDED], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
            for _ in range(2)
        }
        assert len(urls) == 1
        engine = sa.create_engine(urls.pop())
        with engine.connect() as conn:
            go = conn.execute(sa.text(
                "select count(*) from stg_repos_validated where language = 'go'")).scalar_one()
            versions = conn.execute(sa.text("select count(*) from _yoyo_migration")).scalar_one()
        engine.dispose()
        assert go == len(scenario.EXPECTED["go"])
        assert versions == len(list(SQL_DIR.glob("*.sql")))  # every file in sql/ recorded once
    finally:
        stopped = trender(env, "db", "stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped")


def _postgres_processes(folder: Path, settle_seconds: float = 10.0) -> list[int]:
    """Live processes whose command line names ``folder`` (a postmaster runs with ``-D <pgdata>``),
    after giving a server that was just told to stop ``settle_seconds`` to be gone: `pg_ctl stop`
    returns when the pid file is removed, a moment before the last process has exited."""
    import psutil

    deadline = time.monotonic() + settle_seconds
    while True:
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "status"]):
            if process.info["status"] != psutil.STATUS_ZOMBIE and any(
                    str(folder) in part for part in process.info["cmdline"] or ()):
                found.append(process.info["pid"])
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_db_url_prints_the_url_and_starts_nothing(embedded_data_dir, tmp_path):
    data_dir = embedded_data_dir
    pgdata = data_dir / "pgdata"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TRENDER_CONFIG")}
    env.update({"TRENDER_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(tmp_path)})
    try:
        assert trender(env, "db", "url").returncode != 0  # no server yet: none is created for a URL
        assert not pgdata.exists()

        starting = subprocess.run([sys.executable, "-c", URL_OF_EMBEDDED], env=env, capture_output=True, text=True)
        assert starting.returncode == 0, starting.stderr
        started = starting.stdout.strip()
        running = trender(env, "db", "url")
        assert running.returncode == 0, running.stderr
        assert running.stdout.strip() == started.replace("+psycopg", "")
        assert "is running" in running.stderr

        assert trender(env, "db", "stop").stdout.startswith("stopped")
        stopped = trender(env, "db", "url")
        assert stopped.returncode == 0, stopped.stderr
        assert stopped.stdout.strip() == running.stdout.strip()  # the URL it has once started again
        assert "not running" in stopped.stderr
        assert not (pgdata / "postmaster.pid").exists()
        assert _postgres_processes(pgdata) == []
    finally:
        trender(env, "db", "stop", "--force")
        assert _postgres_processes(pgdata) == []
