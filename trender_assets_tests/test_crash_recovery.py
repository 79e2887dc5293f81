"""A crash never wedges anything: every lock dies with its holder, killed runs are marked failed and
recorded, a half-written page is cleaned up, and ``trender db stop`` tells the truth.

Each case kills a real subprocess with SIGKILL at a chosen moment, then runs the next command.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.warehouse.migrations import SQL_DIR
from trender_assets_tests import e2e_support, scenario
from trender_assets_tests.helpers import rows, trender

DAY = scenario.DAY.isoformat()


def _no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr


class Holder:
    """A Python subprocess that runs ``code``, prints ``ready`` and sleeps until killed."""

    def __init__(self, code: str, env: dict | None = None):
        script = textwrap.dedent(code) + "\nprint('ready', flush=True)\nimport time\ntime.sleep(600)\n"
        self.proc = subprocess.Popen([sys.executable, "-c", script], env=env or os.environ.copy(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", line + self.proc.stderr.read()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL, then reap it (a zombie still looks alive)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def fresh_database(database_url) -> str:
    """An empty database on the test server: every file in sql/ is pending there."""
    with e2e_support.fresh_database(database_url, "trender_crash") as url:
        yield url


HOLD_MIGRATION_LOCK = """
    import sqlalchemy as sa
    from trender_assets.warehouse.migrations import _backend
    backend = _backend(sa.make_url({url!r}))
    lock = backend.lock()
    lock.__enter__()  # holds the migration lock as a migrating trender does
    if {old_row}:  # ... and the lock row an older trender (yoyo's own lock) left behind
        backend.execute("insert into yoyo_lock (locked, ctime, pid) values (1, now(), 4242)")
