"""Asset checks, beside the asset they guard."""


import math
import warnings
from datetime import date, timedelta

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


with warnings.catch_warnings():  # superseded by FreshnessPolicy, which shows no asset check
    warnings.simplefilter("ignore", dg.SupersessionWarning)
    freshness_checks = dg.build_last_update_freshness_checks(
        assets=[fact_repo_snapshots],
        lower_bound_delta=timedelta(hours=26),
    )
"""Fails when no fact snapshot has landed for more than 26 hours (a missed daily run)."""
