"""The code location: assembles assets, checks, jobs, schedules, sensors and resources."""

import os
import warnings

import dagster as dg

from trender_assets import environment

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)

from trender_assets.assets.marts import dim_repositories, fact_repo_snapshots  # noqa: E402
from trender_assets.assets.raw import raw_github_repos  # noqa: E402
from trender_assets.assets.report import trending_report  # noqa: E402
from trender_assets.assets.staging import stg_repos_validated  # noqa: E402
from trender_assets.checks import freshness_checks, momentum_score  # noqa: E402
from trender_assets.executors import executor_from_env  # noqa: E402
from trender_assets.jobs import ingest_job, marts_job, retention_job  # noqa: E402
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource  # noqa: E402
from trender_assets.schedules import daily_retention_schedule, daily_snapshot_schedule  # noqa: E402
from trender_assets.sensors import automation_sensor, freshness_sensor, run_record_sensors  # noqa: E402


def _optional_env(name: str):
    """EnvVar when set (the UI shows its name, never its value); None selects the default behaviour."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def default_resources() -> dict:
    warehouse = WarehouseResource(database_url=_optional_env("DATABASE_URL"))
    return {
        "github": GitHubResource(
            warehouse=warehouse,  # the ETag cache and OAuth tokens live there
            token=_optional_env("GITHUB_TOKEN"),
            tokens=_optional_env("GITHUB_TOKENS"),
            app_id=_optional_env("GITHUB_APP_ID"),
            app_private_key=_optional_env("GITHUB_APP_PRIVATE_KEY"),
            app_installation_id=_optional_env("GITHUB_APP_INSTALLATION_ID"),
            oauth_client_id=_optional_env("GITHUB_OAUTH_CLIENT_ID"),
            oauth_client_secret=_optional_env("GITHUB_OAUTH_CLIENT_SECRET"),
            oauth_url=os.environ.get("GITHUB_OAUTH_URL") or "https://github.com",
            encryption_key=_optional_env("TRENDER_ENCRYPTION_KEY"),
            api_url=_optional_env("GITHUB_API_URL") or "https://api.github.com",  # it may carry a password
            **environment.github_backoff(),
            **environment.github_pacing(),
        ),
        "warehouse": warehouse,
        "settings": TrenderSettings.from_env(),
    }


defs = dg.Definitions(
    assets=dg.with_source_code_references(
        [raw_github_repos, stg_repos_validated, dim_repositories, fact_repo_snapshots, trending_report]
    ),
    asset_checks=[momentum_score, *freshness_checks],
    jobs=[ingest_job, marts_job, retention_job],
    schedules=[daily_snapshot_schedule, daily_retention_schedule],
    sensors=[automation_sensor, freshness_sensor, *run_record_sensors],
    resources=default_resources(),
    # Every job is a chain (raw -> stg; dim -> fact -> check -> report): a process per step buys
    # no parallelism, only start-up time and database connections. Runs still get a process each.
    executor=executor_from_env(),
)
