"""Support for the end-to-end tests: a fresh PostgreSQL database, the scenario's fake GitHub moved to
any day, hostile README/description payloads, and `dagster dev` driven over GraphQL."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import httpx
import sqlalchemy as sa

from trender_assets.warehouse.engine import normalize_url
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_YAML = PROJECT_ROOT / "deploy" / "dagster.yaml"

# --------------------------------------------------------------------------------------------
# untrusted content that must never run in the report

PAYLOAD_DESCRIPTION = (
    "Totally <script>window.__pwned = 'description'; document.title = 'pwned'</script> normal"
    " <img src=x onerror=\"window.__pwned = 'description-img'\"> <a href=\"javascript:window.__pwned='d'\">x</a>"
)
PAYLOAD_README = """# evil-kit

A README that tries everything.

<script>window.__pwned = 'readme'; document.title = 'pwned'</script>

<img src="x" onerror="window.__pwned = 'readme-img'">

<a href="javascript:window.__pwned='readme-link'" onclick="window.__pwned='readme-click'">click me</a>

[markdown link](javascript:window.__pwned='md-link') and [a fine link](docs/usage.md)

<details open ontoggle="window.__pwned='toggle'"><summary>nested</summary>inner text</details>

<svg onload="window.__pwned='svg'"><circle r="5"/></svg>
<iframe src="javascript:window.__pwned='iframe'"></iframe>
<style>body { display: none }</style>

PAYLOAD_README_MARKER: the body text survives.
"""
PAYLOAD_REPO_ID = 106


def payload_repo(day: date) -> FakeRepo:
    """A young python repository whose description and README carry script injections."""
    return FakeRepo(PAYLOAD_REPO_ID, "evil/xss-kit", "Python", 650,
                    f"{day - timedelta(days=12)}T12:00:00Z", f"{day - timedelta(days=1)}T12:00:00Z",
                    description=PAYLOAD_DESCRIPTION, readme=PAYLOAD_README)


# --------------------------------------------------------------------------------------------
# the scenario on another day


def shifted_repo(repo: FakeRepo, days: int) -> FakeRepo:
    def shift(ts: Optional[str]) -> Optional[str]:
        if ts is None:
            return None
        return f"{date.fromisoformat(ts[:10]) + timedelta(days=days)}{ts[10:]}"

    return dataclasses.replace(repo, created_at=shift(repo.created_at), pushed_at=shift(repo.pushed_at),
                               updated_at=shift(repo.updated_at))


def serve_scenario_on(fake: FakeGitHub, day: date) -> FakeGitHub:
    """scenario.serve, with every date moved so that ``day`` plays scenario.DAY."""
    scenario.serve(fake)
    offset = (day - scenario.DAY).days
    with fake._lock:  # the fake keeps repos by id; replace each with its moved copy
        repos = list(fake._repos.values())
    for repo in repos:
        fake.add_repo(shifted_repo(repo, offset))
    return fake


# --------------------------------------------------------------------------------------------
# PostgreSQL


@contextlib.contextmanager
def fresh_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new database on the server of ``server_url`` (any database of it), dropped afterwards."""
    admin = normalize_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity"
                                 " where datname = :n and pid <> pg_backend_pid()"), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()


