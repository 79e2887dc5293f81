"""Range runs: one run of raw and staging for many date x language partitions.

A day's four categories in one run store exactly what four runs store, each partition keeps its own
materialization and figures, the categories are fetched at once through one GitHub client (never
more requests in flight than it allows, searches still paced), a systemic failure of one category
writes that one nothing while the others are stored, and the UI's asset backfill asks for one run
per contiguous range.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from trender_assets.assets.marts import dim_repositories, fact_repo_snapshots
from trender_assets.assets.ranges import day_range_tags, language_blocks
from trender_assets.assets.raw import raw_github_repos
from trender_assets.assets.report import trending_report
from trender_assets.assets.staging import stg_repos_validated
from trender_assets.checks import momentum_score
from trender_assets.jobs import ingest_job, marts_job
from trender_assets.partitions import LANGUAGES
from trender_assets.resources import GitHubResource, TrenderSettings, WarehouseResource
from trender_assets.runner import materialize_day as run_day
from trender_assets_tests import scenario
from trender_assets_tests.conftest import WAREHOUSE_TABLES, make_resources
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import INGEST, MARTS, materialize_day, rows, warehouse_dump

DAY = scenario.DAY.isoformat()
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Sent:
    category: str | None
    path: str
    start: float
    end: float = 0.0


class RequestLog:
    """Every request the GitHub client had in flight (inside its in-flight bound), with its
    category when the request belongs to exactly one, and the most it ever had in flight."""

    def __init__(self, category_of):
        self._category_of = category_of
        self.sent: list[Sent] = []
        self.most_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()

    def wrap(self, send):
        log = self

        def request(client, method, url, *args, **kwargs):
            entry = Sent(log._category_of(str(url), kwargs.get("params") or {}), str(url), time.monotonic())
            with log._lock:
                log._in_flight += 1
                log.most_in_flight = max(log.most_in_flight, log._in_flight)
            try:
                return send(client, method, url, *args, **kwargs)
            finally:
                entry.end = time.monotonic()
                with log._lock:
                    log._in_flight -= 1
                    log.sent.append(entry)

        return request

    def most_categories_at_once(self) -> int:
        """The most distinct categories with a request in flight at one moment."""
        named = [s for s in self.sent if s.category]
        return max(len({o.category for o in named if o.start <= s.start < o.end}) for s in named)

    def search_starts(self) -> list[float]:
        return sorted(s.start for s in self.sent if "/search/" in s.path)


def _scenario_category(url: str, params: dict) -> str | None:
    """Categories of the small scenario: searches by their language qualifier, render's code search
    and GraphQL look-up; READMEs are left out (a repository can be in two categories)."""
    if "/search/code" in url or url.endswith("/graphql"):
        return "render"
    if "/search/repositories" in url:
        query = str(params.get("q", "")).lower()
        return next((lang for lang in LANGUAGES if f"language:{lang}" in query), None)
    return None


def _realistic_category(url: str, params: dict) -> str | None:
    """As above, plus READMEs of serve_realistic's repositories that only one category keeps."""
    found = _scenario_category(url, params)
    if found or not url.endswith("/readme"):
        return found
    owner, name = url.split("/repos/", 1)[1].split("/")[:2]
    if owner == "deploy-org":
        return "render"
    language = owner.removesuffix("-org")
    index = int(name.removeprefix("repo-"))
    return language if index % 5 else None  # every fifth also has a root render.yaml


@pytest.fixture
def request_log(monkeypatch):
    def install(category_of=_scenario_category) -> RequestLog:
        log = RequestLog(category_of)
        monkeypatch.setattr(httpx.Client, "request", log.wrap(httpx.Client.request))
        return log

    return install


def _truncate(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"truncate {', '.join(WAREHOUSE_TABLES)} restart identity cascade"))


def _latest(instance: dg.DagsterInstance, asset: str, key: str):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1).records
    return records[0] if records else None


def _value(entry):
    return getattr(entry, "value", entry)


