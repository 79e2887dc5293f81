"""Support for the scale-out tests: the production topology as separate processes (the code location's
gRPC server, dagster-webserver, dagster-daemon), Celery workers, a Redis database of the test's own,
and what the event log says about where and when steps ran.

Every process is started in its own process group with the commands of README's "Scaling out", and
stopped with whatever it started (run workers, Celery's pool processes) even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import dagster as dg
import httpx

from trender_assets_tests.e2e_support import (PROJECT_ROOT, DagsterDev, _descendants, free_port,
                                               production_instance_env, stop_process_group)
from trender_assets_tests.fake_github import FakeGitHub

BIN = Path(sys.executable).parent  # the console scripts of the interpreter running the tests
WORKSPACE_YAML = PROJECT_ROOT / "deploy" / "workspace.yaml"
CELERY_YAML = PROJECT_ROOT / "deploy" / "celery.yaml"
REDIS_URL = os.environ.get("TRENDER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
GITHUB_STEP = "raw_github_repos"  # the one step that calls GitHub, in pool github_api


def process_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the interpreter's scripts first on PATH (dagster-celery starts ``celery`` by name)."""
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}


def topology_env(tmp_path, database_url: str, dagster_pg_url: str, fake: FakeGitHub) -> dict[str, str]:
    """What each process of the topology is started with: the instance, the warehouse, the fake GitHub."""
    return production_instance_env(tmp_path, database_url, dagster_pg_url, fake)


class Process:
    """One long-running command in its own process group, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    def start(self) -> "Process":
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, cwd=PROJECT_ROOT, env=process_env(self.env),
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def pids(self) -> set[int]:
        """The process and everything it started (run workers, Celery pool processes)."""
        if self.proc is None or self.proc.poll() is not None:
            return set()
        return {self.proc.pid, *(p.pid for p in _descendants(self.proc.pid))}

    def stop(self, grace: float = 20) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:]) or "(no output)"


class Topology(DagsterDev):
    """The production topology on one machine: ``dagster api grpc`` serving the code location,
    ``dagster-webserver`` and ``dagster-daemon`` against deploy/workspace.yaml, three processes sharing
    the instance in ``home`` (deploy/dagster.yaml). Driven over GraphQL as DagsterDev is."""

    def __init__(self, home: Path, env: dict[str, str], log_dir: Path):
        super().__init__(home, env, log_dir / "webserver.log")
        self.grpc_port = free_port()
        self.env = {**env, "DAGSTER_HOME": str(home),
                    "TRENDER_GRPC_HOST": "127.0.0.1", "TRENDER_GRPC_PORT": str(self.grpc_port)}
        self.processes = [
            Process("code server", [str(BIN / "dagster"), "api", "grpc", "-m", "trender_assets.definitions",
                                    "-h", "127.0.0.1", "-p", str(self.grpc_port)], self.env, log_dir / "grpc.log"),
            Process("webserver", [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE_YAML),
                                  "-h", "127.0.0.1", "-p", str(self.port)], self.env, self.log_path),
            Process("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE_YAML)],
                    self.env, log_dir / "daemon.log"),
        ]

    def start(self, timeout: float = 180) -> "Topology":
        deadline = time.monotonic() + timeout
        # the instance's tables are created by whichever process opens it first: create them here, so
        # that processes starting at once never race to create them ("type runs already exists")
        with self.instance():
            pass
        code_server, *others = self.processes
        code_server.start()
        # the code server binds its port once the definitions have loaded
        self._poll("the code server's port", lambda: _port_open(self.grpc_port), deadline)
        for process in others:
            process.start()

        def location_loaded():
            entries = self.query("{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
                                 " locationOrLoadError { __typename ... on PythonError { message } } } } } }"
                                 )["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if errors:
                    raise RuntimeError(f"code location failed to load: {errors}")
                return True
            return False

        self._poll("the webserver to load the code location from the gRPC server", location_loaded, deadline)
        self._poll("the daemon's first heartbeat", self._daemon_alive, deadline)
        return self

    def _daemon_alive(self) -> bool:
        statuses = self.query("{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } } }"
                              )["instance"]["daemonHealth"]["allDaemonStatuses"]
        required = {"SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "BACKFILL", "ASSET"}
        healthy = {s["daemonType"] for s in statuses if s["healthy"]}
        return required <= healthy

    def _poll(self, what: str, condition, deadline: float) -> None:
        while True:
            for process in self.processes:
                process.check_alive()
            try:
                if condition():
                    return
            except (OSError, httpx.HTTPError, KeyError, TypeError, AssertionError) as exc:  # not up yet
                last = exc
            else:
                last = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what} ({last!r}):\n{self.log_tail()}")
            time.sleep(0.5)

    def stop(self, grace: float = 20) -> None:
        self._http.close()
        for process in reversed(self.processes):
            process.stop(grace)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(lines)}" for p in self.processes)

    def stop_schedules(self) -> None:
        """Schedules are on by default; stopped so that a 14:00/15:00 UTC tick adds no runs to a test."""
        schedules = self.query(
            '{ schedulesOrError(repositorySelector: {repositoryLocationName: "trender", repositoryName:'
            ' "__repository__"}) { ... on Schedules { results { name scheduleState { id status } } } } }'
        )["schedulesOrError"]["results"]
        for schedule in schedules:
            stopped = self.query("mutation($id: String!) { stopRunningSchedule(id: $id) { __typename } }",
                                 {"id": schedule["scheduleState"]["id"]})["stopRunningSchedule"]
            assert stopped["__typename"] == "ScheduleStateResult", stopped

    def launch_backfill(self, assets: list[str], partition_names: list[str], title: str) -> str:
        backfill = self.query(
            """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                 __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
            {"p": {"assetSelection": [{"path": [a]} for a in assets], "partitionNames": partition_names,
                   "title": title}},
        )["launchPartitionBackfill"]
        assert backfill["__typename"] == "LaunchBackfillSuccess", backfill
        return backfill["backfillId"]

    def backfill_status(self, backfill_id: str) -> Optional[str]:
        """The backfill's status once it has ended, else None."""
        status = self.query("query($id: String!) { partitionBackfillOrError(backfillId: $id) {"
                            " ... on PartitionBackfill { status } } }",
                            {"id": backfill_id})["partitionBackfillOrError"]["status"]
        return status if status not in ("REQUESTED", "CANCELING") else None

    @contextlib.contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The topology's instance, opened in the test process (its storage URL comes from the env)."""
        saved = os.environ.get("DAGSTER_PG_URL")
        os.environ["DAGSTER_PG_URL"] = self.env["DAGSTER_PG_URL"]
        try:
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                yield instance
        finally:
            if saved is None:
                os.environ.pop("DAGSTER_PG_URL", None)
            else:
                os.environ["DAGSTER_PG_URL"] = saved


