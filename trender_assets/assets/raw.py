"""raw_github_repos: what GitHub said on day D for one category (trender.yaml), with READMEs, as fetched."""


from collections import Counter
from datetime import date

import dagster as dg
import sqlalchemy as sa

from trender_assets.assets.common import OWNERS, column_schema, markdown_table
from trender_assets.assets.ranges import RANGE_BACKFILL_POLICY, category_order_tags, materialize_partitions
from trender_assets.clock import utc_now
from trender_assets.github.transport import ITEM_STATUSES
from trender_assets.logic.raw_items import storable_item
from trender_assets.partition_lock import holding_partition
from trender_assets import categories
from trender_assets.categories import Category
from trender_assets.partitions import date_language_partitions
from trender_assets.raw_fetches import expired_categories, record_fetch, refetch_refusal, shrink_refusal, stored_partition
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets.warehouse.stored_names import last_stored

RAW_SCHEMA = column_schema(
    ("snapshot_date", "date", "partition: the day the snapshot describes"),
    ("language", "text", "partition: the category (trender.yaml), e.g. python, typescript, go or render"),
    ("search_rank", "integer", "position in GitHub's answer, 1 = most stars"),
    ("repo_id", "bigint", "GitHub repository id (durable key)"),
    ("repo_full_name", "text", "owner/name when fetched"),
    ("api_response", "jsonb", "repository JSON as GitHub returned it (render: GraphQL node in REST field names)"),
    ("api_source", "text", "search (REST repository search), graphql (nodes by id, root files) or repository "
                           "(GET /repos, watchlists)"),
    ("item_status", "text", "null, or why the record could not be stored as sent (staging rejects it)"),
    ("readme_content", "text", "README text (any README name), null unless readme_status is ok/ok_raw"),
    ("readme_status", "text", "ok, ok_raw (over 1 MB), none, empty_repository, blocked, too_large, malformed, "
                              "invalid_name, redirect_loop, undecodable, not_requested"),
    ("readme_sha", "text", "git blob sha of the README"),
    ("fetched_at", "timestamptz", "when GitHub was asked; star counts are as of this time"),
)


class RawFetchConfig(dg.Config):
    refetch: bool = False
    """Ask GitHub again even when this partition's raw data is still stored, or was deleted by
    retention (the day then gets today's star counts)."""
    allow_smaller: bool = False
    """Let a refetch replace a stored partition with fewer repositories (e.g. without a token)."""


def _skip_reason(category: Category, settings: TrenderSettings, github: GitHubResource) -> str | None:
    if settings.dev_mode and category.key != "python":
        return "DEV_MODE is on: only the python partition is fetched"
    if category.needs_token and not github.has_token:
        return (f"{category.key} discovery uses GitHub code search, which needs a token: "
                f"set GITHUB_TOKEN (a token with no scopes is enough) to include {category.key} projects")
    return None


def _repo_limit(category: Category, settings: TrenderSettings, github: GitHubResource) -> int:
    if category.kind == "watchlist":  # an explicit list is fetched whole, whatever the rest's size
        return len(category.watchlist)
    # Anonymous GitHub allows 60 requests an hour: stay dev-sized without a token.
    return settings.dev_repo_limit if (settings.dev_mode or not github.has_token) else settings.repo_limit


_GONE = {"not_found": "not found (deleted or private)", **ITEM_STATUSES}


def watchlist_notes(facts: dict) -> list[str]:
    """What the one-line outcome says about watched repositories renamed, gone, listed under two
    names, or replaced under their name by another repository (both ids and names said)."""
    def data(key: str) -> dict:
        return getattr(facts.get(key), "data", None) or {}

    def went(before: dict) -> str:
        now = before["now"]
        if now in ("not_found", "blocked"):
            return f"{before['repository_id']} is {_GONE.get(now, now)}"
        return f"{before['repository_id']} is now {now}, {'in the day' if before['in_the_day'] else 'not fetched'}"

    return [*(f"{old} renamed to {new}" for old, new in data("watchlist_renamed").items()),
            *(f"{name} {_GONE.get(why, why)}" for name, why in data("watchlist_missing").items()),
            *(f"{name} now means repository {now['repository_id']}, not {now['before']['repository_id']} as"
              f" stored on {now['before']['stored_on']} ({went(now['before'])})"
              for name, now in data("watchlist_name_now_means_another_repository").items()),
            *(f"{' and '.join(names)} are one repository, {repo_id} (kept once)"
              for repo_id, names in data("watchlist_one_repository_under_several_names").items())]