def _range_run(resources: dict, instance: dg.DagsterInstance, day: str = DAY, languages=LANGUAGES,
               refetch: bool = False) -> dg.ExecuteInProcessResult:
    return dg.materialize(INGEST, tags=day_range_tags(day, list(languages)), resources=resources,
                          instance=instance, raise_on_error=False,
                          run_config={"ops": {"raw_github_repos": {"config": {"refetch": refetch}}}})


def test_a_range_run_stores_what_four_single_runs_store(fake_github, database_url, engine, frozen_now, instance,
                                                       request_log):
    resources = make_resources(fake_github, database_url)  # searches paced, as in production
    singles = materialize_day(resources, instance, scenario.DAY)
    assert all(r.success for r in singles)
    single_requests = {lang: _value(_latest(instance, "raw_github_repos", f"{DAY}|{lang}")
                                    .asset_materialization.metadata["github_requests"]) for lang in LANGUAGES}
    stored_by_singles = warehouse_dump(engine)

    _truncate(engine)
    log = request_log()
    before = len(fake_github.requests)
    ranged = _range_run(resources, instance)
    assert ranged.success
    assert dg.materialize(MARTS, partition_key=DAY, resources=resources, instance=instance).success
    assert warehouse_dump(engine) == stored_by_singles

    # each partition has its own materialization, from the one range run, with its own figures
    for language in LANGUAGES:
        key = f"{DAY}|{language}"
        for asset in ("raw_github_repos", "stg_repos_validated"):
            record = _latest(instance, asset, key)
            assert record is not None and record.run_id == ranged.run_id, (asset, key)
            [[stored]] = [[r["n"]] for r in rows(
                engine, f"select count(*) as n from {asset} where snapshot_date = :d and language = :l",
                d=scenario.DAY, l=language)]
            assert _value(record.asset_materialization.metadata["dagster/row_count"]) == stored > 0
        raw_meta = _latest(instance, "raw_github_repos", key).asset_materialization.metadata
        assert _value(raw_meta["github_requests"]) == single_requests[language]  # that partition's, not the run's
    assert sum(single_requests.values()) == len(fake_github.requests) - before

    # one governor for the four: the three language searches stay 2 s apart (30 a minute)
    searches = [s.start for s in log.sent if "/search/repositories" in s.path]
    assert len(searches) == 3
    assert all(later - earlier >= 1.9 for earlier, later in zip(searches, searches[1:])), searches


def test_a_range_run_fetches_its_categories_at_once_through_one_client(database_url, engine, frozen_now, instance,
                                                                      request_log):
    with FakeGitHub(token=scenario.TOKEN) as fake:
        scenario.serve_realistic(fake, per_language=8, render_hits=6)
        fake.latency = 0.15
        warehouse = WarehouseResource(database_url=database_url)
        github = GitHubResource(warehouse=warehouse, token=scenario.TOKEN, api_url=fake.url, backoff_seconds=0.01,
                                pace_searches=False, max_concurrency=4)
        resources = {"github": github, "warehouse": warehouse,
                     "settings": TrenderSettings()}
        log = request_log(_realistic_category)
        result = _range_run(resources, instance)
        assert result.success

    # four clients would have 4 x 4 in flight; the run's one client never more than its 4
    assert 1 < log.most_in_flight <= 4
    assert log.most_categories_at_once() >= 3, [(s.category, round(s.start, 2), round(s.end, 2)) for s in log.sent]
    counts = {lang: _value(_latest(instance, "raw_github_repos", f"{DAY}|{lang}")
                           .asset_materialization.metadata["dagster/row_count"]) for lang in LANGUAGES}
    assert counts == {"python": 8, "typescript": 8, "go": 8, "render": 12}


