"""Concurrency and outages of `trender run`.

Two runs of one day started at once both end well, GitHub is asked for one day only, and the
warehouse holds exactly what one clean run stores. Each case starts from a fresh Dagster instance,
where the two processes also race to create Dagster's own storage: a DAGSTER_HOME of the user's
(SQLite), and trender's default instance in PostgreSQL, in the test server's database and in the
embedded server of a fresh TRENDER_DATA_DIR.

The database going away mid-run (cut off when the fake GitHub is asked for the second day's third
language, while that day's one ingest run fetches) prints what completed, one line, and exits 1.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import checkout_instance
from trender_assets_tests.helpers import rows, trender, warehouse_dump

DAY = scenario.DAY.isoformat()
DAY_BEFORE = (scenario.DAY - timedelta(days=1)).isoformat()


def start_run(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", "from trender_assets.cli import main; main()", "run", "--date", DAY],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def finish(proc: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"trender run did not finish in {timeout:.0f} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def github_work(fake) -> int:
    """Requests that spend the day's budget (the preflight's /rate_limit is free and per process)."""
    return fake.count() - fake.count("/rate_limit")


def drop_default_instance(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("drop schema if exists dagster cascade"))


@contextlib.contextmanager
def embedded_warehouse(data_dir: Path, monkeypatch):
    """An engine on the embedded warehouse of ``data_dir``; the server is stopped afterwards."""
    from trender_assets.warehouse.embedded import embedded_database_url
    from trender_assets.warehouse.engine import normalize_url

    monkeypatch.setenv("TRENDER_DATA_DIR", str(data_dir))
    engine = sa.create_engine(normalize_url(embedded_database_url()))
    try:
        yield engine
    finally:
        engine.dispose()
        stop_postmaster(data_dir / "pgdata")


def stop_postmaster(pgdata: Path, timeout: float = 60) -> None:
    """Fast shutdown (SIGINT) of the server this test started on ``pgdata``, waiting until it is gone.
    pgserver's own clean-up stops a server only when no other process ever opened it."""
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(timeout)
    except psutil.NoSuchProcess:
        pass


@pytest.fixture(params=["own_sqlite_home", "default_instance_in_server", "default_instance_embedded"])
def instance(request, cli_env, engine, embedded_data_dir, monkeypatch):
    """(environment, warehouse engine) for a fresh instance of the kind the test is parametrized by."""
    env = dict(cli_env)
    if request.param == "own_sqlite_home":
        yield env, engine
        return
    del env["DAGSTER_HOME"]
    if request.param == "default_instance_in_server":
        drop_default_instance(engine)
        yield env, engine
        drop_default_instance(engine)
        return
    del env["DATABASE_URL"]
    env["TRENDER_DATA_DIR"] = str(embedded_data_dir)
    with embedded_warehouse(embedded_data_dir, monkeypatch) as embedded:
        # only the server and its databases exist yet: the two runs race to create the rest
        yield env, embedded


def test_two_runs_of_one_day_at_once_end_well_and_ask_github_once(instance, cli_env, engine, fake_github, tmp_path):
    env, warehouse = instance
    fake_github.latency = 0.02  # the first run is still fetching when the second asks for the partition
    first, second = start_run(env), start_run(env)
    results = [finish(first), finish(second)]
    concurrent_requests = github_work(fake_github)
    concurrent = warehouse_dump(warehouse)

    for r in results:
        assert "Traceback" not in r.stdout + r.stderr, r.stderr
        if r.returncode != 0:  # allowed: the second says why, in one line
            assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert any(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert concurrent["fact_repo_snapshots"], "no facts stored"
    if "DAGSTER_HOME" not in env:  # the default instance: what `dagster dev` in the checkout shows
        recorded = {r["run_id"] for r in rows(warehouse, "select run_id from fact_workflow_runs")}
        with checkout_instance(env, tmp_path / "dagster_dev_home") as dagster_dev:
            runs = dagster_dev.get_runs()
            assert recorded and {r.run_id for r in runs} == recorded  # every run of both, in one instance
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            assert dagster_dev.get_materialized_partitions(dg.AssetKey("fact_repo_snapshots")) == {DAY}

    # one clean run of the day, in a fresh warehouse and instance, is the reference
    with engine.begin() as conn:
        conn.execute(sa.text("truncate raw_github_repos, stg_repos_validated, stg_repos_rejected,"
                             " dim_repository_observations, dim_repositories, fact_repo_snapshots_base,"
                             " github_http_cache, fact_workflow_runs restart identity cascade"))
    reference_env = {**cli_env, "DAGSTER_HOME": str(tmp_path / "reference_home")}
    Path(reference_env["DAGSTER_HOME"]).mkdir()
    before = github_work(fake_github)
    clean = trender(reference_env, "run", "--date", DAY)
    assert clean.returncode == 0, clean.stderr
    assert concurrent == warehouse_dump(engine)
    assert concurrent_requests == github_work(fake_github) - before  # one day's budget, not two


# -- the database going away mid-run -------------------------------------------------------------

def cut_off(database_url: str) -> None:
    """The database goes away: every session is terminated and no new one is accepted."""
    url = sa.make_url(database_url)
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'alter database "{url.database}" allow_connections false'))
        conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity where datname = :d"),
                     {"d": url.database})
    admin.dispose()


@pytest.mark.parametrize("instance_kind", ["own_sqlite_home", "default_instance"])
def test_database_going_away_mid_run_prints_what_completed_and_one_line(instance_kind, cli_env, database_url,
                                                                        fake_github, monkeypatch):
    from trender_assets_tests.e2e_support import fresh_database

    with fresh_database(database_url, "trender_gone") as throwaway:
        env = {**cli_env, "DATABASE_URL": throwaway}
        if instance_kind == "default_instance":  # Dagster's own storage goes away with the warehouse
            del env["DAGSTER_HOME"]
        respond = fake_github._respond

        def respond_then_cut_off_at_go(method, path, query, headers, body, **kwargs):
            q = query.get("q", "")
            if path.startswith("/search/repositories") and "language:Go" in q and q.endswith(f"..{DAY}"):
                if not getattr(fake_github, "cut", False):
                    fake_github.cut = True
                    cut_off(throwaway)  # the day before is done; this day's one ingest run is fetching
            return respond(method, path, query, headers, body, **kwargs)

        monkeypatch.setattr(fake_github, "_respond", respond_then_cut_off_at_go)
        result = trender(env, "backfill", "--start", DAY_BEFORE, "--end", DAY)

    assert getattr(fake_github, "cut", False), result.stdout + result.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for language in ("python", "typescript", "go", "render"):  # what completed: the day before
        assert any(line.startswith("ok") and "raw_github_repos" in line and f"{DAY_BEFORE}|{language}" in line
                   for line in lines), result.stdout
        assert any(line.startswith("ok") and "stg_repos_validated" in line and f"{DAY_BEFORE}|{language}" in line
                   for line in lines), result.stdout
    assert any(line.startswith("ok") and "fact_repo_snapshots" in line and DAY_BEFORE in line for line in lines)
    # the day's one ingest run did not complete: no partition of it is claimed (what it wrote may be listed)
    assert all(line.split()[0] in ("kept", "FAIL") for line in lines if DAY in line), result.stdout
    [error] = result.stderr.strip().splitlines()
    assert error.startswith("trender: error: ") and "database" in error, error
