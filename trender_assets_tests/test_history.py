"""History you can trust: SCD2 and facts independent of backfill order, star velocity, views,
run records and freshness."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trender_assets.repository_versions import rebuild_versions
from trender_assets.logic.scd2 import Observation, attributes_hash, build_versions
from trender_assets_tests import scenario
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.helpers import materialize_day, rows, trender, warehouse_dump

START = date(2026, 10, 1)

# -- 1. order independence ---------------------------------------------------------------------

histories = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=25)


def _observations(values: list[str]) -> list[Observation]:
    out = []
    for i, value in enumerate(values):
        attrs = {"repo_full_name": "o/r", "description": value}
        out.append(Observation(START + timedelta(days=i * 2), attributes_hash(attrs), attrs))
    return out


@settings(max_examples=300)
@given(histories, st.randoms(use_true_random=False))
def test_versions_do_not_depend_on_arrival_order(values, rnd):
    observations = _observations(values)
    shuffled = observations[:]
    rnd.shuffle(shuffled)
    versions = build_versions(shuffled)
    assert versions == build_versions(observations)
    # consecutive identical observations collapse; versions tile the timeline without gaps
    assert all(a.attributes_hash != b.attributes_hash for a, b in zip(versions, versions[1:]))
    assert all(a.valid_to == b.valid_from for a, b in zip(versions, versions[1:]))
    assert versions[-1].valid_to is None and sum(v.is_current for v in versions) == 1


def _load_day(conn: sa.Connection, day: date, observed: dict[int, str]) -> None:
    """What dim_repositories does for one day, then what fact_repo_snapshots does."""
    before = [r[0] for r in conn.execute(sa.text(
        "delete from dim_repository_observations where snapshot_date = :d returning repo_id"), {"d": day})]
    for repo_id, value in observed.items():
        attrs = {"repo_full_name": f"o/r{repo_id}", "description": value, "created_at": "2026-09-01T00:00:00+00:00"}
        conn.execute(sa.text("insert into dim_repository_observations values (:i, :d, :h, cast(:a as jsonb))"),
                     {"i": repo_id, "d": day, "h": attributes_hash(attrs), "a": json.dumps(attrs)})
    rebuild_versions(conn, [*observed, *before])
    conn.execute(sa.text("delete from fact_repo_snapshots_base where snapshot_date = :d"), {"d": day})
    for repo_id in observed:
        conn.execute(sa.text(
            "insert into fact_repo_snapshots_base values (:d, 'go', :i, 'o/r', 1, 0, 0, 1, 1, 1, 1, 1, 1, now())"),
            {"d": day, "i": repo_id})


def _history(engine: sa.Engine) -> tuple:
    dims = rows(engine, "select repo_id, description, attributes_hash, valid_from, valid_to, is_current"
                        " from dim_repositories order by repo_id, valid_from")
    dims = [{k: v for k, v in d.items()} for d in dims]
    facts = rows(engine, "select f.snapshot_date, f.repo_id, d.valid_from as version_from from fact_repo_snapshots f"
                         " join dim_repositories d on d.repo_key = f.repo_key order by 1, 2")
    return dims, facts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(st.integers(1, 4), st.sampled_from(["x", "y", None]), max_size=4),
                min_size=1, max_size=8),
       st.randoms(use_true_random=False), st.lists(st.integers(0, 7), max_size=3))
def test_warehouse_history_is_the_same_in_any_materialization_order(engine, days, rnd, repeats):
    """Random observation histories, loaded in date order and in a random order with re-runs."""
    schedule = {START + timedelta(days=i): observed for i, observed in enumerate(days)}

    def build(order: list[date]) -> tuple:
        with engine.begin() as conn:
            conn.execute(sa.text("truncate fact_repo_snapshots_base, dim_repositories, dim_repository_observations"))
        for day in order:
            with engine.begin() as conn:
                _load_day(conn, day, schedule[day])
        return _history(engine)

    in_order = build(sorted(schedule))
    shuffled = list(schedule)
    rnd.shuffle(shuffled)
    shuffled += [sorted(schedule)[i % len(schedule)] for i in repeats]  # re-materialize some days
    assert build(shuffled) == in_order


def _day_state(fake, index: int) -> None:
    """The fake's GitHub on day ``index`` of the 30: stars grow, a description changes on day 8,
    a README changes on day 15, a rename on day 20, and a repository drops out on days 10-12."""
    repos = fake._repos
    base = {r.id: r.stars for r in scenario.repos()}
    for repo_id, repo in repos.items():
        if repo_id in base:
            repo.stars = base[repo_id] + index * (repo_id % 7 + 1)
    repos[102].description = "LLM tooling" if index >= 8 else None
    repos[101].readme = "# snake\n\nv2" if index >= 15 else "# readme"
    repos[101].full_name = "alpha-org/snake" if index >= 20 else "alpha/snake"
    repos[105].stars = 1 if 10 <= index <= 12 else 700 + index  # below the top 4 on those days


def test_thirty_days_in_shuffled_order_equal_date_order(fake_github, database_url, engine, monkeypatch):
    monkeypatch.setenv("TRENDER_NOW", "2026-11-15T15:00:00Z")
    instance = dg.DagsterInstance.ephemeral()  # 120 runs; nothing here reads the instance back
    # a day is one ingest run of its four categories (as `trender run` does) and one marts run; the
    # fake answers at once, so its three searches in one run need no spacing
    resources = make_resources(fake_github, database_url, pace_searches=False, repo_limit=4)
    fake_github.set_rate_limit("search", 1000, enforce=False)  # 180 searches within minutes, never refused
    for repo_id in (101, 102, 105):  # created before the first day: a day holds only what existed then
        fake_github._repos[repo_id].created_at = "2026-10-01T12:00:00Z"
    days = [date(2026, 10, 10) + timedelta(days=i) for i in range(30)]

    def build(order: list[int]) -> dict:
        with engine.begin() as conn:
            conn.execute(sa.text("truncate fact_repo_snapshots_base, dim_repositories, dim_repository_observations,"
                                 " stg_repos_validated, stg_repos_rejected, raw_github_repos, raw_partition_fetches,"
                                 " github_http_cache"))
        for index in order:
            _day_state(fake_github, index)
            results = materialize_day(resources, instance, days[index], ranges=True)
            assert len(results) == 2 and all(r.success for r in results)
        return warehouse_dump(engine)

    in_order = build(list(range(30)))
    shuffled = list(range(30))
    random.Random(5).shuffle(shuffled)
    assert build(shuffled) == in_order

    versions = rows(engine, "select repo_id, repo_full_name, description, valid_from::text as f, valid_to::text as t"
                            " from dim_repositories where repo_id in (101, 102) order by repo_id, valid_from")
    assert [(v["repo_id"], v["repo_full_name"], v["f"], v["t"]) for v in versions] == [
        (101, "alpha/snake", "2026-10-10", "2026-10-25"),       # README changes on day 15
        (101, "alpha/snake", "2026-10-25", "2026-10-30"),       # renamed on day 20
        (101, "alpha-org/snake", "2026-10-30", None),
        (102, "beta/pyllm", "2026-10-10", "2026-10-18"),        # description from day 8
        (102, "beta/pyllm", "2026-10-18", None),
    ]
    # the repository that dropped out for three days has facts before and after, none in between
    gap = [r["d"] for r in rows(engine, "select snapshot_date::text as d from fact_repo_snapshots"
                                        " where repo_id = 105 and language = 'python' order by 1")]
    assert "2026-10-20" not in gap and "2026-10-19" in gap and "2026-10-23" in gap
    # its history survives the rename: one repository, all 30 days, joined through repo_key
    history = rows(engine, "select count(*) as n, count(distinct repo_full_name) as names"
                           " from analytics_repo_history where repo_id = 101 and language = 'python'")
    assert history == [{"n": 30, "names": 2}]


# -- 3./4. velocity and views on a hand-computed history ------------------------------------------

def _seed_history(engine: sa.Engine) -> None:
    """Repository 1 (python) on days 1, 2, 4, 9 with 100, 110, 130, 200 stars; repository 2
    (python) on days 4 and 9; repository 3 (render) on day 9; repository 4 (go) on day 9."""
    def day(n: int) -> date:
        return date(2026, 11, n)

    with engine.begin() as conn:
        for repo_id, name, lang in [(1, "o/one", "Python"), (2, "o/two", "Python"), (3, "o/three", None),
                                    (4, "o/four", "Go")]:
            conn.execute(sa.text(
                "insert into dim_repositories (repo_id, repo_full_name, language, description, attributes_hash,"
                " valid_from, is_current) values (:i, :n, :l, :n, 'h', '2026-11-01', true)"),
                {"i": repo_id, "n": name, "l": lang})
        facts = [  # day, category, repo, stars, momentum, rank_overall, rank_in_language
            (1, "python", 1, 100, 0.90, 1, 1),
            (2, "python", 1, 110, 0.88, 1, 1),
            (4, "python", 1, 130, 0.85, 1, 1), (4, "python", 2, 50, 0.95, 2, 2),
            (9, "python", 1, 200, 0.60, 3, 2), (9, "python", 2, 60, 0.80, 2, 1),
            (9, "render", 3, 40, 0.97, 1, 1), (9, "go", 4, 10, 0.50, 4, 1),
        ]
        for d, lang, repo_id, stars, momentum, overall, in_lang in facts:
            conn.execute(sa.text(
                "insert into fact_repo_snapshots_base values (:d, :l, :i, 'x', :s, 0, 0, 1, 1, 1, :m, :o, :r, now())"),
                {"d": day(d), "l": lang, "i": repo_id, "s": stars, "m": momentum,
                 "o": overall, "r": in_lang})


def test_star_velocity_since_previous_snapshot_and_over_seven_days(engine):
    _seed_history(engine)
    history = rows(engine, "select snapshot_date::text as d, stars, star_velocity as v, star_velocity_7d as v7"
                           " from analytics_repo_history where repo_id = 1 order by snapshot_date")
    assert [(h["d"], h["v"], h["v7"]) for h in history] == [
        ("2026-11-01", None, None),
        ("2026-11-02", 10.0, None),
        ("2026-11-04", 10.0, None),
        ("2026-11-09", 14.0, pytest.approx((200 - 110) / 7)),
    ]


def test_trending_now_views_are_ordered_by_momentum(engine):
    _seed_history(engine)
    now = rows(engine, "select language, repo_full_name, star_velocity from analytics_trending_now")
    assert [(r["language"], r["repo_full_name"]) for r in now] == [
        ("go", "o/four"), ("python", "o/two"), ("python", "o/one"), ("render", "o/three")]
    overall = rows(engine, "select repo_full_name from analytics_trending_now_overall")
    assert [r["repo_full_name"] for r in overall] == ["o/three", "o/two", "o/one", "o/four"]
    render = rows(engine, "select repo_full_name, github_language from analytics_render_projects")
    assert render == [{"repo_full_name": "o/three", "github_language": None}]


def test_language_trends(engine):
    _seed_history(engine)
    trends = {(r["language"], r["d"]): r for r in rows(
        engine, "select language, snapshot_date::text as d, repositories, median_momentum, top_momentum,"
                " new_entrants from analytics_language_trends")}
    assert trends[("python", "2026-11-04")]["repositories"] == 2
    assert trends[("python", "2026-11-04")]["median_momentum"] == pytest.approx(0.90)
    assert trends[("python", "2026-11-04")]["top_momentum"] == pytest.approx(0.95)
    assert trends[("python", "2026-11-04")]["new_entrants"] == 1  # o/two was not there on the 2nd
    assert trends[("python", "2026-11-09")]["new_entrants"] == 0
    assert trends[("render", "2026-11-09")]["new_entrants"] == 1
    assert trends[("python", "2026-11-01")]["new_entrants"] == 1


# -- 5. run records --------------------------------------------------------------------------------

def test_runs_are_recorded_succeeded_and_failed(cli_env, engine, fake_github):
    ok = trender(cli_env, "run", "--date", scenario.DAY.isoformat(), "--language", "go")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    fake_github.fail_next("/search/repositories", 401, count=1000, body={"message": "Bad credentials"})
    failed = trender(cli_env, "run", "--date", "2026-11-19", "--language", "python", "--refetch")
    assert failed.returncode == 1
    runs = rows(engine, "select job_name, partitions, status, repositories_processed, error_message, steps,"
                        " started_at <= ended_at as ordered from fact_workflow_runs order by started_at")
    assert [(r["job_name"], r["partitions"], r["status"]) for r in runs] == [
        ("ingest_job", ["2026-11-20|go"], "succeeded"),
        ("marts_job", ["2026-11-20"], "succeeded"),
        ("ingest_job", ["2026-11-19|python"], "failed"),
    ]
    assert runs[0]["repositories_processed"] == len(scenario.EXPECTED["go"])
    assert all(r["ordered"] for r in runs)
    assert {s["step"] for s in runs[1]["steps"]} >= {"dim_repositories", "fact_repo_snapshots"}
    assert all(s["seconds"] is not None for s in runs[1]["steps"])
    assert "rejected the token" in runs[2]["error_message"]
    assert scenario.TOKEN not in json.dumps(runs, default=str)
    latest = rows(engine, "select job_name, status from analytics_latest_runs order by job_name")
    assert latest == [{"job_name": "ingest_job", "status": "failed"}, {"job_name": "marts_job", "status": "succeeded"}]


def test_the_run_status_sensor_writes_the_record(resources, instance, engine, database_url):
    from trender_assets.resources import WarehouseResource
    from trender_assets.sensors import run_record_sensors

    [result, *_] = materialize_day(resources, instance, scenario.DAY, languages=["go"])
    sensor = next(s for s in run_record_sensors if s.name == "record_succeeded_runs")
    event = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_SUCCESS)
    with dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_instance=instance, dagster_run=result.dagster_run, dagster_event=event,
        resources={"warehouse": WarehouseResource(database_url=database_url)}) as context:
        sensor(context)
    assert rows(engine, "select run_id, status from fact_workflow_runs") == [
        {"run_id": result.run_id, "status": "succeeded"}]


def test_ui_runs_are_recorded_under_what_they_materialized(resources, instance, engine):
    """The UI's Materialize and asset backfills run Dagster's hidden ``__ASSET_JOB``."""
    from trender_assets.assets.raw import raw_github_repos
    from trender_assets.assets.staging import stg_repos_validated
    from trender_assets.partitions import partition_key_for
    from trender_assets.run_records import record_run

    defs = dg.Definitions(assets=[raw_github_repos, stg_repos_validated], resources=resources)
    asset_job = defs.resolve_implicit_global_asset_job_def()
    assert asset_job.name == "__ASSET_JOB"
    key = partition_key_for(scenario.DAY.isoformat(), "go")
    backfill = asset_job.execute_in_process(partition_key=key, instance=instance, tags={"dagster/backfill": "qwertyui"},
                                            asset_selection=[raw_github_repos.key, stg_repos_validated.key])
    single = asset_job.execute_in_process(partition_key=key, instance=instance, asset_selection=[raw_github_repos.key])
    assert backfill.success and single.success
    record_run(engine, instance, backfill.dagster_run, "succeeded")
    record_run(engine, instance, single.dagster_run, "succeeded")

    recorded = rows(engine, "select run_id, job_name, run_name, asset_selection, backfill_id, partitions, status"
                            " from fact_workflow_runs order by started_at")
    assert recorded == [
        {"run_id": backfill.run_id, "job_name": "__ASSET_JOB",
         "run_name": "materialize raw_github_repos, stg_repos_validated",
         "asset_selection": ["raw_github_repos", "stg_repos_validated"], "backfill_id": "qwertyui",
         "partitions": [key], "status": "succeeded"},
        {"run_id": single.run_id, "job_name": "__ASSET_JOB", "run_name": "materialize raw_github_repos",
         "asset_selection": ["raw_github_repos"], "backfill_id": None, "partitions": [key], "status": "succeeded"},
    ]
    latest = rows(engine, "select run_name, run_id, backfill_id from analytics_latest_runs order by run_name")
    assert latest == [
        {"run_name": "materialize raw_github_repos", "run_id": single.run_id, "backfill_id": None},
        {"run_name": "materialize raw_github_repos, stg_repos_validated", "run_id": backfill.run_id,
         "backfill_id": "qwertyui"},
    ]


# -- 6. freshness ----------------------------------------------------------------------------------

def test_freshness_check_fails_without_a_recent_snapshot(resources, database_url, engine, instance):
    """The check reads the table: an empty table and facts loaded 27 hours ago fail, fresh facts pass,
    whatever the instance running the check has seen."""
    from trender_assets.checks import freshness_checks
    from trender_assets.resources import WarehouseResource

    defs = dg.Definitions(assets=[dg.AssetSpec("fact_repo_snapshots")], asset_checks=freshness_checks,
                          resources={"warehouse": WarehouseResource(database_url=database_url)},
                          jobs=[dg.define_asset_job("freshness", selection=dg.AssetSelection.checks(*freshness_checks))])
    job = defs.resolve_job_def("freshness")

    def evaluate() -> dg.AssetCheckEvaluation:
        with dg.instance_for_test() as blank:  # an instance that never saw a materialization
            [evaluation] = job.execute_in_process(instance=blank, raise_on_error=False).get_asset_check_evaluations()
        return evaluation

    empty = evaluate()
    assert not empty.passed and empty.metadata["latest_snapshot_date"].value == "none"
    materialize_day(resources, instance, scenario.DAY)
    fresh = evaluate()
    assert fresh.passed and fresh.metadata["latest_snapshot_date"].value == str(scenario.DAY)
    assert fresh.metadata["dagster/fresh_until_timestamp"].value > fresh.metadata[
        "dagster/last_updated_timestamp"].value  # when fact_freshness_sensor evaluates it again
    with engine.begin() as conn:
        conn.execute(sa.text("update fact_repo_snapshots_base set loaded_at = now() - interval '27 hours'"))
    stale = evaluate()
    assert not stale.passed and "dagster/fresh_until_timestamp" not in stale.metadata
