"""Retention: keep raw and staging rows, facts (and report pages) and closed dimension versions for
the days ``RetentionPolicy`` says (its defaults are the job's).

Deletes run in one transaction (rolled back for a dry run, so the counts are exactly what a real
run would delete). The Dagster materializations of the deleted partitions are wiped too
(``partition_wipe``), so the UI never claims data that is gone.

Retention and a run of the same day exclude each other: retention deletes a day only once it holds
the day's lock (``partition_lock.try_days``); a day a run is writing is kept, reported as in use,
and deleted by a later retention. It does not wait for the run: the daily retention overlapping a
long backfill is the normal case, and waiting would hold every other day's deletion (and the
dimension's version lock) for the length of the backfill. A run's fetch records are kept, so a step
of the run after retention knows what it lost (``raw_fetches.lost_inputs``).
"""


from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Optional

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from trender_assets.clock import parse_date, utc_today
from trender_assets.partition_lock import try_days
from trender_assets.partition_wipe import wipe_partitions
from trender_assets.partitions import split_partition_key
from trender_assets.repository_versions import lock_versions
from trender_assets.resources import WarehouseResource

RAW_KEYS = [dg.AssetKey("raw_github_repos"), dg.AssetKey("stg_repos_validated")]
FACT_KEY = dg.AssetKey("fact_repo_snapshots")
DAILY_KEYS = [FACT_KEY, dg.AssetKey("trending_report")]


@dataclass(frozen=True)
class RetentionPolicy:
    """How many days each kind of data is kept, counted back from the day retention runs (the UI
    describes each in ``RetentionConfig``)."""

    raw_days: int = 7
    fact_days: int = 30
    dim_days: int = 30


DEFAULT_POLICY = RetentionPolicy()


@dataclass
class RetentionOutcome:
    as_of: date
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=dict)
    wiped: dict[str, list[str]] = field(default_factory=dict)
    kept_in_use: list[date] = field(default_factory=list)
    """Expired days a run held: kept whole this time."""


_EXPIRED_DAYS = sa.text(
    "select snapshot_date from raw_github_repos where snapshot_date < :raw_cut"
    " union select snapshot_date from stg_repos_validated where snapshot_date < :raw_cut"
    " union select snapshot_date from stg_repos_rejected where snapshot_date < :raw_cut"
    " union select snapshot_date from fact_repo_snapshots_base where snapshot_date < :fact_cut"
    " union select used_on from report_readme_html where used_on < :fact_cut")


def delete_expired(engine: sa.Engine, as_of: date, policy: RetentionPolicy, dry_run: bool
                   ) -> tuple[dict[str, int], list[date]]:
    """Delete what expired on every day no run holds; the counts, and the expired days kept because
    a run was writing them."""
    raw_cut = as_of - timedelta(days=policy.raw_days)
    fact_cut = as_of - timedelta(days=policy.fact_days)
    dim_cut = as_of - timedelta(days=policy.dim_days)
    deleted: dict[str, int] = {}
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            lock_versions(conn)  # dimension versions are rebuilt by dim runs; never delete under one
            expired = conn.execute(_EXPIRED_DAYS, {"raw_cut": raw_cut, "fact_cut": fact_cut}).scalars().all()
            # taken after the version lock, never waited for: a run waiting for the version lock
            # while it holds its day cannot deadlock with retention
            kept = sorted(set(expired) - set(try_days(conn, expired)))
            days = {"kept": [d.isoformat() for d in kept]}
            not_kept = " and snapshot_date <> all(cast(:kept as date[]))"
            # raw_partition_fetches stay: they tell a run's later step that its rows were deleted
            for table in ("raw_github_repos", "stg_repos_validated", "stg_repos_rejected"):
                deleted[table] = conn.execute(
                    sa.text(f"delete from {table} where snapshot_date < :cut{not_kept}"),  # noqa: S608 - fixed names
                    {"cut": raw_cut, **days}).rowcount
            deleted["report_readme_html"] = conn.execute(sa.text(  # rendered excerpts no kept report day showed
                "delete from report_readme_html where used_on < :cut and used_on <> all(cast(:kept as date[]))"),
                {"cut": fact_cut, **days}).rowcount
            deleted["fact_repo_snapshots"] = conn.execute(
                sa.text(f"delete from fact_repo_snapshots_base where snapshot_date < :cut{not_kept}"),
                {"cut": fact_cut, **days}).rowcount
            closed = conn.execute(sa.text(  # a version any kept fact's day, or a day in use, falls in stays
                "delete from dim_repositories d where d.valid_to is not null and d.valid_to < :cut"
                " and not exists (select 1 from fact_repo_snapshots_base f where f.repo_id = d.repo_id"
                "   and f.snapshot_date >= d.valid_from and f.snapshot_date < d.valid_to)"
                " and not exists (select 1 from unnest(cast(:kept as date[])) k(day)"
                "   where k.day >= d.valid_from and k.day < d.valid_to)"
                " returning d.repo_id, d.valid_to"), {"cut": dim_cut, **days}).all()
            deleted["dim_repositories"] = len(closed)
            # Observations behind the deleted versions go too, or a rebuild would resurrect them.
            ends: dict[int, date] = {}
            for repo_id, valid_to in closed:
                ends[repo_id] = max(valid_to, ends.get(repo_id, valid_to))
            deleted["dim_repository_observations"] = conn.execute(sa.text(
                "delete from dim_repository_observations o using unnest(cast(:ids as bigint[]),"
                " cast(:ends as date[])) as gone(repo_id, ends) where o.repo_id = gone.repo_id"
                " and o.snapshot_date < gone.ends"),
                {"ids": list(ends), "ends": list(ends.values())}).rowcount if ends else 0
        except Exception:
            tx.rollback()
            raise
        if dry_run:
            tx.rollback()
        else:
            tx.commit()
    return deleted, kept