@contextlib.contextmanager
def checkout_instance(env: dict[str, str], scratch: Path, config_dir: Path = PROJECT_ROOT) -> Iterator["dg.DagsterInstance"]:
    """The instance plain `dagster dev` opens in the checkout with DAGSTER_HOME unset (a folder of its
    own, the dagster.yaml of ``config_dir``), under ``env``'s DATABASE_URL and TRENDER_DATA_DIR."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    names = ("DATABASE_URL", "TRENDER_DATA_DIR", "DAGSTER_HOME")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
            if name in env and name != "DAGSTER_HOME":
                os.environ[name] = env[name]
        scratch.mkdir(parents=True, exist_ok=True)
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(scratch), config_dir=str(config_dir))) as instance:
            yield instance
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# dagster dev


class DagsterDev:
    """`dagster dev` (webserver + daemon + code server) in its own process group, driven over GraphQL."""

    def __init__(self, home: Path, env: dict[str, str], log_path: Path):
        self.home, self.env, self.log_path = home, env, log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: Optional[subprocess.Popen] = None
        self._log = None
        self._http = httpx.Client(timeout=30)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 120) -> "DagsterDev":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(self.port)],
            cwd=PROJECT_ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: we stop exactly what we started
            # as in a terminal: a shell's background job (CI, a script) starts with SIGINT ignored, and
            # `dagster dev` maps SIGTERM to SIGINT's handler, so it would ignore being stopped too
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                entries = self.query("{ workspaceOrError { ... on Workspace { locationEntries {"
                                     " name loadStatus locationOrLoadError { __typename ... on PythonError"
                                     " { message } } } } } }")["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                    if errors:
                        raise RuntimeError(f"code location failed to load: {errors}")
                    return self
            except (httpx.HTTPError, KeyError, TypeError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"dagster dev not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)

    def stop(self, grace: float = 30, leader_only: bool = False) -> bool:
        """SIGTERM to our process group (with ``leader_only``, to `dagster dev` alone, which then
        stops its webserver and daemon in order before it removes its temporary folder), SIGKILL for
        whatever is left (including run workers). True when it ended on SIGTERM within ``grace``."""
        self._http.close()
        graceful = True
        if self.proc is not None:
            graceful = stop_process_group(self.proc, grace, leader_only=leader_only)
        if self._log is not None:
            self._log.close()
        return graceful

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- GraphQL --------------------------------------------------------------------------------

    def query(self, query: str, variables: Optional[dict] = None) -> dict[str, Any]:
        response = self._http.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}})
        try:
            body = response.json()
        except ValueError:
            raise AssertionError(f"GraphQL answered {response.status_code}: {response.text[:2000]}") from None
        if body.get("errors"):  # GraphQL answers 400 with the reasons for a query it rejects
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        if response.status_code != 200:
            raise AssertionError(f"GraphQL answered {response.status_code}: {str(body)[:2000]}")
        return body["data"]

    def launch_run(self, job: str, tags: dict[str, str], location: str = "trender") -> str:
        data = self.query(
            """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
                 __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"p": {"selector": {"repositoryLocationName": location, "repositoryName": "__repository__",
                                "jobName": job},
                   "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}},
        )["launchRun"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return data["run"]["runId"]

    def runs(self, tags: Optional[dict[str, str]] = None) -> list[dict]:
        tag_filter = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        return self.query(
            """query($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
                 runId status jobName tags { key value } assetSelection { path } } } } }""",
            {"f": {"tags": tag_filter}},
        )["runsOrError"]["results"]

    def run_status(self, run_id: str) -> str:
        return self.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          {"id": run_id})["runOrError"]["status"]

    def timeline(self) -> str:
        """Every run and its steps, in seconds from the first run (E2E_TIMELINE=1 prints it)."""
        runs = self.query("{ runsOrError { ... on Runs { results { creationTime startTime endTime"
                          " tags { key value } stepStats { stepKey startTime endTime } } } } }")["runsOrError"]["results"]
        t0 = min((r["creationTime"] for r in runs), default=0)
        lines = []
        for r in sorted(runs, key=lambda r: r["creationTime"]):
            part = next((t["value"] for t in r["tags"] if t["key"] == "dagster/partition"), "")
            steps = " ".join(f"{s['stepKey']}:{(s['startTime'] or t0) - t0:.1f}-{(s['endTime'] or t0) - t0:.1f}"
                             for s in r["stepStats"])
            lines.append(f"{part:22} queued {r['creationTime'] - t0:6.1f} ran {(r['startTime'] or t0) - t0:6.1f}"
                         f"-{(r['endTime'] or t0) - t0:6.1f}  {steps}")
        return "\n".join(lines)

    def materialized_partitions(self, asset: str) -> set[str]:
        data = self.query(
            """query($k: AssetKeyInput!) { assetNodeOrError(assetKey: $k) { ... on AssetNode {
                 assetPartitionStatuses { __typename
                   ... on TimePartitionStatuses { ranges { startKey endKey status } }
                   ... on DefaultPartitionStatuses { materializedPartitions }
                   ... on MultiPartitionStatuses { primaryDimensionName ranges { primaryDimStartKey
                        primaryDimEndKey secondaryDim { ... on DefaultPartitionStatuses { materializedPartitions } } } }
                 } } } }""",
            {"k": {"path": [asset]}},
        )["assetNodeOrError"]["assetPartitionStatuses"]
        found: set[str] = set()
        if data["__typename"] == "TimePartitionStatuses":
            for r in data["ranges"]:
                if r["status"] == "MATERIALIZED":
                    start, end = date.fromisoformat(r["startKey"]), date.fromisoformat(r["endKey"])
                    found |= {(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)}
        elif data["__typename"] == "DefaultPartitionStatuses":
            found = set(data["materializedPartitions"])
        else:
            for r in data["ranges"]:
                start, end = date.fromisoformat(r["primaryDimStartKey"]), date.fromisoformat(r["primaryDimEndKey"])
                for i in range((end - start).days + 1):
                    day = (start + timedelta(days=i)).isoformat()
                    found |= {f"{day}|{lang}" for lang in r["secondaryDim"]["materializedPartitions"]}
        return found