def discover(github: GitHubResource, category: Category, day: date, limit: int, settings: TrenderSettings,
             warehouse: WarehouseResource | None = None):
    """The day's repositories of one category, by its kind (see ``trender_assets.categories``).
    A watchlist is checked against what the warehouse stored under each name before the day."""
    if category.kind == "language":
        return github.trending_repositories(category.language, day, limit, settings.pushed_within_days,
                                            settings.created_within_days)
    if category.kind == "topic":
        return github.topic_repositories(category.topic, day, limit, settings.pushed_within_days,
                                         settings.created_within_days)
    if category.kind == "root_file":
        return github.root_file_projects(category.root_file, category.key, day, limit,
                                         settings.render_max_age_days)
    stored = {}
    if warehouse is not None:
        with warehouse.engine.connect() as conn:
            stored = last_stored(conn, category.watchlist, day)
    return github.watchlist(category.watchlist, stored)


RAW_PARTITIONS_AT_ONCE = 4
"""Partitions of a range run fetched at once: a day's four categories. Their requests share the
run's one GitHub client, whose governor and in-flight bound (``max_concurrency``) hold however
many partitions wait on it; more at once would only hold more READMEs in memory and more
warehouse connections (each partition holds one for its lock while it fetches)."""


@dg.asset(
    partitions_def=date_language_partitions,
    backfill_policy=RANGE_BACKFILL_POLICY,
    op_tags=category_order_tags(),  # what a range run's two ends meant where it was launched
    pool="github_api",
    group_name="ingest",
    kinds={"github", "postgres"},
    owners=OWNERS,
    tags={"layer": "raw"},
    metadata={"dagster/column_schema": RAW_SCHEMA, "dagster/table_name": "public.raw_github_repos",
              "categories": markdown_table(({"category": c.key, "finds": c.finds} for c in categories.configured()),
                                           ["category", "finds"], limit=1000)},
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
    without calling GitHub unless ``refetch`` is set; a day whose raw data retention deleted is not
    re-fetched unless ``refetch`` is set, and a refetch never shrinks a stored partition unless
    ``allow_smaller`` is set. Two runs of one partition at once take turns: the second reuses.

    A run may cover a range of partitions (a day's four categories, or a backfill's range): up to
    four are fetched at once through the run's one GitHub client, so GitHub's limits hold for all
    of them and their waits overlap. Each partition keeps its own lock, reuse and refusal rules,
    transaction and metadata (GitHub figures are that partition's requests; quota left is the
    run's). If any partition fails, the others still finish and are written; the step then fails
    naming each failed partition, and Dagster records no materialization for the range (a re-run
    reuses what was written)."""
    def one(day_key: str, language: str) -> dict:
        with holding_partition(warehouse.engine, "raw_github_repos", f"{day_key}|{language}", on_wait=lambda: (
                context.log.info(f"{day_key}|{language}: another run is fetching this partition; waiting for it"))):
            return _fetch_or_reuse(context, config, github, warehouse, settings, date.fromisoformat(day_key), language)

    return materialize_partitions(context, one, at_once=RAW_PARTITIONS_AT_ONCE)


def _fetch_or_reuse(
    context: dg.AssetExecutionContext,
    config: RawFetchConfig,
    github: GitHubResource,
    warehouse: WarehouseResource,
    settings: TrenderSettings,
    day: date,
    language: str,
) -> dict:
    """One partition: reuse, refuse, skip or fetch and replace it; its materialization metadata."""
    day_key = day.isoformat()
    category = categories.by_key()[language]
    limit = _repo_limit(category, settings, github)
    with warehouse.engine.connect() as conn:
        stored = stored_partition(conn, day, language)
        expired = [] if stored.rows else expired_categories(conn, day, [language])
    if stored.rows and not config.refetch:
        context.log.info(f"{day_key}|{language}: reusing {stored.rows} stored rows fetched at {stored.fetched_at}")
        metadata = {
            "dagster/row_count": stored.rows,
            "source": "stored raw data (GitHub not called; pass refetch to ask again)",
            "stars_as_of": str(stored.fetched_at),
        }
        if stored.repo_limit is not None and stored.repo_limit < limit:
            metadata["refetch_hint"] = (
                f"fetched {'without a token' if not stored.authenticated else 'dev-sized'} (up to "
                f"{stored.repo_limit} repositories); --refetch asks GitHub again for the full {limit}")
            context.log.warning(f"{day_key}|{language}: {metadata['refetch_hint']}")
        metadata["outcome"] = ", ".join([f"{stored.rows} rows", "reused stored raw data",
                                         *([metadata["refetch_hint"]] if "refetch_hint" in metadata else [])])
        return metadata
    if expired and not config.refetch:
        raise dg.Failure(refetch_refusal(day, expired), allow_retries=False)

    skip = _skip_reason(category, settings, github)
    if skip:
        context.log.warning(f"{day_key}|{language} skipped: {skip}")
        if stored.rows:  # a skipped refetch keeps what is stored rather than emptying the partition
            return {"dagster/row_count": stored.rows, "skipped": f"{skip}; the {stored.rows} stored rows are kept"}
        return {"dagster/row_count": 0, "skipped": skip}
    if stored.rows > limit and not config.allow_smaller:
        raise dg.Failure(shrink_refusal(stored.rows, limit, github.has_token), allow_retries=False)

    fetched_at = utc_now()
    with github.partition_telemetry() as spent:  # this partition's requests, not its neighbours'
        found = discover(github, category, day, limit, settings, warehouse)
        items = found.items
        names = [i["full_name"] for i in items if isinstance(i, dict) and isinstance(i.get("full_name"), str)]
        readmes = github.readmes(names)

    rows, preview = [], []
    for rank, item in enumerate(items, start=1):
        record = item if isinstance(item, dict) else {}
        name = record.get("full_name")
        readme = readmes.get(name) if isinstance(name, str) else None
        stored_item = storable_item(item)  # what PostgreSQL cannot hold as sent is named, not lost
        preview.append({"rank": rank, "repository": stored_item.full_name, "stars": record.get("stargazers_count")})
        rows.append({
            "d": day, "l": language, "rank": rank,
            "id": stored_item.repo_id,
            "name": stored_item.full_name,
            "body": stored_item.json_text,
            "source": found.source,
            "item_status": stored_item.status,
            "readme": readme.content if readme else None,
            "readme_status": readme.status if readme else "not_requested",
            "sha": readme.sha if readme else None,
            "path": readme.path if readme else None,
            "size": readme.size if readme else None,
            "truncated": bool(readme and readme.truncated),
            "at": fetched_at, "run": context.run_id,
        })
    with warehouse.engine.begin() as conn:  # the partition is replaced whole, or not at all
        conn.execute(sa.text("delete from raw_github_repos where snapshot_date = :d and language = :l"),
                     {"d": day, "l": language})
        record_fetch(conn, day, language, fetched_at, limit, github.has_token, len(rows), context.run_id)
        if rows:
            conn.execute(sa.text(
                "insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name,"
                " api_response, api_source, item_status, readme_content, readme_status, readme_sha, readme_path,"
                " readme_size, readme_truncated, fetched_at, run_id) values (:d, :l, :rank, :id, :name,"
                " cast(:body as jsonb), :source, :item_status, :readme, :readme_status, :sha, :path, :size,"
                " :truncated, :at, :run)"
            ), rows)

    spent_metadata = spent.as_metadata()
    metadata = {
        "dagster/row_count": len(rows),
        "outcome": ", ".join([f"{len(rows)} rows, {spent_metadata['github_requests']} GitHub requests",
                              *watchlist_notes(found.facts)]),
        "source": "GitHub API",
        "stars_as_of": fetched_at.isoformat(),
        "readmes_found": sum(1 for r in rows if r["readme"] is not None),
        "readme_status": dg.MetadataValue.json(dict(Counter(r["readme_status"] for r in rows))),
        "items_not_storable_as_sent": sum(1 for r in rows if r["item_status"]),
        "preview": markdown_table(preview, ["rank", "repository", "stars"]),
        **found.facts,
        **spent_metadata,
    }
    if day < fetched_at.date():
        metadata["note"] = (f"backfill of {day_key}: search windows are anchored to that day, "
                            f"but star counts are as of the fetch ({fetched_at.date().isoformat()})")
    return metadata
