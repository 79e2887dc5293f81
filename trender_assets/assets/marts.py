"""Daily marts: dim_repositories (SCD type 2) and fact_repo_snapshots (momentum and ranks).

Each asset writes only its own tables. dim_repositories writes the observations and the version
chain; fact_repo_snapshots writes ``fact_repo_snapshots_base`` (the day's scores by durable
``repo_id``), and readers see the ``fact_repo_snapshots`` view, which joins each fact to the
version valid on its day (sql/0010). So a dimension run for one day, which may split or merge
versions that other days fall in, never has to re-point or delete those days' facts: the join
finds the right version whenever it is read. (Re-deriving keys in the fact asset instead would
leave every other day's stored keys stale until its own fact run.)

A run materializes one day or a range of days (an asset backfill: one run for up to a month, see
``RANGE_BACKFILL_POLICY``). Each day keeps its own lock, transaction and metadata, in date order.
"""

import json
from datetime import date
from typing import Any

import dagster as dg
import sqlalchemy as sa

from trender_assets import categories
from trender_assets.assets.common import OWNERS, column_schema, markdown_table
from trender_assets.assets.ranges import RANGE_BACKFILL_POLICY, materialize_days
from trender_assets.assets.staging import stg_repos_validated
from trender_assets.logic.ranking import Candidate, rank_snapshot
from trender_assets.logic.scd2 import attributes_hash
from trender_assets.partition_lock import lock_partition
from trender_assets.partitions import LANGUAGES, by_snapshot_date, daily_partitions
from trender_assets.raw_fetches import lost_inputs
from trender_assets.repository_versions import rebuild_versions
from trender_assets.resources import TrenderSettings, WarehouseResource


def kept_whole() -> frozenset[str]:
    """Categories whose every repository is ranked (root files, watchlists; render always, so a
    past day re-derives alike once render is no longer configured)."""
    return frozenset({"render", *(c.key for c in categories.configured() if c.keeps_all)})


def in_category_order(present: set[str]) -> list[str]:
    """The categories present in a day's rows: configured ones in the file's order, then any no
    longer configured (their history stays readable), by name."""
    return [*(k for k in LANGUAGES if k in present), *sorted(present - set(LANGUAGES))]


DIM_SCHEMA = column_schema(
    ("repo_key", "bigint", "surrogate key of one version"),
    ("repo_id", "bigint", "GitHub repository id (durable key)"),
    ("repo_full_name", "text", "owner/name during this version"),
    ("language", "text", "GitHub's own language"),
    ("description", "text", ""),
    ("readme_sha", "text", "README version; a change opens a new version"),
    ("valid_from", "date", "first snapshot day of this version"),
    ("valid_to", "date", "exclusive end; null while current"),
    ("is_current", "boolean", "exactly one current version per repository"),
)
FACT_SCHEMA = column_schema(
    ("snapshot_date", "date", "partition"),
    ("language", "text", "category (trender.yaml): e.g. python, typescript, go or render"),
    ("repo_id", "bigint", "GitHub repository id"),
    ("repo_key", "bigint", "dim_repositories version valid on snapshot_date (found when read)"),
    ("stars", "integer", "stargazers as fetched"),
    ("age_days", "integer", "days since creation (UTC)"),
    ("recency_score", "double precision", "1.0 up to 14 days, then halves every 62 days, floor 0.01"),
    ("normalized_stars", "double precision", "stars / max stars of the category that day"),
    ("momentum_score", "double precision", "0.7 x recency + 0.3 x normalized_stars, in [0, 1]"),
    ("rank_overall", "integer", "by momentum across categories, 1 = best"),
    ("rank_in_language", "integer", "by momentum within the category, 1 = best"),
    ("observed_late", "boolean", "stars fetched after snapshot_date (a backfill): no gain or velocity is"
                                 " measured from it"),
)

MART_ASSET: dict[str, Any] = dict(
    partitions_def=daily_partitions,
    group_name="marts",
    kinds={"postgres", "python"},
    owners=OWNERS,
    tags={"layer": "mart"},
    automation_condition=dg.AutomationCondition.eager(),
    backfill_policy=RANGE_BACKFILL_POLICY,
)
"""What both daily marts declare alike: daily, eager, a backfill's days in one run."""
STAGED_DAY = dg.AssetDep(stg_repos_validated, partition_mapping=by_snapshot_date)
"""A mart day reads all the categories staged that day."""

_STG_OF_DAY = sa.text(
    "select language, repo_id, repo_full_name, github_language, description, homepage, license_spdx, topics,"
    " archived, html_url, created_at, readme_sha, stars, forks, open_issues, fetched_at"
    " from stg_repos_validated where snapshot_date = :d order by language, repo_id"
)


def _guard_inputs(conn: sa.Connection, asset: str, day: date) -> None:
    """Take the day's partition (concurrent runs of it take turns) and refuse to re-derive a day
    whose staging retention deleted: that would erase the facts retention keeps."""
    lock_partition(conn, asset, day.isoformat())
    lost = lost_inputs(conn, day)  # also raw rows retention deleted between this run's steps
    if lost:
        raise dg.Failure(lost, allow_retries=False)


def _tracked_attributes(row: sa.RowMapping) -> dict:
    return {
        "repo_full_name": row["repo_full_name"], "description": row["description"],
        "language": row["github_language"], "homepage": row["homepage"], "license_spdx": row["license_spdx"],
        "topics": sorted(row["topics"] or []), "archived": row["archived"], "readme_sha": row["readme_sha"],
        # carried along, not tracked: they never change or do not define a version
        "html_url": row["html_url"], "created_at": row["created_at"].isoformat(),
    }


def load_dimension_day(engine: sa.Engine, day: date) -> dict[str, Any]:
    """Record what every repository staged on ``day`` looked like, and rebuild the versions of
    those repositories (and of any the day no longer holds)."""
    with engine.begin() as conn:
        _guard_inputs(conn, "dim_repositories", day)
        rows = conn.execute(_STG_OF_DAY, {"d": day}).mappings().all()
        observed: dict[int, dict] = {}
        for row in rows:  # a repository found by two searches is one observation
            observed.setdefault(row["repo_id"], _tracked_attributes(row))
        before = [r[0] for r in conn.execute(sa.text(
            "delete from dim_repository_observations where snapshot_date = :d returning repo_id"), {"d": day})]
        if observed:
            conn.execute(sa.text(
                "insert into dim_repository_observations (repo_id, snapshot_date, attributes_hash, attributes)"
                " values (:id, :d, :hash, cast(:attrs as jsonb))"
            ), [{"id": rid, "d": day, "hash": attributes_hash(a), "attrs": json.dumps(a)}
                for rid, a in observed.items()])
        counts = rebuild_versions(conn, [*observed, *before])
        current = conn.execute(sa.text(
            "select d.repo_full_name, d.language, d.valid_from, d.is_current from dim_repositories d"
            " where d.repo_id = any(:ids) and d.valid_from <= :d and (d.valid_to is null or :d < d.valid_to)"
            " order by d.repo_full_name"), {"ids": list(observed), "d": day}).mappings().all()
        total = conn.execute(sa.text("select count(*) from dim_repositories")).scalar_one()
    return {
        "dagster/row_count": len(observed),
        "outcome": f"{len(observed)} rows",
        "repositories_observed": len(observed),
        "dim_rows_total": total,
        **counts,
        "preview": markdown_table(current, ["repo_full_name", "language", "valid_from", "is_current"]),
    }