class CeleryWorker(Process):
    """``dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml``, one pool process."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path):
        # -n names the worker (NAME@host); one pool process each: two workers, two steps at once
        super().__init__(f"celery worker {name}", [
            str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(CELERY_YAML),
            "-n", name, "--", "--concurrency=1"], env, log_dir / f"celery-{name}.log")
        self.worker_name = name

    def wait_ready(self, timeout: float = 120) -> "CeleryWorker":
        deadline = time.monotonic() + timeout
        while " ready." not in self.log_text():
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)
        return self


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """A broker URL on a Redis database no one else is using (of 1..15), emptied afterwards, so that
    workers of another test session on this machine never take this one's tasks."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
    except redis.RedisError as exc:
        raise AssertionError(f"Redis is not reachable at {REDIS_URL} ({exc}); .ci/run starts it") from None
    candidates = list(range(1, 16))
    random.shuffle(candidates)
    for number in candidates:
        db = redis.Redis.from_url(f"{REDIS_URL}/{number}")
        if db.set("trender-test-claim", "1", nx=True, ex=3600) and db.dbsize() == 1:
            url = f"{REDIS_URL}/{number}"
            try:
                yield url
            finally:
                db.flushdb()
                db.close()
                client.close()
            return
        db.close()
    client.close()
    raise AssertionError(f"every Redis database 1..15 at {REDIS_URL} is in use")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------------------------
# the event log


def step_windows(instance: dg.DagsterInstance, run_ids: list[str], step_key: str = GITHUB_STEP
                 ) -> list[tuple[float, float, int]]:
    """(start, end, pid) of each execution of ``step_key`` in the runs, from the event log."""
    windows = []
    for run_id in run_ids:
        starts, ends = {}, {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None or event.step_key != step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[run_id] = (entry.timestamp, event.pid)
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                ends[run_id] = entry.timestamp
        if run_id in starts:
            assert run_id in ends, f"run {run_id}: {step_key} started and never ended"
            windows.append((starts[run_id][0], ends[run_id], starts[run_id][1]))
    return windows


def most_at_once(windows: list[tuple[float, float, int]]) -> int:
    """The largest number of windows open at the same moment (an end at t closes before a start at t)."""
    edges = sorted([(start, 1) for start, _, _ in windows] + [(end, -1) for _, end, _ in windows],
                   key=lambda edge: (edge[0], edge[1]))
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak
