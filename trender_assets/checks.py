"""Asset checks, beside the asset they guard."""


import math
from datetime import date, datetime, timedelta
from typing import Any, Iterator, Optional, Union

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


_FACTS_OF_DAYS = sa.text(
    "select snapshot_date, language, repo_id, stars, age_days, recency_score, normalized_stars,"
    " momentum_score from fact_repo_snapshots where snapshot_date = any(:days)")
_STAGED_CATEGORIES = sa.text(
    "select distinct snapshot_date, language from stg_repos_validated where snapshot_date = any(:days)")


def momentum_outcomes(conn: sa.Connection, days: list[date],
                      settings: TrenderSettings) -> dict[date, tuple[bool, dict[str, Any]]]:
    """Per day: passed, and the check's metadata (failure counts, rows checked)."""
    facts: dict[date, list[dict]] = {day: [] for day in days}
    for r in conn.execute(_FACTS_OF_DAYS, {"days": days}).mappings():
        facts[r["snapshot_date"]].append(dict(r))
    staged: dict[date, set[str]] = {day: set() for day in days}
    for day, language in conn.execute(_STAGED_CATEGORIES, {"days": days}):
        staged[day].add(language)
    outcomes = {}
    for day in days:
        rows = facts[day]
        # an empty day passes only if nothing was staged for it: zero rows must never hide lost facts
        unranked = sorted(staged[day] - {r["language"] for r in rows})
        failures = momentum_failures(rows, settings)
        failures["categories_without_facts"] = len(unranked)
        outcomes[day] = (not any(failures.values()), {
            "rows_checked": len(rows), **failures,
            **({"unranked_categories": ", ".join(unranked)} if unranked else {})})
    return outcomes


def partition_evaluation(context: dg.AssetCheckExecutionContext, partition: str, passed: bool,
                         metadata: dict[str, Any]) -> dg.AssetCheckEvaluation:
    """The evaluation Dagster records for an ``AssetCheckResult`` in a one-partition run, for one
    partition of a range run: there ``AssetCheckResult`` has no partition to name (Dagster 1.13
    records it for no partition at all). It names the partition's latest materialization as its
    target, so the UI shows the result as current for that partition."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (  # no public name in 1.13
        AssetCheckEvaluationTargetMaterializationData,
    )

    spec = context.check_specs[0]
    [latest] = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=spec.asset_key, asset_partitions=[partition]), limit=1).records or [None]
    target = None if latest is None else AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest.storage_id, run_id=latest.run_id, timestamp=latest.timestamp)
    return dg.AssetCheckEvaluation(
        asset_key=spec.asset_key, check_name=spec.name, passed=passed, metadata=metadata, partition=partition,
        target_materialization_data=target, severity=dg.AssetCheckSeverity.ERROR, blocking=spec.blocking)


@dg.asset_check(
    asset=fact_repo_snapshots,
    partitions_def=daily_partitions,
    blocking=True,
    description="Momentum scores of the day are present, in [0, 1], recompute from their stored inputs, "
                "one row per repository per category, each category's top normalized_stars is 1, and "
                "every category staged that day has facts. Evaluated for each day of a range run.",
)
def momentum_score(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, settings: TrenderSettings
) -> Iterator[Union[dg.AssetCheckResult, dg.AssetCheckEvaluation, dg.Output]]:
    days = sorted(date.fromisoformat(key) for key in context.partition_keys)
    with warehouse.engine.connect() as conn:
        outcomes = momentum_outcomes(conn, days, settings)
    if context.has_partition_key:  # one day: Dagster ties the result to its partition
        passed, metadata = outcomes[days[0]]
        yield dg.AssetCheckResult(passed=passed, metadata=metadata)
        return
    for day, (passed, metadata) in outcomes.items():  # a blocking failure of any day stops what follows
        yield partition_evaluation(context, day.isoformat(), passed, metadata)
    yield dg.Output(None)


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