@dg.asset(
    **MART_ASSET,
    deps=[STAGED_DAY],
    metadata={"dagster/column_schema": DIM_SCHEMA, "dagster/table_name": "public.dim_repositories"},
)
def dim_repositories(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Repositories as SCD type 2, keyed by GitHub id. Day D records what every repository looked
    like (name, description, language, homepage, license, topics, archived, README sha); versions
    are derived from those dated observations, so backfilling days in any order gives the same
    history. Depends on all four language partitions of D."""
    return materialize_days(context, lambda day: load_dimension_day(warehouse.engine, day))


def load_facts_day(engine: sa.Engine, settings: TrenderSettings, day: date) -> dict[str, Any]:
    """Score and rank the day's staged repositories and replace the day's facts."""
    with engine.begin() as conn:
        _guard_inputs(conn, "fact_repo_snapshots", day)
        rows = conn.execute(_STG_OF_DAY, {"d": day}).mappings().all()
        candidates = [
            Candidate(language=r["language"], repo_id=r["repo_id"], repo_full_name=r["repo_full_name"],
                      stars=r["stars"], forks=r["forks"], open_issues=r["open_issues"],
                      created_on=r["created_at"].date(), observed_at=r["fetched_at"])
            for r in rows
        ]
        ranked = rank_snapshot(candidates, day, settings.scoring, settings.top_per_language, kept_whole())
        versioned = set(conn.execute(sa.text(
            "select repo_id from dim_repositories where repo_id = any(:ids) and valid_from <= :d"
            " and (valid_to is null or :d < valid_to)"), {"ids": [r.repo_id for r in ranked], "d": day}).scalars())
        missing = sorted({r.repo_id for r in ranked} - versioned)
        if missing:  # the view would hide these facts: refuse rather than store what nobody sees
            raise dg.Failure(
                f"dim_repositories has no version valid on {day} for {len(missing)} repositories "
                f"(e.g. {missing[:3]}); materialize dim_repositories for {day} first"
            )
        conn.execute(sa.text("delete from fact_repo_snapshots_base where snapshot_date = :d"), {"d": day})
        if ranked:
            conn.execute(sa.text(
                "insert into fact_repo_snapshots_base (snapshot_date, language, repo_id, repo_full_name,"
                " stars, forks, open_issues, age_days, recency_score, normalized_stars, momentum_score,"
                " rank_overall, rank_in_language, observed_at, observed_late) values (:d, :language, :repo_id,"
                " :repo_full_name, :stars, :forks, :open_issues, :age_days, :recency_score, :normalized_stars,"
                " :momentum_score, :rank_overall, :rank_in_language, :observed_at, :observed_late)"
            ), [{**r.__dict__, "d": day} for r in ranked])

    sections = []
    present = in_category_order({r.language for r in ranked})
    for language in present:
        top = [r for r in ranked if r.language == language][:10]
        if top:
            table = markdown_table(
                ({"rank": r.rank_in_language, "repository": r.repo_full_name, "stars": r.stars,
                  "age_days": r.age_days, "momentum": r.momentum_score} for r in top),
                ["rank", "repository", "stars", "age_days", "momentum"],
            )
            sections.append(f"**{language}**\n\n{table.value}")
    per_language = {lang: sum(1 for r in ranked if r.language == lang)
                    for lang in in_category_order({*LANGUAGES, *present})}
    return {
        "dagster/row_count": len(ranked),
        "outcome": f"{len(ranked)} rows",
        "rows_per_language": dg.MetadataValue.json(per_language),
        "top_momentum": max((r.momentum_score for r in ranked), default=0.0),
        "observed_late": sum(r.observed_late for r in ranked),
        "preview": dg.MetadataValue.md("\n\n".join(sections) or "_no rows_"),
    }


@dg.asset(
    **MART_ASSET,
    deps=[STAGED_DAY, dim_repositories],
    metadata={"dagster/column_schema": FACT_SCHEMA, "dagster/table_name": "public.fact_repo_snapshots"},
)
def fact_repo_snapshots(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: TrenderSettings
) -> dg.MaterializeResult:
    """One row per repository per language category per day, with momentum and ranks. Per language
    the top repositories by momentum are kept (``top_per_language``), plus every render project;
    the category's most-starred repository is always kept since it anchors normalized_stars.
    Stored in fact_repo_snapshots_base; the fact_repo_snapshots view adds the dimension version
    valid on each day (repo_key)."""
    return materialize_days(context, lambda day: load_facts_day(warehouse.engine, settings, day))