def wait_for(what: str, condition: Callable[[], Any], timeout: float, dev: Optional[DagsterDev] = None,
             interval: float = 1.0) -> Any:
    """Poll until ``condition()`` is truthy; fail with ``what`` (and the dagster dev log tail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n--- dagster dev log ---\n{dev.log_tail()}" if dev else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)


DROPPED_ENV = ("TRENDER_NOW", "DEV_MODE", "DEV_REPO_LIMIT", "TRENDER_REPO_LIMIT", "TRENDER_TOP_PER_LANGUAGE",
               "TRENDER_EXECUTOR", "TRENDER_CELERY_BROKER", "DAGSTER_HOME")
"""What the test session's environment must not hand to the processes under test."""


def production_instance_env(tmp_path: Path, database_url: str, dagster_pg_url: str, fake: FakeGitHub) -> dict[str, str]:
    """The environment of processes on deploy/dagster.yaml (`dagster dev`, a gRPC server, the webserver,
    the daemon, Celery workers): a Dagster home in ``tmp_path`` with that file, its storage at
    ``dagster_pg_url``, the warehouse, and the fake GitHub, which the client need not pace or wait on."""
    import shutil

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update({
        "DAGSTER_HOME": str(home),
        # dagster-postgres is built on psycopg2 (a plain postgresql:// would pick psycopg 3)
        "DAGSTER_PG_URL": dagster_pg_url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1),
        "DATABASE_URL": database_url,
        "GITHUB_API_URL": fake.url,
        "GITHUB_TOKEN": scenario.TOKEN,
        "TRENDER_DATA_DIR": str(tmp_path / "trender_data"),
        "TRENDER_REPORT_DIR": str(tmp_path / "reports"),
        "TRENDER_GITHUB_BACKOFF_SECONDS": "0.01",
        "TRENDER_GITHUB_PACE_SEARCHES": "0",
        # the automation sensor every 5 s instead of 30: what the tests wait on, not what they test
        "TRENDER_AUTOMATION_INTERVAL_SECONDS": "5",
    })
    return env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_process_group(proc: subprocess.Popen, grace: float, leader_only: bool = False) -> bool:
    """SIGTERM to the process's group (started with ``start_new_session``), SIGKILL after ``grace``
    seconds, then kill any descendant that left the group (run workers, pool processes). With
    ``leader_only`` the process is asked alone first, for up to 20 s of ``grace``, so it can stop its
    children in order itself; a process that ignores it (a signal arriving while it defers
    interrupts) then gets the group's SIGTERM. True when it ended on SIGTERM alone."""
    descendants = _descendants(proc.pid)
    if leader_only:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=min(20.0, grace))
            grace = 0.0
    graceful = True
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=max(grace, 1.0))
        except subprocess.TimeoutExpired:
            graceful = False
            proc.kill()
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group outlived it
    _kill_survivors(descendants)
    return graceful


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # psutil missing or the process already gone: the process group covers it
        return []


def _kill_survivors(processes: list) -> None:
    for p in processes:
        with contextlib.suppress(Exception):
            if p.is_running():
                p.kill()