def test_a_failed_category_writes_nothing_and_the_others_are_stored(fake_github, database_url, engine, frozen_now,
                                                                    instance):
    resources = make_resources(fake_github, database_url, pace_searches=False)
    fake_github.fail_next("/search/code", 401, count=100,
                          body={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
    failed = _range_run(resources, instance)
    assert not failed.success

    stored = {r["language"]: r["n"] for r in rows(
        engine, "select language, count(*) as n from raw_github_repos group by 1")}
    assert stored == {"python": 6, "typescript": 3, "go": 3}  # render: nothing
    assert rows(engine, "select language from raw_partition_fetches where language = 'render'") == []
    assert rows(engine, "select count(*) as n from stg_repos_validated") == [{"n": 0}]  # staging never ran
    for language in LANGUAGES:  # the failed step claims no partition
        assert _latest(instance, "raw_github_repos", f"{DAY}|{language}") is None
    [failure] = [e for e in failed.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    metadata = failure.event_specific_data.user_failure_data.metadata
    assert list(_value(metadata["failed_partitions"])) == [f"{DAY}|render"]
    assert "rejected the token" in _value(metadata["failed_partitions"])[f"{DAY}|render"]
    assert _value(metadata["written_partitions"]) == {f"{DAY}|python": 6, f"{DAY}|typescript": 3, f"{DAY}|go": 3}

    # the re-run reuses the three stored categories and fetches only render
    fake_github.reset_faults()
    mark = len(fake_github.requests)
    again = _range_run(resources, instance)
    assert again.success
    assert all(not r.path.startswith("/search/repositories") for r in fake_github.requests[mark:])
    assert {lang: _value(_latest(instance, "raw_github_repos", f"{DAY}|{lang}")
                         .asset_materialization.metadata.get("source")) for lang in LANGUAGES} == {
        "python": "stored raw data (GitHub not called; pass refetch to ask again)",
        "typescript": "stored raw data (GitHub not called; pass refetch to ask again)",
        "go": "stored raw data (GitHub not called; pass refetch to ask again)",
        "render": "GitHub API"}


def _definitions(resources: dict) -> dg.Definitions:
    return dg.Definitions(
        assets=[raw_github_repos, stg_repos_validated, dim_repositories, fact_repo_snapshots, trending_report],
        asset_checks=[momentum_score], jobs=[ingest_job, marts_job], resources=resources)


def test_the_day_summary_has_a_line_per_partition_when_one_category_fails(fake_github, database_url, engine,
                                                                         frozen_now, instance):
    fake_github.fail_next("/search/code", 401, count=100,
                          body={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
    resources = make_resources(fake_github, database_url, pace_searches=False)
    report = run_day(_definitions(resources), instance, scenario.DAY, LANGUAGES)
    assert not report.succeeded
    assert [(o.status, o.name, o.partition) for o in report.outcomes] == [
        ("kept", "raw_github_repos", f"{DAY}|python"),
        ("kept", "raw_github_repos", f"{DAY}|typescript"),
        ("kept", "raw_github_repos", f"{DAY}|go"),
        ("FAIL", "raw_github_repos", f"{DAY}|render"),
        ("FAIL", "marts_job", DAY),
    ]
    assert "rejected the token" in report.outcomes[3].detail
    assert report.outcomes[0].detail.startswith("6 rows written, not recorded")


def test_a_day_runs_one_ingest_run_per_contiguous_block_of_languages(fake_github, database_url, engine, frozen_now,
                                                                    instance, tmp_path, monkeypatch):
    monkeypatch.setenv("TRENDER_REPORT_DIR", str(tmp_path / "reports"))
    resources = make_resources(fake_github, database_url, pace_searches=False)
    report = run_day(_definitions(resources), instance, scenario.DAY, ["render", "python", "typescript"])
    assert report.succeeded, [o.line() for o in report.outcomes]
    ingest_runs = [r for r in instance.get_runs() if r.job_name == "ingest_job"]
    assert sorted((r.tags.get("dagster/partition", ""), r.tags.get("dagster/asset_partition_range_start", ""),
                   r.tags.get("dagster/asset_partition_range_end", "")) for r in ingest_runs) == [
        ("", f"{DAY}|python", f"{DAY}|typescript"), (f"{DAY}|render", "", "")]
    assert [(o.name, o.partition) for o in report.outcomes if o.name == "raw_github_repos"] == [
        ("raw_github_repos", f"{DAY}|python"), ("raw_github_repos", f"{DAY}|typescript"),
        ("raw_github_repos", f"{DAY}|render")]


@pytest.mark.parametrize("languages, blocks", [
    (LANGUAGES, [LANGUAGES]),
    (["go", "python"], [["python"], ["go"]]),
    (["typescript", "go", "render"], [["typescript", "go", "render"]]),
    (["python", "typescript", "render"], [["python", "typescript"], ["render"]]),
    ([], []),
])
def test_language_blocks_follow_partition_order(languages, blocks):
    assert language_blocks(languages) == blocks


def test_language_blocks_refuse_an_unknown_language():
    with pytest.raises(ValueError, match="cobol"):
        language_blocks(["python", "cobol"])


def test_the_daily_schedule_launches_one_run_that_snapshots_the_four_languages(fake_github, database_url, engine,
                                                                             frozen_now, instance):
    from trender_assets.definitions import defs

    tick = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)
    with dg.build_schedule_context(scheduled_execution_time=tick, repository_def=defs.get_repository_def()) as ctx:
        [request] = defs.resolve_schedule_def("daily_snapshot_schedule").evaluate_tick(ctx).run_requests
    assert request.partition_key is None and request.run_key == f"snapshot-{DAY}"

    resources = make_resources(fake_github, database_url)
    resources["github"] = GitHubResource(warehouse=resources["warehouse"], token=scenario.TOKEN,
                                         api_url=fake_github.url, pace_searches=False)
    result = _definitions(resources).resolve_job_def("ingest_job").execute_in_process(
        instance=instance, tags=request.tags)
    assert result.success
    assert instance.get_materialized_partitions(dg.AssetKey("stg_repos_validated")) == {
        f"{DAY}|{lang}" for lang in LANGUAGES}
    assert {r["language"] for r in rows(engine, "select distinct language from raw_github_repos")} == set(LANGUAGES)


# --------------------------------------------------------------------------------------------
# the UI's asset backfill, through Dagster's own backfill daemon iteration, in-process

SEED_DAYS = """
insert into raw_github_repos (snapshot_date, language, search_rank, repo_id, repo_full_name, api_response,
                              api_source, item_status, readme_content, readme_status, readme_sha, fetched_at, run_id)
select r.snapshot_date - k, r.language, r.search_rank, r.repo_id, r.repo_full_name, r.api_response, r.api_source,
       r.item_status, r.readme_content, r.readme_status, r.readme_sha, r.fetched_at - make_interval(days => k), 'seed'
from raw_github_repos r cross join generate_series(1, :days) as k
where r.snapshot_date = :d
"""


@pytest.fixture
def backfill_daemon(fake_github, database_url, engine, frozen_now, tmp_path, monkeypatch):
    """The code location as `dagster dev` loads it, an instance whose runs execute synchronously when
    launched, and a function that runs a backfill to its end; raw data is stored for DAY and the
    eight days before it, so no backfill calls GitHub."""
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
    from dagster._daemon.backfill import execute_backfill_iteration

    resources = make_resources(fake_github, database_url)
    resources["github"] = GitHubResource(warehouse=resources["warehouse"], token=scenario.TOKEN,
                                         api_url=fake_github.url, pace_searches=False)
    seeded = dg.materialize(INGEST, tags=day_range_tags(DAY, LANGUAGES), resources=resources)
    assert seeded.success
    with engine.begin() as conn:
        conn.execute(sa.text(SEED_DAYS), {"d": scenario.DAY, "days": 8})
    for name, value in {"GITHUB_API_URL": fake_github.url, "GITHUB_TOKEN": scenario.TOKEN,
                        "DATABASE_URL": database_url, "TRENDER_REPORT_DIR": str(tmp_path / "reports"),
                        "TRENDER_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)

    overrides = {
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"},
        "run_launcher": {"module": "dagster._core.launcher.sync_in_memory_run_launcher",
                         "class": "SyncInMemoryRunLauncher"},
    }
    (tmp_path / "dagster_home").mkdir()
    origin = InProcessCodeLocationOrigin(LoadableTargetOrigin(
        python_file=str(ROOT / "trender_assets" / "definitions.py"), working_directory=str(ROOT)))
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path / "dagster_home")) as instance, \
            create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as workspace:

        def backfill(backfill_id: str, assets: list[str], days: list[str]) -> list[dg.DagsterRun]:
            context = workspace.create_request_context()
            instance.add_backfill(PartitionBackfill.from_asset_partitions(
                backfill_id=backfill_id, asset_graph=context.asset_graph,
                partition_names=[f"{d}|{lang}" for d in days for lang in LANGUAGES],
                asset_selection=[dg.AssetKey(a) for a in assets], backfill_timestamp=time.time(), tags={},
                dynamic_partitions_store=instance, all_partitions=False, title=backfill_id, description=None,
                run_config=None))
            for _ in range(20):  # each iteration launches what is ready; its runs finish as they launch
                list(execute_backfill_iteration(workspace, logging.getLogger("backfill")))
                if instance.get_backfill(backfill_id).status != BulkActionStatus.REQUESTED:
                    break
            assert instance.get_backfill(backfill_id).status == BulkActionStatus.COMPLETED_SUCCESS
            return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id})))

        yield instance, backfill


