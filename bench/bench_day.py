"""Benchmark one snapshot day through `trender run` against the loopback fake GitHub.

The workload is a realistic day: three language searches of ``--repos-per-language``, render
discovery where code search finds more root ``render.yaml`` files than are kept
(``--render-hits`` extra), READMEs for every kept repository, every answer ``--latency-ms`` late.
After installing (the embedded server, the migrations and the Dagster instance's tables, made once
and timed apart), it runs the day three times as an operator would — first run, re-run (raw reused,
GitHub not called), ``--refetch`` — on trender's defaults (embedded PostgreSQL and the default Dagster
instance, both in a temporary TRENDER_DATA_DIR; DATABASE_URL selects a server instead), and
prints wall times, GitHub requests, the peak RSS of the largest process, the network floor
(requests x latency / requests in flight) and the machine's load, with the command.

    python bench/bench_day.py [--repos-per-language 25] [--render-hits 100] [--latency-ms 100] [--repeat 2]
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

from trender_assets.github.ratelimit import SEARCH_SPACING  # noqa: E402
from trender_assets_tests import scenario  # noqa: E402
from trender_assets_tests.fake_github import FakeGitHub  # noqa: E402

DAY = date(2026, 11, 20)
TOKEN = "bench-token"
IN_FLIGHT = 4  # the GitHub client's default max_concurrency


def populate(fake: FakeGitHub, per_language: int, render_hits: int = 0) -> None:
    scenario.serve_realistic(fake, per_language, render_hits)


def trender_run(env: dict, *extra: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trender_assets.cli", "run", "--date", DAY.isoformat(), *extra],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"trender run {' '.join(extra)} failed:\n{proc.stdout}\n{proc.stderr}")
    return wall, proc.stdout


def one_trial(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=TOKEN) as fake:
        populate(fake, args.repos_per_language, args.render_hits)
        fake.latency = args.latency_ms / 1000
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DEV_MODE", "GITHUB_TOKENS")}
        env.update({"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "TRENDER_NOW": f"{DAY}T15:00:00Z",
                    "TRENDER_DATA_DIR": str(Path(tmp, "data")), "DAGSTER_DISABLE_TELEMETRY": "1"})
        figures: dict = {}
        # installing is not part of a day: the embedded server's initdb, the warehouse's migrations and
        # the Dagster instance's tables are created before timing (a dry-run retention needs all three)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "trender_assets.cli", "retention", "--dry-run"], env=env,
                       capture_output=True, check=True)
        figures["install"] = time.perf_counter() - start
        figures["first"], out = trender_run(env)
        figures["first_requests"] = len(fake.requests)
        figures["summary"] = out
        mark = len(fake.requests)
        figures["rerun"], _ = trender_run(env)
        figures["rerun_requests"] = len(fake.requests) - mark
        mark = len(fake.requests)
        figures["refetch"], _ = trender_run(env, "--refetch")
        figures["refetch_requests"] = len(fake.requests) - mark
        figures["refetch_counted"] = sum(1 for r in fake.requests[mark:]
                                         if r.status != 304 and not r.path.startswith("/rate_limit"))
        if "DATABASE_URL" not in os.environ:
            subprocess.run([sys.executable, "-m", "trender_assets.cli", "db", "stop", "--force"], env=env,
                           capture_output=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos-per-language", type=int, default=25)
    parser.add_argument("--render-hits", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=2, help="trials; each figure is printed per trial")
    args = parser.parse_args()

    trials = []
    for _ in range(args.repeat):
        load = os.getloadavg()[0]
        trials.append({**one_trial(args), "load": load})
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    command = (f"python bench/bench_day.py --repos-per-language {args.repos_per_language} "
               f"--render-hits {args.render_hits} --latency-ms {args.latency_ms:g} --repeat {args.repeat}")
    first = trials[0]
    latency = args.latency_ms / 1000
    floor = first["first_requests"] * latency / IN_FLIGHT
    # GitHub's search budget: the three language searches start 2 s apart, then the last one's READMEs
    paced_floor = 2 * SEARCH_SPACING + latency * (1 + -(-args.repos_per_language // IN_FLIGHT))
    print(f"command: {command}")
    print(f"workload: 3 language searches of {args.repos_per_language}, render code search with "
          f"{args.repos_per_language // 5 * 3 + args.render_hits} root render.yaml hits, READMEs of all kept, "
          f"{args.latency_ms:g} ms per GitHub answer; warehouse: "
          f"{'DATABASE_URL' if 'DATABASE_URL' in os.environ else 'embedded PostgreSQL'}")

    def series(key: str, fmt: str = "{:.1f}") -> str:
        return " / ".join(fmt.format(t[key]) for t in trials)

    print(f"first run:   {series('first')} s   ({first['first_requests']} GitHub requests; network floor "
          f"{floor:.1f} s = requests x {args.latency_ms:g} ms / {IN_FLIGHT} in flight; {paced_floor:.1f} s with "
          f"searches {SEARCH_SPACING:g} s apart)")
    print(f"install:     {series('install')} s   (once: embedded server, migrations, Dagster's tables; not timed "
          "below)")
    print(f"re-run:      {series('rerun')} s   ({first['rerun_requests']} GitHub requests: raw reused)")
    print(f"--refetch:   {series('refetch')} s   ({first['refetch_requests']} GitHub requests, "
          f"{first['refetch_counted']} counted, the rest 304)")
    print(f"peak RSS:    {peak_mb:.0f} MB (largest trender process)")
    print(f"load (1-min average at the start of each trial): {series('load', '{:.2f}')}")
    print("summary of the first run:")
    print(first["summary"])


if __name__ == "__main__":
    main()
