"""Benchmark trender at scale: load throughput per layer, and the marts with 30 days of history.

1. One snapshot day with ``--repos-per-language`` repositories per language (default 1,000: the
   most a GitHub search returns) through ``trender run``, against the loopback fake GitHub.
   For each layer (raw -> stg -> dim -> fact) it reads the step time and row count from the
   Dagster instance and prints rows per second written to PostgreSQL.
2. ``--history-days`` earlier days (default 30) are stored: their raw rows are copied from the
   first day with fewer stars each day back (no README text, as retention would leave them),
   then ``trender backfill`` derives staging, dimension and facts from them (GitHub not called).
3. The first day's marts run again (``trender run``, raw reused) with that history stored; it
   prints each marts step (dim, fact, check, report).

Every figure is printed with the command that reproduces it. Needs a PostgreSQL: DATABASE_URL,
or the embedded one in a temporary TRENDER_DATA_DIR (the default, as in bench_day.py).

    python bench/bench_scale.py [--repos-per-language 1000] [--history-days 30] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from bench_day import DAY, TOKEN, ROOT, populate  # noqa: E402

sys.path.insert(0, str(ROOT))
from trender_assets_tests.fake_github import FakeGitHub  # noqa: E402

LAYERS = ["raw_github_repos", "stg_repos_validated", "dim_repositories", "fact_repo_snapshots"]
MARTS = ["dim_repositories", "fact_repo_snapshots", "fact_repo_snapshots_momentum_score", "trending_report"]

# The raw asset's write path (delete the partition, insert its rows), timed alone and rolled back.
RAW_OF_DAY = """select language, search_rank, repo_id, repo_full_name, api_response::text as body,
    readme_content, readme_sha, readme_path, readme_size, fetched_at from raw_github_repos where snapshot_date = :d"""
RAW_INSERT = """insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name,
    api_response, readme_content, readme_sha, readme_path, readme_size, fetched_at, run_id)
    values (:d, :language, :search_rank, :repo_id, :repo_full_name, cast(:body as jsonb), :readme_content,
    :readme_sha, :readme_path, :readme_size, :fetched_at, 'bench')"""

# Earlier days: the first day's raw rows, each repository with growth * k fewer stars k days back.
SEED_HISTORY = """
insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name, api_response,
                              readme_content, readme_sha, readme_path, readme_size, fetched_at, run_id)
select r.snapshot_date - k, r.language, r.search_rank, r.repo_id, r.repo_full_name,
       jsonb_set(r.api_response, '{stargazers_count}',
                 to_jsonb(greatest(0, (r.api_response->>'stargazers_count')::int - k * (3 + r.repo_id % 7)))),
       null, r.readme_sha, r.readme_path, r.readme_size, r.fetched_at - make_interval(days => k), 'bench-seed'
from raw_github_repos r cross join generate_series(1, :days) as k
where r.snapshot_date = :d
"""


def trender(env: dict, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trender_assets.cli", *args], env=env, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"trender {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def step_stats(home: Path, run_ids: set[str]) -> tuple[dict[str, float], dict[str, int], float]:
    """Seconds per step key, rows per asset, and seconds spent waiting on GitHub's rate limits."""
    import dagster as dg

    seconds: dict[str, float] = defaultdict(float)
    rows: dict[str, int] = defaultdict(int)
    waited = 0.0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run_id in run_ids:
            for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_SUCCESS,
                                                            dg.DagsterEventType.ASSET_MATERIALIZATION}):
                event = entry.dagster_event
                if event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                    seconds[event.step_key] += event.event_specific_data.duration_ms / 1000
                else:
                    mat = event.event_specific_data.materialization
                    value = mat.metadata.get("dagster/row_count")
                    rows[mat.asset_key.to_user_string()] += int(getattr(value, "value", value) or 0)
                    wait = mat.metadata.get("github_wait_seconds")
                    waited += float(getattr(wait, "value", wait) or 0)
    return seconds, rows, waited