def _ingest_ranges(runs: list[dg.DagsterRun]) -> list[tuple[str, str]]:
    return sorted((r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
                  for r in runs if dg.AssetKey("raw_github_repos") in (r.asset_selection or ()))


def test_a_backfill_of_a_few_days_runs_each_days_ingest_in_one_run(backfill_daemon, engine):
    instance, backfill = backfill_daemon
    days = [(scenario.DAY - timedelta(days=n)).isoformat() for n in (3, 2, 1)]
    runs = backfill("three_days", ["raw_github_repos", "stg_repos_validated", "dim_repositories",
                                   "fact_repo_snapshots", "trending_report"], days)

    assert _ingest_ranges(runs) == [(f"{d}|python", f"{d}|render") for d in days]  # not 12 runs
    [marts] = [r for r in runs if dg.AssetKey("dim_repositories") in r.asset_selection]  # one run, not three
    assert (marts.tags["dagster/asset_partition_range_start"], marts.tags["dagster/asset_partition_range_end"]) == (
        days[0], days[-1])
    assert {dg.AssetKey("fact_repo_snapshots"), dg.AssetKey("trending_report")} <= marts.asset_selection
    # the blocking momentum check is evaluated for each day of the range, as the UI shows it per day
    check = dg.AssetCheckKey(dg.AssetKey("fact_repo_snapshots"), "momentum_score")
    evaluated = {i.partition_key: (i.latest_execution_status.value, i.is_current)
                 for i in instance.event_log_storage.get_asset_check_partition_info([check])}
    assert evaluated == {day: ("SUCCEEDED", True) for day in days}
    assert instance.get_materialized_partitions(dg.AssetKey("trending_report")) == set(days)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    for day in days:
        assert instance.get_materialized_partitions(dg.AssetKey("stg_repos_validated")) >= {
            f"{day}|{lang}" for lang in LANGUAGES}
    facts = rows(engine, "select snapshot_date::text as d, count(*) as n from fact_repo_snapshots"
                         " group by 1 order by 1")
    assert [f["d"] for f in facts] == days and all(f["n"] > 0 for f in facts)


def test_a_backfill_of_many_days_runs_each_category_in_one_run(backfill_daemon, engine):
    instance, backfill = backfill_daemon
    days = [(scenario.DAY - timedelta(days=n)).isoformat() for n in range(8, 0, -1)]
    runs = backfill("eight_days", ["raw_github_repos", "stg_repos_validated"], days)

    # Dagster groups a range by the dimension with fewer keys: four runs of eight days, not 32
    assert _ingest_ranges(runs) == sorted((f"{days[0]}|{lang}", f"{days[-1]}|{lang}") for lang in LANGUAGES)
    assert instance.get_materialized_partitions(dg.AssetKey("stg_repos_validated")) == {
        f"{d}|{lang}" for d in days for lang in LANGUAGES}
    staged = rows(engine, "select count(distinct (snapshot_date, language)) as n from stg_repos_validated"
                          " where snapshot_date < :d", d=scenario.DAY)
    assert staged == [{"n": len(days) * len(LANGUAGES)}]