def expired_partitions(instance: dg.DagsterInstance, as_of: date, policy: RetentionPolicy,
                       kept: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Materialized partitions whose data expired, but for the ``kept`` days."""
    raw_cut = (as_of - timedelta(days=policy.raw_days)).isoformat()
    fact_cut = (as_of - timedelta(days=policy.fact_days)).isoformat()
    found: dict[str, list[str]] = {}
    for key in RAW_KEYS:
        found[key.to_user_string()] = sorted(
            p for p in instance.get_materialized_partitions(key)
            if split_partition_key(p)[0] < raw_cut and split_partition_key(p)[0] not in kept)
    for key in DAILY_KEYS:
        found[key.to_user_string()] = sorted(
            p for p in instance.get_materialized_partitions(key) if p < fact_cut and p not in kept)
    return found


def expired_reports(as_of: date, policy: RetentionPolicy, kept: frozenset[str] = frozenset()) -> list[Path]:
    """Report pages of days whose facts have expired, but for the ``kept`` days."""
    from trender_assets.assets.report import report_dir

    cut = (as_of - timedelta(days=policy.fact_days)).isoformat()
    folder = report_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("trending-????-??-??.html")
                  if p.stem.removeprefix("trending-") < cut and p.stem.removeprefix("trending-") not in kept)


def run_retention(engine: sa.Engine, instance: Optional[dg.DagsterInstance], as_of: date,
                  policy: RetentionPolicy = DEFAULT_POLICY, dry_run: bool = False) -> RetentionOutcome:
    outcome = RetentionOutcome(as_of=as_of, dry_run=dry_run)
    outcome.deleted, outcome.kept_in_use = delete_expired(engine, as_of, policy, dry_run)
    kept = frozenset(d.isoformat() for d in outcome.kept_in_use)
    reports = expired_reports(as_of, policy, kept)
    outcome.deleted["report_files"] = len(reports)
    if not dry_run:
        for page in reports:
            page.unlink(missing_ok=True)
    if instance is not None:
        outcome.wiped = expired_partitions(instance, as_of, policy, kept)
        if not dry_run:
            for key, partitions in outcome.wiped.items():
                wipe_partitions(instance, dg.AssetKey.from_user_string(key), partitions)
    return outcome


class RetentionConfig(dg.Config):
    dry_run: bool = Field(False, description="Report what would be deleted, delete nothing.")
    as_of: Optional[str] = Field(None, description="YYYY-MM-DD the ages are measured from; default today (UTC).")
    raw_days: int = Field(DEFAULT_POLICY.raw_days, description="Days raw and staging rows are kept.")
    fact_days: int = Field(DEFAULT_POLICY.fact_days, description="Days facts and report pages are kept.")
    dim_days: int = Field(DEFAULT_POLICY.dim_days, description="Days a closed dimension version is kept "
                                                               "when no kept fact falls in it.")

    def policy(self) -> RetentionPolicy:
        return RetentionPolicy(**{name: getattr(self, name) for name in asdict(DEFAULT_POLICY)})


@dg.op(tags={"kind": "postgres"})
def apply_retention(context: dg.OpExecutionContext, config: RetentionConfig,
                    warehouse: WarehouseResource) -> dg.Output[dict]:
    """Delete expired rows and wipe the materializations of the partitions they belonged to; an
    expired day a run is writing is kept (``kept_in_use``) for a later retention."""
    as_of = parse_date(config.as_of, "as_of") if config.as_of else utc_today()
    outcome = run_retention(warehouse.engine, context.instance, as_of, config.policy(), config.dry_run)
    verb = "would delete" if config.dry_run else "deleted"
    kept = [d.isoformat() for d in outcome.kept_in_use]
    context.log.info(f"retention as of {as_of}: {verb} {outcome.deleted}")
    for day in kept:
        context.log.warning(f"kept {day}: in use by a run; retention deletes it on a later day")
    return dg.Output(
        {**outcome.deleted, "kept_in_use": kept},
        metadata={
            "as_of": as_of.isoformat(),
            "dry_run": config.dry_run,
            **{f"deleted_{table}": n for table, n in outcome.deleted.items()},
            **{f"wiped_partitions_{key}": len(p) for key, p in outcome.wiped.items()},
            "kept_in_use": dg.MetadataValue.json(kept),
        },
    )


@dg.job(description=f"Delete raw/staging rows older than {DEFAULT_POLICY.raw_days} days, facts older than "
                    f"{DEFAULT_POLICY.fact_days} days, and dimension versions closed over "
                    f"{DEFAULT_POLICY.dim_days} days ago that no kept fact falls in.")
def retention_job():
    apply_retention()
