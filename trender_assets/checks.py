"""Asset checks, beside the asset they guard."""


import math
from datetime import date, datetime, timedelta
from typing import Optional

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.marts import fact_repo_snapshots
from trender_assets.logic import scoring
from trender_assets.partitions import daily_partitions
from trender_assets.resources import TrenderSettings, WarehouseResource

TOLERANCE = 1e-9


def momentum_failures(rows: list[dict], settings: TrenderSettings) -> dict[str, int]:
    """Counts of each kind of failure in one day's facts (all zero means the check passes)."""
    params = settings.scoring
    failures = {"null_scores": 0, "out_of_range": 0, "recompute_mismatch": 0,
                "duplicate_rows": 0, "categories_without_top_1": 0}
    seen: set[tuple] = set()
    max_stars: dict[str, int] = {}
    top_normalized: dict[str, float] = {}
    for r in rows:
        max_stars[r["language"]] = max(max_stars.get(r["language"], 0), r["stars"] or 0)
        if r["normalized_stars"] is not None and not math.isnan(r["normalized_stars"]):
            top_normalized[r["language"]] = max(top_normalized.get(r["language"], 0.0), r["normalized_stars"])
    for r in rows:
        key = (r["snapshot_date"], r["language"], r["repo_id"])
        if key in seen:
            failures["duplicate_rows"] += 1
        seen.add(key)
        scores = (r["momentum_score"], r["recency_score"], r["normalized_stars"])
        if any(s is None or (isinstance(s, float) and math.isnan(s)) for s in scores):
            failures["null_scores"] += 1
            continue
        if not all(0.0 <= s <= 1.0 for s in scores):
            failures["out_of_range"] += 1
        recency = scoring.recency_score(r["age_days"], params)
        norm = scoring.normalized_stars(r["stars"], max_stars[r["language"]])
        expected = scoring.momentum_score(recency, norm, params)
        if (abs(recency - r["recency_score"]) > TOLERANCE or abs(norm - r["normalized_stars"]) > TOLERANCE
                or abs(expected - r["momentum_score"]) > TOLERANCE):
            failures["recompute_mismatch"] += 1
    failures["categories_without_top_1"] = sum(
        1 for lang in max_stars if max_stars[lang] > 0 and abs(top_normalized.get(lang, 0.0) - 1.0) > TOLERANCE
    )
    return failures


@dg.asset_check(
    asset=fact_repo_snapshots,
    partitions_def=daily_partitions,
    blocking=True,
    description="Momentum scores of the day are present, in [0, 1], recompute from their stored inputs, "
                "one row per repository per category, each category's top normalized_stars is 1, and "
                "every category staged that day has facts.",
)
def momentum_score(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, settings: TrenderSettings
) -> dg.AssetCheckResult:
    day = date.fromisoformat(context.partition_key)
    with warehouse.engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.text(
            "select snapshot_date, language, repo_id, stars, age_days, recency_score, normalized_stars,"
            " momentum_score from fact_repo_snapshots where snapshot_date = :d"), {"d": day}).mappings()]
        staged = conn.execute(sa.text(
            "select distinct language from stg_repos_validated where snapshot_date = :d"), {"d": day}).scalars()
        # an empty day passes only if nothing was staged for it: zero rows must never hide lost facts
        unranked = sorted(set(staged) - {r["language"] for r in rows})
    failures = momentum_failures(rows, settings)
    failures["categories_without_facts"] = len(unranked)
    return dg.AssetCheckResult(
        passed=not any(failures.values()),
        metadata={"rows_checked": len(rows), **failures,
                  **({"unranked_categories": ", ".join(unranked)} if unranked else {})},
    )


FRESHNESS_WINDOW = timedelta(hours=26)  # a daily run, plus slack for a slow or late one


def freshness_result(last_loaded: Optional[datetime], latest_day: Optional[date], now: datetime,
                     window: timedelta = FRESHNESS_WINDOW) -> dg.AssetCheckResult:
    """Fresh when a snapshot landed within ``window`` of ``now``. The metadata carries the keys of
    Dagster's own freshness checks, so the UI shows them alike and the freshness sensor knows when
    the check could turn stale (``dagster/fresh_until_timestamp``)."""
    lower_bound = now - window
    passed = last_loaded is not None and last_loaded >= lower_bound
    metadata = {
        "dagster/freshness_lower_bound_timestamp": dg.MetadataValue.timestamp(lower_bound),
        "latest_snapshot_date": str(latest_day) if latest_day else "none",
    }
    if last_loaded is not None:
        metadata["dagster/last_updated_timestamp"] = dg.MetadataValue.timestamp(last_loaded)
    if passed:
        metadata["dagster/fresh_until_timestamp"] = dg.MetadataValue.timestamp(last_loaded + window)
    hours = window.total_seconds() / 3600
    if last_loaded is None:
        description = "fact_repo_snapshots holds no snapshot."
    else:
        age = (now - last_loaded).total_seconds() / 3600
        description = (f"The latest snapshot ({latest_day}) landed {age:.1f} h ago; "
                       f"{'within' if passed else 'more than'} the allowed {hours:g} h.")
    return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN, description=description,
                               metadata=metadata)


@dg.asset_check(
    asset=fact_repo_snapshots,
    name="freshness_check",
    description="Fails when no fact snapshot has landed in the warehouse for more than 26 hours (a missed "
                "daily run). Read from the table itself, so it never contradicts the warehouse, whichever "
                "Dagster instance wrote the facts.",
)
def freshness_check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.engine.connect() as conn:  # the database's clock, the one that stamped loaded_at
        row = conn.execute(sa.text(
            "select max(loaded_at) as last_loaded, max(snapshot_date) as latest_day, now() as now"
            " from fact_repo_snapshots")).one()
    return freshness_result(row.last_loaded, row.latest_day, row.now)


freshness_checks = [freshness_check]  # what fact_freshness_sensor evaluates
