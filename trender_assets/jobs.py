"""Jobs. Dagster cannot mix the date x language assets and the daily marts in one job."""

import dagster as dg

from trender_assets.assets.marts import dim_repositories, fact_repo_snapshots
from trender_assets.assets.raw import raw_github_repos
from trender_assets.assets.report import trending_report
from trender_assets.assets.staging import stg_repos_validated
from trender_assets.retention import retention_job

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=[raw_github_repos, stg_repos_validated],
    description="Fetch and validate (date, language) partitions: one, or a range of them in one run.",
)
marts_job = dg.define_asset_job(
    "marts_job",
    selection=dg.AssetSelection.assets(dim_repositories, fact_repo_snapshots, trending_report).without_checks()
    | dg.AssetSelection.checks_for_assets(fact_repo_snapshots),
    description="Load the dimension and the facts of one day, check momentum, and render the day's report.",
)

__all__ = ["ingest_job", "marts_job", "retention_job"]