"""


# -- 1. the migration lock -------------------------------------------------------------------------

def test_a_killed_migrator_blocks_nobody(cli_env, fresh_database):
    holder = Holder(HOLD_MIGRATION_LOCK.format(url=fresh_database, old_row=True))
    holder.kill()
    started = time.monotonic()
    result = trender({**cli_env, "DATABASE_URL": fresh_database}, "retention", "--dry-run", timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)
    assert "LockTimeout" not in result.stderr
    engine = sa.create_engine(fresh_database)
    try:
        with engine.connect() as conn:
            applied = conn.execute(sa.text("select count(*) from _yoyo_migration")).scalar_one()
            lock_rows = conn.execute(sa.text("select count(*) from yoyo_lock")).scalar_one()
    finally:
        engine.dispose()
    assert applied == len(list(SQL_DIR.glob("*.sql")))  # the schema was applied after all
    assert lock_rows == 0  # the older version's stale row is cleared
    assert elapsed < 60  # no 10 s lock wait, no retry loop (the command itself takes a few seconds)


def test_with_nothing_to_migrate_no_lock_is_needed(cli_env, database_url, engine):
    holder = Holder(HOLD_MIGRATION_LOCK.format(url=database_url, old_row=False))
    try:  # a live process holds the migration lock all along; the schema is already current
        result = trender(cli_env, "retention", "--dry-run", timeout=120)
    finally:
        holder.kill()
    assert result.returncode == 0, result.stdout + result.stderr
    _no_traceback(result)


# -- 2. killed runs --------------------------------------------------------------------------------

def _unfinished_runs(home: Path) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return list(instance.get_runs(filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED])))


def test_a_killed_run_is_marked_failed_and_recorded(cli_env, fake_github, engine):
    home = Path(cli_env["DAGSTER_HOME"])
    fake_github.latency = 0.5
    proc = subprocess.Popen(
        [sys.executable, "-c", "from trender_assets.cli import main; main()", "run", "--date", DAY,
         "--language", "go"], env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while fake_github.count("/search/repositories") == 0:  # mid-run: the search is being answered
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    [killed] = _unfinished_runs(home)
    assert killed.status == dg.DagsterRunStatus.STARTED and killed.tags["trender/pid"] == str(proc.pid)
    assert rows(engine, "select status from fact_workflow_runs") == []

    fake_github.latency = 0.0
    again = trender(cli_env, "run", "--date", DAY, "--language", "go")
    assert again.returncode == 0, again.stdout + again.stderr
    _no_traceback(again)
    assert (f"trender: notice: run {killed.run_id} (ingest_job) was left unfinished by process {proc.pid}, "
            "which is gone: marked failed") in again.stderr
    assert _unfinished_runs(home) == []
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    recorded = rows(engine, "select run_id, job_name, partitions, status, error_message, ended_at is not null as ended"
                            " from fact_workflow_runs order by started_at")
    assert recorded[0]["run_id"] == killed.run_id
    assert (recorded[0]["job_name"], recorded[0]["partitions"], recorded[0]["status"], recorded[0]["ended"]) == (
        "ingest_job", [f"{DAY}|go"], "failed", True)
    assert f"pid {proc.pid}" in recorded[0]["error_message"] and "killed or crashed" in recorded[0]["error_message"]
    assert [(r["job_name"], r["status"]) for r in recorded[1:]] == [("ingest_job", "succeeded"),
                                                                      ("marts_job", "succeeded")]


def test_a_live_run_is_left_alone(engine, instance):
    """Another trender still running its day: its run is not touched."""
    from trender_assets.abandoned_runs import fail_abandoned_runs, process_tags
    from trender_assets.processes import started_at

    live = Holder("")
    try:
        tags = {**process_tags(), "trender/pid": str(live.pid), "trender/process_started": str(started_at(live.pid))}
        run = instance.create_run_for_job(_noop_job(), tags=tags, status=dg.DagsterRunStatus.STARTED)
        assert fail_abandoned_runs(instance, engine) == []
        live.kill()
        [gone] = fail_abandoned_runs(instance, engine)
    finally:
        live.kill()
    assert gone.run_id == run.run_id
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    assert rows(engine, "select run_id, status from fact_workflow_runs") == [{"run_id": run.run_id, "status": "failed"}]


def _noop_job() -> dg.JobDefinition:
    @dg.op
    def noop():
        return None

    @dg.job
    def noop_job():
        noop()

    return noop_job


# -- 3. a half-written report page -----------------------------------------------------------------

def test_a_page_left_half_written_by_a_killed_writer_is_removed(tmp_path):
    from trender_assets.assets.report import write_atomically

    reports = tmp_path / "reports"
    writer = Holder(f"""
        import os, time
        from pathlib import Path
        from trender_assets.assets import report
        def stall(src, dst):  # killed between writing the temporary file and moving it into place
            print('ready', flush=True)
            time.sleep(600)
        os.replace = stall
        report.write_atomically(Path({str(reports / 'trending-2026-11-19.html')!r}), "<html>half")
    """)
    leftover = reports / f".trending-2026-11-19.html.{writer.pid}.tmp"
    assert leftover.exists()
    live = Holder("")  # a page another live process is writing right now is not touched
    live_tmp = reports / f".trending-2026-11-18.html.{live.pid}.tmp"
    live_tmp.write_text("<html>in progress")
    try:
        writer.kill()
        write_atomically(reports / "trending-2026-11-20.html", "<html>whole</html>")
        assert sorted(p.name for p in reports.iterdir()) == [live_tmp.name, "trending-2026-11-20.html"]
    finally:
        live.kill()
    assert (reports / "trending-2026-11-20.html").read_text() == "<html>whole</html>"


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    from trender_assets.assets import report

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report.os, "replace", refuse)
    with pytest.raises(OSError):
        report.write_atomically(tmp_path / "trending-2026-11-20.html", "<html>")
    assert list(tmp_path.iterdir()) == []


# -- 4. trender db stop ----------------------------------------------------------------------------

def test_db_stop_after_a_crash_stops_the_server_and_says_so(cli_env, embedded_data_dir):
    from trender_assets.processes import is_alive
    from trender_assets.warehouse.embedded import server_is_running

    data_dir = embedded_data_dir
    env = {k: v for k, v in cli_env.items() if k != "DATABASE_URL"}
    env["TRENDER_DATA_DIR"] = str(data_dir)
    pgdata = data_dir / "pgdata"
    user = Holder("from trender_assets.warehouse.embedded import embedded_database_url\n"
                  "embedded_database_url()", env=env)
    try:
        assert server_is_running(pgdata)
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])

        refused = trender(env, "db", "stop")  # a live process uses it: not stopped, and why
        assert refused.returncode == 1
        _no_traceback(refused)
        assert refused.stderr.strip() == (
            f"trender: error: not stopped: the embedded PostgreSQL in {pgdata} is in use by running process(es) "
            f"{user.pid}; stop them first, or use --force to disconnect them")
        assert server_is_running(pgdata)

        user.kill()  # crashed: its pid stays in pgserver's .handle_pids.json
        assert str(user.pid) in (pgdata / ".handle_pids.json").read_text()
        stopped = trender(env, "db", "stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert stopped.stdout.strip() == f"stopped the embedded PostgreSQL in {pgdata}"
        assert not server_is_running(pgdata)
        assert not is_alive(postmaster)

        again = trender(env, "db", "stop")
        assert (again.returncode, again.stdout.strip()) == (0, f"no server running in {pgdata}")
    finally:
        user.kill()
        if server_is_running(pgdata):
            trender(env, "db", "stop", "--force")
