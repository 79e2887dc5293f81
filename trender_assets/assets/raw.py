"""raw_github_repos: what GitHub said on day D for one language, with READMEs, as fetched."""


import json
from datetime import date

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.common import OWNERS, column_schema, markdown_table
from trender_assets.clock import utc_now
from trender_assets.logic.validation import without_nul
from trender_assets.partitions import LANGUAGE_LABELS, RENDER, date_language_partitions, split_partition_key
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource

RAW_SCHEMA = column_schema(
    ("snapshot_date", "date", "partition: the day the snapshot describes"),
    ("language", "text", "partition: python, typescript, go or render"),
    ("search_rank", "integer", "position in GitHub's answer, 1 = most stars"),
    ("repo_id", "bigint", "GitHub repository id (durable key)"),
    ("repo_full_name", "text", "owner/name when fetched"),
    ("api_response", "jsonb", "repository JSON exactly as GitHub returned it"),
    ("readme_content", "text", "README text (any README name), null when the repository has none"),
    ("readme_sha", "text", "git blob sha of the README"),
    ("fetched_at", "timestamptz", "when GitHub was asked; star counts are as of this time"),
)


class RawFetchConfig(dg.Config):
    refetch: bool = False
    """Ask GitHub again even when this partition's raw data is still stored."""


def _stored_rows(conn: sa.Connection, day: date, language: str) -> tuple[int, object]:
    row = conn.execute(
        sa.text("select count(*), min(fetched_at) from raw_github_repos where snapshot_date = :d and language = :l"),
        {"d": day, "l": language},
    ).one()
    return int(row[0]), row[1]


def _skip_reason(language: str, settings: TrenderSettings, github: GitHubResource) -> str | None:
    if settings.dev_mode and language != "python":
        return "DEV_MODE is on: only the python partition is fetched"
    if language == RENDER and not github.has_token:
        return ("render discovery uses GitHub code search, which needs a token: "
                "set GITHUB_TOKEN (a token with no scopes is enough) to include render projects")
    return None


def _repo_limit(settings: TrenderSettings, github: GitHubResource) -> int:
    # Anonymous GitHub allows 60 requests an hour: stay dev-sized without a token.
    return settings.dev_repo_limit if (settings.dev_mode or not github.has_token) else settings.repo_limit


@dg.asset(
    partitions_def=date_language_partitions,
    pool="github_api",
    group_name="ingest",
    kinds={"github", "postgres"},
    owners=OWNERS,
    tags={"layer": "raw"},
    metadata={"dagster/column_schema": RAW_SCHEMA, "dagster/table_name": "public.raw_github_repos"},
)
def raw_github_repos(
    context: dg.AssetExecutionContext,
    config: RawFetchConfig,
    github: GitHubResource,
    warehouse: WarehouseResource,
    settings: TrenderSettings,
) -> dg.MaterializeResult:
    """Repositories GitHub returns for one language on day D (search windows anchored to D), with
    their READMEs and the full API JSON, as fetched. A day whose raw data is still stored is reused
    without calling GitHub unless ``refetch`` is set."""
    day_key, language = split_partition_key(context.partition_key)
    day = date.fromisoformat(day_key)

    with warehouse.engine.connect() as conn:
        stored, fetched_at = _stored_rows(conn, day, language)
    if stored and not config.refetch:
        context.log.info(f"{day_key}|{language}: reusing {stored} stored rows fetched at {fetched_at}")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": stored,
            "source": "stored raw data (GitHub not called; pass refetch to ask again)",
            "stars_as_of": str(fetched_at),
        })

    skip = _skip_reason(language, settings, github)
    if skip:
        context.log.warning(f"{day_key}|{language} skipped: {skip}")
        with warehouse.engine.begin() as conn:
            conn.execute(sa.text("delete from raw_github_repos where snapshot_date = :d and language = :l"),
                         {"d": day, "l": language})
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "skipped": skip})

    limit = _repo_limit(settings, github)
    github.attach_warehouse(warehouse.engine)
    fetched_at = utc_now()
    if language == RENDER:
        items = github.render_projects(day, limit, settings.render_max_age_days)
    else:
        items = github.trending_repositories(LANGUAGE_LABELS[language], day, limit,
                                             settings.pushed_within_days, settings.created_within_days)
    names = [i["full_name"] for i in items if isinstance(i, dict) and isinstance(i.get("full_name"), str)]
    readmes = github.readmes(names)

    rows, preview = [], []
    for rank, item in enumerate(items, start=1):
        record = item if isinstance(item, dict) else {}
        name, repo_id = record.get("full_name"), record.get("id")
        readme = readmes.get(name) if isinstance(name, str) else None
        preview.append({"rank": rank, "repository": name, "stars": record.get("stargazers_count")})
        rows.append({
            "d": day, "l": language, "rank": rank,
            "id": repo_id if isinstance(repo_id, int) and not isinstance(repo_id, bool) else None,
            "name": name if isinstance(name, str) else None,
            "body": json.dumps(without_nul(item)),
            "readme": readme.content if readme else None,
            "sha": readme.sha if readme else None,
            "path": readme.path if readme else None,
            "size": readme.size if readme else None,
            "truncated": bool(readme and readme.truncated),
            "at": fetched_at, "run": context.run_id,
        })
    with warehouse.engine.begin() as conn:  # the partition is replaced whole, or not at all
        conn.execute(sa.text("delete from raw_github_repos where snapshot_date = :d and language = :l"),
                     {"d": day, "l": language})
        if rows:
            conn.execute(sa.text(
                "insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name,"
                " api_response, readme_content, readme_sha, readme_path, readme_size, readme_truncated, fetched_at,"
                " run_id) values (:d, :l, :rank, :id, :name, cast(:body as jsonb), :readme, :sha, :path, :size,"
                " :truncated, :at, :run)"
            ), rows)

    metadata = {
        "dagster/row_count": len(rows),
        "source": "GitHub API",
        "stars_as_of": fetched_at.isoformat(),
        "readmes_found": sum(1 for r in rows if r["readme"] is not None),
        "preview": markdown_table(preview, ["rank", "repository", "stars"]),
        **github.telemetry.as_metadata(),
    }
    if day < fetched_at.date():
        metadata["note"] = (f"backfill of {day_key}: search windows are anchored to that day, "
                            f"but star counts are as of the fetch ({fetched_at.date().isoformat()})")
    return dg.MaterializeResult(metadata=metadata)
