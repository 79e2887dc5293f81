"""Benchmark a backfill of past days from the UI: `dagster dev` (daemon, a process per run) on the
production instance configuration (deploy/dagster.yaml), raw data already stored.

One day is fetched from the loopback fake GitHub with ``trender run`` (the realistic day of
bench_day.py); ``--days`` earlier days get copies of its raw rows (fewer stars each day back, no
README text), so the backfill calls GitHub for nothing. Then an asset backfill of the whole graph
for those days is launched over GraphQL, as the UI's "Materialize" over a date range does, and
timed until Dagster reports it complete. It prints the wall time, the runs by kind, the days the
blocking momentum check passed for, the machine's load and the command. Needs a PostgreSQL server
for Dagster's storage and the warehouse: TRENDER_TEST_DATABASE_URL or DATABASE_URL (a database on
it is created and dropped).

    python bench/bench_ui_backfill.py [--days 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_day import DAY, ROOT, TOKEN, populate  # noqa: E402
from bench_scale import SEED_HISTORY  # noqa: E402

sys.path.insert(0, str(ROOT))
from trender_assets_tests.e2e_support import INSTANCE_YAML, DagsterDev, fresh_database  # noqa: E402
from trender_assets_tests.fake_github import FakeGitHub  # noqa: E402

ASSETS = ["raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots", "trending_report"]
LANGUAGES = ["python", "typescript", "go", "render"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--timeline", action="store_true", help="also print every run and step, in seconds")
    args = parser.parse_args()
    server = os.environ.get("TRENDER_TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not server:
        sys.exit("set TRENDER_TEST_DATABASE_URL (or DATABASE_URL) to a PostgreSQL server")
    days = [(DAY - timedelta(days=n)).isoformat() for n in range(args.days, 0, -1)]

    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=TOKEN) as fake, \
            fresh_database(server, "bench_warehouse") as warehouse_url, \
            fresh_database(server, "bench_dagster") as dagster_url:
        populate(fake, 25, 100)
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "DEV_MODE", "GITHUB_TOKENS")}
        env.update({"GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "TRENDER_NOW": f"{DAY}T15:00:00Z",
                    "DATABASE_URL": warehouse_url, "TRENDER_DATA_DIR": str(Path(tmp, "data")),
                    "TRENDER_REPORT_DIR": str(Path(tmp, "reports")), "DAGSTER_DISABLE_TELEMETRY": "1"})
        seed_home = Path(tmp, "seed_home")
        seed_home.mkdir()
        (seed_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        subprocess.run([sys.executable, "-m", "trender_assets.cli", "run", "--date", DAY.isoformat()],
                       env={**env, "DAGSTER_HOME": str(seed_home)}, check=True, capture_output=True)
        engine = sa.create_engine(warehouse_url.replace("postgresql://", "postgresql+psycopg://", 1)
                                  if warehouse_url.startswith("postgresql://") else warehouse_url)
        with engine.begin() as conn:
            conn.execute(sa.text(SEED_HISTORY), {"days": args.days, "d": DAY})
        github_before = len(fake.requests)

        home = Path(tmp, "dagster_home")
        home.mkdir()
        shutil.copy(INSTANCE_YAML, home / "dagster.yaml")
        dev_env = {**env, "DAGSTER_HOME": str(home),
                   "DAGSTER_PG_URL": dagster_url.replace("postgresql+psycopg://", "postgresql+psycopg2://", 1)}
        dev = DagsterDev(home, dev_env, Path(tmp, "dagster_dev.log"))
        try:
            dev.start()
            load = os.getloadavg()[0]
            start = time.perf_counter()
            launched = dev.query(
                """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
                     __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                {"p": {"assetSelection": [{"path": [a]} for a in ASSETS],
                       "partitionNames": [f"{d}|{lang}" for d in days for lang in LANGUAGES],
                       "title": f"bench: {args.days} days"}})["launchPartitionBackfill"]
            if launched["__typename"] != "LaunchBackfillSuccess":
                sys.exit(f"backfill not launched: {launched}")
            status = "REQUESTED"
            while status in ("REQUESTED", "CANCELING") and time.perf_counter() - start < args.timeout:
                time.sleep(1)
                status = dev.query("query($id: String!) { partitionBackfillOrError(backfillId: $id) {"
                                   " ... on PartitionBackfill { status } } }",
                                   {"id": launched["backfillId"]})["partitionBackfillOrError"]["status"]
            wall = time.perf_counter() - start
            runs = dev.runs({"dagster/backfill": launched["backfillId"]})
            checks = dev.query(
                """query($n: Int!) { assetCheckExecutions(assetKey: {path: ["fact_repo_snapshots"]},
                     checkName: "momentum_score", limit: $n) { partition status } }""",
                {"n": args.days + 10})["assetCheckExecutions"]
            timeline = dev.timeline() if args.timeline else ""
        finally:
            dev.stop()
        ingest = sum(1 for r in runs if any(p["path"] == ["raw_github_repos"] for p in r["assetSelection"] or []))
        with engine.connect() as conn:
            fact_days = conn.execute(sa.text("select count(distinct snapshot_date) from fact_repo_snapshots"
                                             " where snapshot_date < :d"), {"d": DAY}).scalar_one()
        engine.dispose()

    print(f"command: python bench/bench_ui_backfill.py --days {args.days}")
    print(f"backfill of {args.days} days x 4 languages, whole graph, raw stored (GitHub requests during it: "
          f"{len(fake.requests) - github_before}); dagster dev on deploy/dagster.yaml, storage on the server")
    print(f"status: {status} in {wall:.1f} s; runs: {len(runs)} ({ingest} with raw_github_repos, "
          f"{len(runs) - ingest} others); days with facts: {fact_days}")
    checked = {e["partition"] for e in checks if e["status"] == "SUCCEEDED"} & set(days)
    print(f"momentum_score check: passed for {len(checked)} of {args.days} days "
          f"({len(checks)} evaluations recorded)")
    print(f"load (1-min average at the launch): {load:.2f}; after: {os.getloadavg()[0]:.2f}")
    if timeline:
        print(timeline)


if __name__ == "__main__":
    main()