def run_ids(home: Path) -> set[str]:
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {r.dagster_run.run_id for r in instance.get_run_records()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos-per-language", type=int, default=1000)
    parser.add_argument("--history-days", type=int, default=30)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    n, days = args.repos_per_language, args.history_days
    command = (f"python bench/bench_scale.py --repos-per-language {n} --history-days {days}"
               f" --latency-ms {args.latency_ms:g}")

    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=TOKEN) as fake:
        populate(fake, n)
        fake.latency = args.latency_ms / 1000
        home = Path(tmp, "dagster_home")
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {**os.environ, "GITHUB_API_URL": fake.url, "GITHUB_TOKEN": TOKEN, "DAGSTER_HOME": str(home),
               "TRENDER_NOW": f"{DAY}T15:00:00Z", "TRENDER_DATA_DIR": str(Path(tmp, "data")),
               "TRENDER_REPORT_DIR": str(Path(tmp, "reports")),
               "TRENDER_REPO_LIMIT": str(n), "TRENDER_TOP_PER_LANGUAGE": str(n)}
        for name in ("DEV_MODE", "DEV_REPO_LIMIT"):
            env.pop(name, None)
        warehouse = "server named by DATABASE_URL" if "DATABASE_URL" in os.environ else "embedded PostgreSQL"
        try:
            # 1. one day at scale
            wall_day, _ = trender(env, "run", "--date", DAY.isoformat())
            requests = len(fake.requests)
            seconds, rows, waited = step_stats(home, run_ids(home))

            import sqlalchemy as sa

            url = env.get("DATABASE_URL") or subprocess.run(
                [sys.executable, "-m", "trender_assets.cli", "db", "url"], env=env, capture_output=True,
                text=True, check=True).stdout.strip()
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                                      if url.startswith("postgresql://") else url)
            with engine.connect() as conn:
                raw_rows = [{**r, "d": DAY} for r in conn.execute(sa.text(RAW_OF_DAY), {"d": DAY}).mappings()]
                conn.rollback()
                tx = conn.begin()
                start = time.perf_counter()
                conn.execute(sa.text("delete from raw_github_repos where snapshot_date = :d"), {"d": DAY})
                conn.execute(sa.text(RAW_INSERT), raw_rows)
                raw_write = time.perf_counter() - start
                tx.rollback()

            # 2. history
            seed_start = time.perf_counter()
            with engine.begin() as conn:
                seeded = conn.execute(sa.text(SEED_HISTORY), {"days": days, "d": DAY}).rowcount
            seed_wall = time.perf_counter() - seed_start
            first = DAY - timedelta(days=days)
            wall_backfill = 0.0
            if days:  # --history-days 0: the same measurement with nothing stored before the day
                wall_backfill, _ = trender(env, "backfill", "--start", first.isoformat(),
                                           "--end", (DAY - timedelta(days=1)).isoformat())

            # 3. the day's marts again, with the history stored
            before = run_ids(home)
            wall_rerun, out_rerun = trender(env, "run", "--date", DAY.isoformat())
            marts_seconds, marts_rows, _ = step_stats(home, run_ids(home) - before)
            with engine.connect() as conn:
                stored = {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one()  # noqa: S608
                          for t in ("raw_github_repos", "stg_repos_validated", "dim_repository_observations",
                                    "dim_repositories", "fact_repo_snapshots")}
            engine.dispose()
        finally:
            if "DATABASE_URL" not in os.environ:
                subprocess.run([sys.executable, "-m", "trender_assets.cli", "db", "stop"], env=env,
                               capture_output=True)

    print(f"command: {command}")
    print(f"warehouse: {warehouse}; {os.cpu_count()} cores; fake GitHub on 127.0.0.1 with "
          f"{args.latency_ms:g} ms per request\n")
    print(f"1. one day, {n} repositories per language (trender run, first run): {wall_day:.1f} s wall, "
          f"{requests} GitHub requests")
    total_rows = total_seconds = 0.0
    for asset in LAYERS:
        secs, count = seconds.get(asset, 0.0), rows.get(asset, 0)
        total_rows += count
        total_seconds += secs
        note = "  (fetch from GitHub + load)" if asset == "raw_github_repos" else ""
        print(f"   {asset:<22} {count:>7,} rows in {secs:6.2f} s step time = {count / secs if secs else 0:>8,.0f} rows/s{note}")
    print(f"   of the raw step, {waited:.1f} s were waits for GitHub's rate limits (search: 30 requests a minute)")
    print(f"   raw write path alone   {len(raw_rows):>7,} rows in {raw_write:6.2f} s               = "
          f"{len(raw_rows) / raw_write:>8,.0f} rows/s  (delete + insert with JSON and READMEs; rolled back)")
    pg_rows = total_rows
    pg_seconds = total_seconds - seconds.get("raw_github_repos", 0.0) + raw_write
    print(f"   loaded into PostgreSQL, raw -> fact: {pg_rows:,.0f} rows in {pg_seconds:.2f} s = "
          f"{pg_rows / pg_seconds:,.0f} rows/s (GitHub time excluded); with GitHub: "
          f"{total_rows / total_seconds:,.0f} rows/s")
    print(f"\n2. history: {seeded:,} raw rows for {days} earlier days seeded by SQL in {seed_wall:.1f} s; "
          f"trender backfill of {days} days from stored raw: {wall_backfill:.1f} s wall "
          f"({wall_backfill / max(days, 1):.1f} s per day)")
    print("   stored now: " + ", ".join(f"{t} {c:,}" for t, c in stored.items()))
    print(f"\n3. the day's marts with {days} days of history stored (trender run, raw reused): "
          f"{wall_rerun:.1f} s wall for the whole command")
    for step in MARTS:
        label = "momentum_score check" if step.endswith("momentum_score") else step
        count = marts_rows.get(step)
        print(f"   {label:<22} {marts_seconds.get(step, 0.0):6.2f} s" + (f"  ({count:,} rows)" if count else ""))
    print(f"   marts total            {sum(marts_seconds.get(s, 0.0) for s in MARTS):6.2f} s")
    print("\nsummary of that run:")
    print(out_rerun)


if __name__ == "__main__":
    main()
