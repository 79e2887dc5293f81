"""The default warehouse: an embedded PostgreSQL in a documented folder, shared by processes.

Runs whatever TRENDER_TEST_DATABASE_URL says, so CI covers both database paths.
"""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from trender_assets.warehouse.migrations import SQL_DIR
from trender_assets_tests import scenario
from trender_assets_tests.helpers import trender

URL_OF_EMBEDDED = "from trender_assets.warehouse.embedded import embedded_database_url as u; print(u())"


def test_run_on_the_embedded_default_then_stop(cli_env, tmp_path):
    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"}
    data_dir = tmp_path / "trender_data"
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
