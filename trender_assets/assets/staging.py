"""stg_repos_validated: typed, validated repositories; bad records go to stg_repos_rejected."""


import json
from collections import Counter
from datetime import date

import dagster as dg
import sqlalchemy as sa

from trender_assets import categories
from trender_assets.assets.common import OWNERS, column_schema, markdown_table
from trender_assets.assets.ranges import RANGE_BACKFILL_POLICY, category_order_tags, materialize_partitions
from trender_assets.assets.raw import raw_github_repos
from trender_assets.logic.validation import RejectedRecord, clean_text, validate_repo
from trender_assets.partition_lock import lock_partition
from trender_assets.partitions import date_language_partitions
from trender_assets.raw_fetches import lost_inputs
from trender_assets.resources import WarehouseResource

STG_SCHEMA = column_schema(
    ("snapshot_date", "date", "partition: the snapshot day"),
    ("language", "text", "partition / category (trender.yaml): e.g. python, typescript, go or render"),
    ("repo_id", "bigint", "GitHub repository id"),
    ("repo_full_name", "text", "owner/name"),
    ("github_language", "text", "GitHub's own language"),
    ("stars", "integer", "stargazers, >= 0"),
    ("created_at", "timestamptz", "UTC"),
    ("pushed_at", "timestamptz", "UTC"),
    ("updated_at", "timestamptz", "UTC"),
    ("readme_content", "text", "README text without NUL bytes"),
    ("readme_sha", "text", "git blob sha of the README"),
    ("readme_status", "text", "from raw: ok, ok_raw, none, empty_repository, blocked, too_large, malformed..."),
)


@dg.asset(
    partitions_def=date_language_partitions,
    deps=[raw_github_repos],
    backfill_policy=RANGE_BACKFILL_POLICY,  # the same as raw's, so a backfill runs both in one run
    op_tags=category_order_tags(),  # what a range run's two ends meant where it was launched
    group_name="ingest",
    kinds={"postgres", "python"},
    owners=OWNERS,
    tags={"layer": "staging"},
    automation_condition=dg.AutomationCondition.eager(),
    metadata={"dagster/column_schema": STG_SCHEMA, "dagster/table_name": "public.stg_repos_validated"},
)
def stg_repos_validated(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Validated, typed repositories of one language partition. Each record must have an id, an
    owner/name that follows GitHub's naming rules, a language (in a language category), created_at no
    later than the snapshot day, pushed_at or updated_at, and counts within 0..2^31-1; timestamps
    become UTC and NUL bytes are stripped. A record raw could not store as sent (``item_status``)
    is rejected with that reason. A record that fails goes to ``stg_repos_rejected`` with its
    reason, and the rest of the partition proceeds.

    A run may cover a range of partitions; each is validated in its own transaction with its own
    metadata, one after another (the work is the database's and the interpreter's, not waits). If
    one fails, the others are still written; the step then fails naming it, and Dagster records no
    materialization for the range."""
    return materialize_partitions(context, lambda day_key, language: _validate_partition(
        context, warehouse, day_key, language))


def _validate_partition(context: dg.AssetExecutionContext, warehouse: WarehouseResource, day_key: str,
                        language: str) -> dict:
    """Replace one partition's valid and rejected rows; its materialization metadata."""
    day = date.fromisoformat(day_key)
    params = {"d": day, "l": language}

    with warehouse.engine.begin() as conn:
        lock_partition(conn, "stg_repos_validated", f"{day_key}|{language}")  # concurrent runs take turns
        lost = lost_inputs(conn, day, [language])  # raw rows retention deleted are never staged as none
        if lost:
            raise dg.Failure(lost, allow_retries=False)
        raw_rows = conn.execute(sa.text(
            "select raw_id, repo_id, repo_full_name, api_response, item_status, readme_content, readme_sha,"
            " readme_status, fetched_at from raw_github_repos where snapshot_date = :d and language = :l"
            " order by search_rank"
        ), params).mappings().all()

        category = categories.by_key().get(language)
        language_required = category.requires_language if category else None
        valid, rejected = [], []
        for raw in raw_rows:
            try:
                if raw["item_status"]:  # raw could not store it as sent: never load an altered copy
                    raise RejectedRecord(raw["item_status"])
                repo = validate_repo(raw["api_response"], language, day, language_required)
            except RejectedRecord as exc:
                body = raw["api_response"]
                rejected.append({
                    **params, "raw_id": raw["raw_id"], "repo_id": raw["repo_id"],
                    "name": raw["repo_full_name"], "reason": str(exc), "body": json.dumps(body),
                })
                continue
            valid.append({
                **params, "id": repo.repo_id, "name": repo.repo_full_name, "owner": repo.owner_login,
                "repo": repo.repo_name, "glang": repo.github_language, "descr": repo.description,
                "home": repo.homepage, "lic": repo.license_spdx, "topics": json.dumps(repo.topics),
                "archived": repo.archived, "url": repo.html_url, "stars": repo.stars, "forks": repo.forks,
                "issues": repo.open_issues, "created": repo.created_at, "pushed": repo.pushed_at,
                "updated": repo.updated_at, "readme": clean_text(raw["readme_content"]),
                "sha": raw["readme_sha"], "readme_status": raw["readme_status"], "fetched": raw["fetched_at"],
            })

        conn.execute(sa.text("delete from stg_repos_validated where snapshot_date = :d and language = :l"), params)
        conn.execute(sa.text("delete from stg_repos_rejected where snapshot_date = :d and language = :l"), params)
        if valid:
            conn.execute(sa.text(
                "insert into stg_repos_validated (snapshot_date, language, repo_id, repo_full_name, owner_login,"
                " repo_name, github_language, description, homepage, license_spdx, topics, archived, html_url,"
                " stars, forks, open_issues, created_at, pushed_at, updated_at, readme_content, readme_sha,"
                " readme_status, fetched_at) values (:d, :l, :id, :name, :owner, :repo, :glang, :descr, :home, :lic,"
                " cast(:topics as jsonb), :archived, :url, :stars, :forks, :issues, :created, :pushed, :updated,"
                " :readme, :sha, :readme_status, :fetched)"
            ), valid)
        if rejected:
            conn.execute(sa.text(
                "insert into stg_repos_rejected (snapshot_date, language, raw_id, repo_id, repo_full_name,"
                " reason, api_response) values (:d, :l, :raw_id, :repo_id, :name, :reason, cast(:body as jsonb))"
            ), rejected)

    for r in rejected:
        context.log.warning(f"rejected {r['name'] or r['repo_id'] or 'a record'}: {r['reason']}")
    reasons = Counter(r["reason"] for r in rejected)
    return {
        "dagster/row_count": len(valid),
        "outcome": f"{len(valid)} rows, {len(rejected)} rejected",
        "valid_count": len(valid),
        "rejected_count": len(rejected),
        "rejected_reasons": dg.MetadataValue.json(dict(reasons)),
        "preview": markdown_table(
            ({"repository": v["name"], "stars": v["stars"], "created": v["created"].date().isoformat(),
              "language": v["glang"]} for v in valid),
            ["repository", "stars", "created", "language"],
        ),
    }
