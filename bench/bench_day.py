"""Benchmark one snapshot day through `trender run` against the loopback fake GitHub.

Prints wall time, GitHub requests (first run and an unchanged re-run), peak memory of the run,
and rows per table, with the command that reproduces them. Needs a PostgreSQL: DATABASE_URL, or
the embedded one in a temporary TRENDER_DATA_DIR.

    python bench/bench_day.py [--repos-per-language 25] [--latency-ms 100]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trender_assets_tests import scenario  # noqa: E402
from trender_assets_tests.fake_github import FakeGitHub  # noqa: E402

DAY = date(2026, 11, 20)
TOKEN = "bench-token"


def populate(fake: FakeGitHub, per_language: int) -> None:
    scenario.serve_realistic(fake, per_language)


def run(env: dict) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trender_assets.cli", "run", "--date", DAY.isoformat()],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        sys.exit(f"trender run failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, peak_mb, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos-per-language", type=int, default=25)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=TOKEN) as fake:
        populate(fake, args.repos_per_language)
        fake.latency = args.latency_ms / 1000
        home = Path(tmp, "dagster_home")
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "DAGSTER_HOME": str(home),
               "TRENDER_NOW": f"{DAY}T15:00:00Z", "TRENDER_DATA_DIR": str(Path(tmp, "data"))}
        if "DATABASE_URL" not in os.environ:
            print("warehouse: embedded PostgreSQL (temporary)")
        first_wall, peak_mb, out = run(env)
        first_requests = len(fake.requests)
        counted = sum(1 for r in fake.requests if r.status != 304 and not r.path.startswith("/rate_limit"))
        second_wall, _, _ = run({**env})
        rerun_requests = len(fake.requests) - first_requests
        refetch_start = len(fake.requests)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "trender_assets.cli", "run", "--date", DAY.isoformat(), "--refetch"],
                       env=env, capture_output=True, text=True, check=True)
        refetch_wall = time.perf_counter() - start
        refetch_requests = len(fake.requests) - refetch_start
        if "DATABASE_URL" not in os.environ:
            subprocess.run([sys.executable, "-m", "trender_assets.cli", "db", "stop"], env=env, capture_output=True)

    command = f"python bench/bench_day.py --repos-per-language {args.repos_per_language} --latency-ms {args.latency_ms:g}"
    print(f"command: {command}")
    print(f"one day, 4 languages, {args.repos_per_language} repos per language, {args.latency_ms:g} ms per request")
    print(f"first run:   {first_wall:6.1f} s wall, {first_requests} GitHub requests ({counted} counted)")
    print(f"re-run:      {second_wall:6.1f} s wall, {rerun_requests} GitHub requests (raw reused)")
    print(f"--refetch:   {refetch_wall:6.1f} s wall, {refetch_requests} GitHub requests")
    print(f"peak memory: {peak_mb:6.0f} MB (largest trender process)")
    print("summary of the first run:")
    print(out)


if __name__ == "__main__":
    main()
