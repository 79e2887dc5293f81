"""Configuration mistakes get one line: ``trender: error: ...`` on stderr, exit 2, no traceback.
And Ctrl-C is an interruption (exit 130), not a failure."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from trender_assets_tests import scenario
from trender_assets_tests.helpers import one_line_error, rows, trender

DAY = scenario.DAY.isoformat()


def test_a_frozen_clock_that_is_not_a_time(cli_env):
    line = one_line_error(trender({**cli_env, "TRENDER_NOW": "garbage"}, "run", "--date", DAY))
    assert "TRENDER_NOW 'garbage' is not an ISO 8601 time" in line


@pytest.mark.parametrize("name, value, fragment", [
    ("TRENDER_GITHUB_BACKOFF_SECONDS", "soon", "must be a number of seconds from 0 to 3600, got 'soon'"),
    ("TRENDER_GITHUB_BACKOFF_SECONDS", "nan", "must be a number of seconds from 0 to 3600, got 'nan'"),
    ("TRENDER_GITHUB_BACKOFF_SECONDS", "-1", "must be a number of seconds from 0 to 3600, got '-1'"),
    ("TRENDER_GITHUB_BACKOFF_SECONDS", "1e999", "must be a number of seconds from 0 to 3600, got '1e999'"),
    ("TRENDER_GITHUB_PACE_SEARCHES", "maybe", "must be 0 or 1, got 'maybe'"),
    ("TRENDER_AUTOMATION_INTERVAL_SECONDS", "0", "must be a whole number of seconds from 1 to 86400, got '0'"),
    ("DEV_REPO_LIMIT", "lots", "must be a whole number from 1 to 100000, got 'lots'"),
    ("DEV_REPO_LIMIT", "-1", "must be a whole number from 1 to 100000, got '-1'"),
    ("DEV_REPO_LIMIT", "0", "must be a whole number from 1 to 100000, got '0'"),
    ("TRENDER_REPO_LIMIT", "nan", "must be a whole number from 1 to 100000, got 'nan'"),
    ("TRENDER_REPO_LIMIT", "2.5", "must be a whole number from 1 to 100000, got '2.5'"),
    ("TRENDER_REPO_LIMIT", "-3", "must be a whole number from 1 to 100000, got '-3'"),
    ("TRENDER_REPO_LIMIT", "9" * 40, f"must be a whole number from 1 to 100000, got '{'9' * 40}'"),
])
def test_an_environment_setting_that_is_not_a_value(cli_env, name, value, fragment):
    line = one_line_error(trender({**cli_env, name: value}, "run", "--date", DAY))
    assert line == f"trender: error: {name} {fragment}"


@pytest.mark.parametrize("value, shown", [
    ("http://[bad", "http://[bad"),
    ("ftp://files.example/api", "ftp://files.example/api"),
    ("api.github.com", "api.github.com"),
    ("http://user:s3cret@[bad/api", "http://user:***@[bad/api"),
    ("https://api.github.com:99999", "https://api.github.com:99999"),
    ("http:///api", "http:///api"),
    ("", ""),
])
def test_a_github_api_url_that_is_not_a_url(monkeypatch, value, shown):
    from trender_assets import environment
    from trender_assets.errors import ConfigurationError

    monkeypatch.setenv("GITHUB_API_URL", value)
    with pytest.raises(ConfigurationError) as caught:
        environment.check_github_api_url()
    assert str(caught.value) == f"GITHUB_API_URL must be an http(s) URL such as https://api.github.com, got {shown!r}"


def test_a_github_api_url_that_is_not_a_url_is_one_line_from_the_command(cli_env):
    line = one_line_error(trender({**cli_env, "GITHUB_API_URL": "http://user:s3cret@[bad/api"}, "run", "--date", DAY))
    assert line == ("trender: error: GITHUB_API_URL must be an http(s) URL such as https://api.github.com, "
                    "got 'http://user:***@[bad/api'")


def test_github_test_knobs_reach_the_resource_and_default_to_production(monkeypatch):
    from trender_assets import definitions
    from trender_assets.errors import ConfigurationError

    for name in ("TRENDER_GITHUB_BACKOFF_SECONDS", "TRENDER_GITHUB_PACE_SEARCHES"):
        monkeypatch.delenv(name, raising=False)
    github = definitions.default_resources()["github"]
    assert (github.backoff_seconds, github.pace_searches) == (1.0, True)
    monkeypatch.setenv("TRENDER_GITHUB_BACKOFF_SECONDS", " 0.01 ")
    monkeypatch.setenv("TRENDER_GITHUB_PACE_SEARCHES", "0")
    github = definitions.default_resources()["github"]
    assert (github.backoff_seconds, github.pace_searches) == (0.01, False)
    for bad in ("-1", "nan", "inf", "3601"):
        monkeypatch.setenv("TRENDER_GITHUB_BACKOFF_SECONDS", bad)
        with pytest.raises(ConfigurationError, match="TRENDER_GITHUB_BACKOFF_SECONDS must be"):
            definitions.default_resources()


@pytest.mark.parametrize("problem, fragment", [
    ("a file", "is a file, not a folder"),
    ("under a file", "cannot be created:"),
    ("relative", "must be an absolute path"),
    ("a query mark", "contains '?', which Dagster's storage cannot use in a path"),
    ("a percent sign", "contains '%', which Dagster's storage cannot use in a path"),
])
def test_a_dagster_home_that_cannot_be_used(cli_env, tmp_path, problem, fragment):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    home = {"a file": str(blocker), "under a file": str(blocker / "home"), "relative": "dagster_home",
            "a query mark": str(tmp_path / "x" / ".." / "home?v=1"), "a percent sign": str(tmp_path / "100%")}[problem]
    line = one_line_error(trender({**cli_env, "DAGSTER_HOME": home}, "run", "--date", DAY))
    assert line.startswith(f"trender: error: DAGSTER_HOME {home} ") and fragment in line
    if problem == "under a file":
        assert f"{blocker} is a file" in line


def test_a_dagster_home_that_is_not_writable(cli_env, tmp_path):
    """Root writes anywhere, so as root the command runs without the capability to override
    file permissions (``setpriv``), as any other user would."""
    home = tmp_path / "read_only_home"
    home.mkdir(mode=0o555)
    home.chmod(0o555)
    command = [sys.executable, "-c", "from trender_assets.cli import main; main()", "run", "--date", DAY]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: every folder is writable")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    try:
        result = subprocess.run(command, env={**cli_env, "DAGSTER_HOME": str(home)}, capture_output=True,
                                text=True, timeout=300, stdin=subprocess.DEVNULL)
    finally:
        home.chmod(0o755)
    line = one_line_error(result)
    assert line == f"trender: error: DAGSTER_HOME {home} is not writable: Permission denied"


def test_an_empty_database_url_is_refused_not_replaced_by_the_embedded_server(cli_env, tmp_path):
    data_dir = tmp_path / "embedded"
    env = {**cli_env, "DATABASE_URL": "", "TRENDER_DATA_DIR": str(data_dir)}
    for args in (["run", "--date", DAY], ["db", "url"]):
        line = one_line_error(trender(env, *args))
        assert line == "trender: error: DATABASE_URL is set but empty: unset it to use the embedded PostgreSQL"
    assert not (data_dir / "pgdata").exists()  # no embedded server was started


def test_a_database_url_without_a_database_name_is_refused(cli_env, database_url, engine):
    url = sa.make_url(database_url)
    server_only = sa.URL.create(url.drivername, url.username, url.password, url.host, url.port,
                                query=url.query).render_as_string(hide_password=False)
    line = one_line_error(trender({**cli_env, "DATABASE_URL": server_only}, "run", "--date", DAY))
    assert "DATABASE_URL names no database" in line
    assert rows(engine, "select count(*) as n from fact_workflow_runs") == [{"n": 0}]


def test_db_url_shows_database_url_with_the_password_hidden(cli_env, tmp_path):
    secret = "s3cr3t-PASSWORD"
    env = {**cli_env, "DATABASE_URL": f"postgresql://trender:{secret}@db.example:5433/warehouse",
           "TRENDER_DATA_DIR": str(tmp_path / "embedded")}
    result = trender(env, "db", "url")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgresql://trender:***@db.example:5433/warehouse"
    assert "DATABASE_URL" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert not (tmp_path / "embedded" / "pgdata").exists()


def test_ctrl_c_exits_130_and_leaves_no_run_unfinished(cli_env, fake_github, engine):
    fake_github.latency = 0.3  # slow enough to be interrupted mid-run
    proc = subprocess.Popen(
        [sys.executable, "-c", "from trender_assets.cli import main; main()", "run", "--date", DAY],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while fake_github.count("/search/repositories") == 0:  # the first language's run is fetching
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert [line for line in stderr.splitlines() if line.strip()][-1] == "trender: error: interrupted"
    # the interrupted run (the day's four categories, one range run) is recorded as finished, and
    # nothing after it was started: no marts run, and no GitHub request once the process was gone
    runs = rows(engine, "select job_name, partitions, status from fact_workflow_runs")
    assert runs == [{"job_name": "ingest_job", "partitions": [f"{DAY}|python", f"{DAY}|render"], "status": "failed"}]
    requests = len(fake_github.requests)
    time.sleep(1.0)  # a worker thread left behind would still be asking GitHub
    assert len(fake_github.requests) == requests


def test_a_frozen_clock_with_an_offset_is_a_utc_day(monkeypatch):
    from trender_assets.clock import utc_now, utc_today

    monkeypatch.setenv("TRENDER_NOW", "2026-11-21T01:30:00+05:00")  # still 20 November in UTC
    assert utc_now().isoformat() == "2026-11-20T20:30:00+00:00"
    assert utc_today().isoformat() == "2026-11-20"


def test_the_shared_engine_forgets_an_unreachable_warehouse_and_hides_its_password(database_url, engine):
    from concurrent.futures import ThreadPoolExecutor

    from trender_assets.errors import WarehouseUnavailable
    from trender_assets.warehouse import engine as warehouse_engine

    secret = "s3cr3t-PASSWORD"
    unreachable = f"postgresql://trender:{secret}@127.0.0.1:1/nowhere"
    for _ in range(2):  # the second call tries again: a failed connection is not cached
        with pytest.raises(WarehouseUnavailable) as failure:
            warehouse_engine.shared_engine(unreachable)
        message = str(failure.value)
        assert message.startswith("cannot connect to the warehouse database postgresql://trender:***@127.0.0.1:1/nowhere")
        assert secret not in message
    assert not any("127.0.0.1:1/" in key for key in warehouse_engine._shared)

    # callers racing for the same warehouse get one engine (one pool, one migration check)
    with ThreadPoolExecutor(4) as pool:
        engines = set(pool.map(lambda _: warehouse_engine.shared_engine(database_url), range(8)))
    assert len(engines) == 1


def test_an_absolute_dagster_home_with_dot_dot_is_used(tmp_path, monkeypatch):
    from trender_assets.instance_home import prepare_instance_home

    home = tmp_path / "elsewhere" / ".." / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare_instance_home(home)
    assert (tmp_path / "dagster_home").is_dir()
