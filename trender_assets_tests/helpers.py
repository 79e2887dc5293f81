"""Helpers for reading the warehouse and running the pipeline in tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from trender_assets import runner
from trender_assets.assets.marts import dim_repositories, fact_repo_snapshots
from trender_assets.assets.raw import raw_github_repos
from trender_assets.assets.report import trending_report
from trender_assets.assets.staging import stg_repos_validated
from trender_assets.checks import momentum_score
from trender_assets.jobs import ingest_job, marts_job
from trender_assets.partitions import LANGUAGES

INGEST = [raw_github_repos, stg_repos_validated]
MARTS = [dim_repositories, fact_repo_snapshots, momentum_score]


def one_line_error(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The command's whole stderr is one ``trender: error:`` line, with exit ``code`` and no traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("trender: error: "), result.stderr
    return errors[0]


def rows(engine: sa.Engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def ids_by_language(engine: sa.Engine, table: str, day: date) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for r in rows(engine, f"select language, repo_id from {table} where snapshot_date = :d", d=day):
        found.setdefault(r["language"], set()).add(r["repo_id"])
    return found


def definitions(resources: dict) -> dg.Definitions:
    """The code location's assets, momentum check and jobs, over the tests' resources."""
    return dg.Definitions(
        assets=[raw_github_repos, stg_repos_validated, dim_repositories, fact_repo_snapshots, trending_report],
        asset_checks=[momentum_score], jobs=[ingest_job, marts_job], resources=resources)


def materialize_day(resources: dict, instance: dg.DagsterInstance, day: date, languages=LANGUAGES,
                    refetch: bool = False, ranges: bool = False) -> list[dg.ExecuteInProcessResult]:
    """The day as ``trender run`` runs it (``runner.materialize_day``: ingest, then the marts and the
    report), with each category in an ingest run of its own, as the UI does for single partitions;
    with ``ranges``, one ingest run per contiguous block of languages (all four: one run), as ``trender
    run`` and the UI's range backfills do. Returns the runs in order; when ingestion fails, the marts
    are not run. The report is written to $TRENDER_REPORT_DIR, else into the instance's temporary
    folder (never ~/.trender)."""
    with _report_dir(Path(instance.root_directory) / "reports"):
        report = runner.materialize_day(definitions(resources), instance, day, languages, refetch=refetch,
                                        log_level="DEBUG", per_category=not ranges)
    if report.stopped:
        raise RuntimeError(report.stopped)
    return report.results


@contextlib.contextmanager
def _report_dir(default: Path):
    """TRENDER_REPORT_DIR as the test set it, else ``default`` for the call."""
    configured = os.environ.get("TRENDER_REPORT_DIR")
    if (configured or "").strip():
        yield
        return
    os.environ["TRENDER_REPORT_DIR"] = str(default)
    try:
        yield
    finally:
        if configured is None:
            os.environ.pop("TRENDER_REPORT_DIR", None)
        else:
            os.environ["TRENDER_REPORT_DIR"] = configured


def trender(env: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the console script as an operator would (same interpreter as the tests)."""
    return subprocess.run(
        [sys.executable, "-c", "from trender_assets.cli import main; main()", *args],
        env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def warehouse_dump(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every warehouse table's content, minus load timestamps, in a stable order."""
    queries = {
        "raw_github_repos": "select snapshot_date, language, search_rank, repo_id, repo_full_name, api_response::text,"
                            " readme_content, readme_sha, readme_path, readme_size from raw_github_repos",
        "stg_repos_validated": "select * from stg_repos_validated",
        "stg_repos_rejected": "select snapshot_date, language, repo_id, repo_full_name, reason from stg_repos_rejected",
        "dim_repository_observations": "select * from dim_repository_observations",
        "dim_repositories": "select repo_id, repo_full_name, language, description, readme_sha, attributes_hash,"
                            " valid_from, valid_to, is_current from dim_repositories",
        "fact_repo_snapshots": "select * from fact_repo_snapshots",
    }
    skip = {"validated_at", "loaded_at", "fetched_at", "repo_key"}
    dump = {}
    with engine.connect() as conn:
        for table, sql in queries.items():
            result = conn.execute(sa.text(sql))
            keep = [i for i, c in enumerate(result.keys()) if c not in skip]
            dump[table] = sorted((tuple(str(row[i]) for i in keep) for row in result), key=str)
    return dump
