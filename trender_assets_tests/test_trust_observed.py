"""A number knows when it was observed.

A snapshot of day D holds the star counts GitHub gave when it was fetched. Fetched after D (a
backfill), they are a later day's counts filed under D: such facts are marked ``observed_late``,
and gains, velocity and Rising are measured only between snapshots observed on their day.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest
import sqlalchemy as sa
from yoyo import get_backend, read_migrations

from trender_assets.assets.report import trending_report
from trender_assets.warehouse.migrations import SQL_DIR, apply_migrations
from trender_assets_tests import scenario
from trender_assets_tests.helpers import definitions, materialize_day, rows

DAY = scenario.DAY
LANGUAGES = ["python", "typescript"]  # two neighbouring categories: a day's ingestion is one run


def _at(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00Z"


def _stars(fake) -> dict[int, int]:
    with fake._lock:
        return {repo_id: repo.stars for repo_id, repo in fake._repos.items()}


def _set_stars(fake, stars: dict[int, int]) -> None:
    with fake._lock:
        for repo_id, count in stars.items():
            fake._repos[repo_id].stars = count


def _run(resources, instance, day: date, **options) -> None:
    results = materialize_day(resources, instance, day, languages=LANGUAGES, ranges=True, **options)
    assert results and all(r.success for r in results)


def _backfill(resources, instance, first: date, last: date) -> None:
    """The days as an asset backfill runs them: each category's days in one ingest run, then the
    marts and the report of all the days in one run."""
    defs = definitions(resources)

    def run(job: str, start: str, end: str) -> None:
        assert defs.resolve_job_def(job).execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}).success

    for language in LANGUAGES:
        run("ingest_job", f"{first}|{language}", f"{last}|{language}")
    run("marts_job", first.isoformat(), last.isoformat())


def _page(day: date, reports) -> str:
    return (reports / f"trending-{day.isoformat()}.html").read_text()


# -- (a) today, then last week backfilled with today's stars ------------------------------------------

def test_a_backfill_after_today_is_marked_late_and_no_gain_is_measured_from_it(
        resources, instance, engine, fake_github, monkeypatch, tmp_path):
    reports = tmp_path / "reports"
    monkeypatch.setenv("TRENDER_REPORT_DIR", str(reports))
    monkeypatch.setenv("TRENDER_NOW", _at(DAY, 15))
    _run(resources, instance, DAY)
    _set_stars(fake_github, {repo_id: n + 540 for repo_id, n in _stars(fake_github).items()})  # hours later
    monkeypatch.setenv("TRENDER_NOW", _at(DAY, 20))
    backfilled = [DAY - timedelta(days=k) for k in range(5, 0, -1)]
    _backfill(resources, instance, backfilled[0], backfilled[-1])

    # no gain, velocity or rank is measured from (or at) a late snapshot: nothing negative, nothing at all
    rising = rows(engine, "select snapshot_date, language, repo_id, rising_rank, stars_gained, baseline_date,"
                          " stars_per_day from analytics_rising_by_day")
    assert rising and all(r["stars_gained"] is None and r["rising_rank"] is None and r["baseline_date"] is None
                          and r["stars_per_day"] is None for r in rising), [r for r in rising if r["stars_gained"]]
    history = rows(engine, "select snapshot_date, star_velocity, star_velocity_7d from analytics_repo_history")
    assert history and all(h["star_velocity"] is None and h["star_velocity_7d"] is None for h in history)

    # the backfilled days are marked late, in the facts and in every view that shows a gain
    observed = rows(engine, "select snapshot_date, bool_and(observed_late) as all_late,"
                            " bool_or(observed_late) as any_late from fact_repo_snapshots group by 1 order by 1")
    assert [(r["snapshot_date"], r["all_late"], r["any_late"]) for r in observed] == [
        *((day, True, True) for day in backfilled), (DAY, False, False)]
    assert rows(engine, "select distinct (observed_at at time zone 'UTC')::date as d from fact_repo_snapshots_base"
                ) == [{"d": DAY}]
    assert {r["observed_late"] for r in rows(engine, "select observed_late from analytics_rising_by_day"
                                              " where snapshot_date < :d", d=DAY)} == {True}
    assert {r["observed_late"] for r in rows(engine, "select observed_late from analytics_repo_history"
                                              " where snapshot_date = :d", d=DAY)} == {False}
    now = rows(engine, "select star_velocity, observed_late from analytics_trending_now")
    assert now and all(n["star_velocity"] is None and not n["observed_late"] for n in now)

    # the page of D, rendered again after the backfill: no negative rise, and a line on what was left out
    assert dg.materialize([trending_report], partition_key=DAY.isoformat(), resources=resources,
                          instance=instance).success
    page = _page(DAY, reports)
    rising_section = page[page.index('class="rising"'):]
    assert "<tbody>" not in rising_section and "−" not in rising_section and not re.search(r">-\d", rising_section)
    assert "observed after their day" in rising_section
    for category in LANGUAGES:
        assert f'data-category="{category}" data-late="' in rising_section
    # a backfilled day's own page: its cards say their stars were observed later
    late_page = _page(backfilled[-1], reports)
    assert "observed later" in late_page and "/day" not in late_page
    assert "fetched after their day" in late_page


# -- (b) days observed on their day --------------------------------------------------------------------

def growth(repo_id: int) -> int:
    return 2 + repo_id % 5


def _present(engine, day: date) -> set[tuple[str, int]]:
    return {(r["language"], r["repo_id"]) for r in rows(
        engine, "select language, repo_id from fact_repo_snapshots where snapshot_date = :d", d=day)}


def test_b_on_day_snapshots_give_the_right_gains_and_a_late_refetch_among_them_is_skipped(
        resources, instance, engine, fake_github, monkeypatch, tmp_path):
    monkeypatch.setenv("TRENDER_REPORT_DIR", str(tmp_path / "reports"))
    base = _stars(fake_github)
    days = [DAY - timedelta(days=k) for k in (2, 1, 0)]
    for day in days:  # each day fetched on that day, the fake's stars as of that day
        _set_stars(fake_github, {i: n - growth(i) * (DAY - day).days for i, n in base.items()})
        monkeypatch.setenv("TRENDER_NOW", _at(day, 14))
        _run(resources, instance, day)

    rising = rows(engine, "select language, repo_id, stars_gained, days_measured, stars_per_day, baseline_date"
                          " from analytics_rising where stars_gained is not null")
    assert {(r["language"], r["repo_id"]) for r in rising} == _present(engine, DAY) & (
        _present(engine, days[0]) | _present(engine, days[1]))
    assert any(r["days_measured"] == 2 for r in rising)
    for r in rising:  # from each repository's first snapshot of the three
        assert r["stars_gained"] == growth(r["repo_id"]) * r["days_measured"]
        assert (r["language"], r["repo_id"]) in _present(engine, r["baseline_date"])
    velocity = rows(engine, "select repo_id, snapshot_date, star_velocity from analytics_repo_history"
                            " where star_velocity is not null")
    assert {v["snapshot_date"] for v in velocity} == set(days[1:])
    assert all(v["star_velocity"] == growth(v["repo_id"]) for v in velocity)

    # D-1 fetched again on D, with D's stars (a refetch after the day): it is marked late and skipped,
    # so D is measured from D-2 again, and nothing goes negative
    _set_stars(fake_github, base)
    monkeypatch.setenv("TRENDER_NOW", _at(DAY, 18))
    _run(resources, instance, days[1], refetch=True)
    on_d = rows(engine, "select repo_id, star_velocity from analytics_repo_history where snapshot_date = :d"
                        " and star_velocity is not null", d=DAY)
    assert {v["repo_id"] for v in on_d} == {i for _, i in _present(engine, DAY) & _present(engine, days[0])}
    assert all(v["star_velocity"] == growth(v["repo_id"]) for v in on_d)
    assert rows(engine, "select count(*) as n from analytics_repo_history where snapshot_date = :d"
                        " and star_velocity is not null", d=days[1]) == [{"n": 0}]
    rising_d = rows(engine, "select repo_id, stars_gained, baseline_date from analytics_rising_by_day"
                            " where snapshot_date = :d and stars_gained is not null", d=DAY)
    assert rising_d and all((r["stars_gained"], r["baseline_date"]) == (2 * growth(r["repo_id"]), days[0])
                            for r in rising_d)
    assert rows(engine, "select count(*) as n from analytics_rising_by_day where stars_gained < 0"
                        " or baseline_date = :d", d=days[1]) == [{"n": 0}]
    late = rows(engine, "select distinct snapshot_date, observed_late from fact_repo_snapshots order by 1")
    assert [(r["snapshot_date"], r["observed_late"]) for r in late] == [
        (days[0], False), (days[1], True), (DAY, False)]


# -- (c) new entrants per category ------------------------------------------------------------------------

def _fact(conn, day: date, language: str, repo_id: int) -> None:
    conn.execute(sa.text(
        "insert into fact_repo_snapshots_base (snapshot_date, language, repo_id, repo_full_name, stars, forks,"
        " open_issues, age_days, recency_score, normalized_stars, momentum_score, rank_overall, rank_in_language)"
        " values (:d, :l, :i, 'o/r', 10, 0, 0, 1, 1, 1, 0.5, 1, 1)"), {"d": day, "l": language, "i": repo_id})


def test_c_new_entrants_compare_each_category_with_its_own_previous_snapshot(engine):
    """python is snapshotted on days 1 and 3, go on days 1, 2 and 3: python's day 3 compares with its
    day 1 (one new repository), not with day 2, when python had no snapshot at all."""
    d1, d2, d3 = (DAY - timedelta(days=k) for k in (2, 1, 0))
    with engine.begin() as conn:
        for repo_id in (1, 2, 3, 4, 5):
            conn.execute(sa.text(
                "insert into dim_repositories (repo_id, repo_full_name, attributes_hash, valid_from, is_current)"
                " values (:i, 'o/r', 'h', :since, true)"), {"i": repo_id, "since": d1})
        for day, language, repo_ids in [(d1, "python", (1, 2)), (d3, "python", (1, 2, 3)),
                                        (d1, "go", (4,)), (d2, "go", (4,)), (d3, "go", (4, 5))]:
            for repo_id in repo_ids:
                _fact(conn, day, language, repo_id)
    trends = rows(engine, "select language, snapshot_date, repositories, new_entrants from analytics_language_trends"
                          " order by language, snapshot_date")
    assert [(t["language"], t["snapshot_date"], t["repositories"], t["new_entrants"]) for t in trends] == [
        ("go", d1, 1, 1), ("go", d2, 1, 0), ("go", d3, 2, 1),
        ("python", d1, 2, 2), ("python", d3, 3, 1),
    ]


# -- the migration keeps the stored days --------------------------------------------------------------

def test_migration_marks_stored_days_from_when_they_were_fetched(database_url):
    """Days stored before 0012: each fact's observation comes from its staged (else raw) fetch time; a
    fact whose fetch retention deleted is on its day if it was loaded on its day, else marked late
    (nothing shows it was observed on its day)."""
    from trender_assets_tests.e2e_support import fresh_database

    on_day, backfilled, expired_on_day, expired_late = (DAY - timedelta(days=k) for k in (2, 3, 10, 12))
    with fresh_database(database_url, "trender_observed") as url:
        backend = get_backend(url)
        try:
            older = read_migrations(str(SQL_DIR)).filter(lambda m: m.id < "0012")
            backend.apply_migrations(backend.to_apply(older))
        finally:
            backend.connection.close()
        engine = sa.create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(
                    "insert into dim_repositories (repo_id, repo_full_name, attributes_hash, valid_from, is_current)"
                    " values (1, 'o/one', 'h', :d, true), (2, 'o/two', 'h', :d, true)"), {"d": expired_late})
                stored = [  # day, repo, fetched (None: retention deleted raw and staging), loaded
                    (on_day, 1, _at(on_day, 14), _at(on_day, 14)),
                    (backfilled, 1, _at(DAY, 9), _at(DAY, 9)),
                    (backfilled, 2, _at(backfilled, 23), _at(DAY, 9)),  # loaded later, fetched on its day
                    (expired_on_day, 1, None, _at(expired_on_day, 14)),
                    (expired_late, 1, None, _at(expired_late + timedelta(days=2), 14)),
                ]
                for day, repo_id, fetched, loaded in stored:
                    _fact(conn, day, "python", repo_id)
                    conn.execute(sa.text("update fact_repo_snapshots_base set loaded_at = :t"
                                         " where snapshot_date = :d and repo_id = :i"),
                                 {"t": loaded, "d": day, "i": repo_id})
                    if fetched and repo_id == 1:  # staged, and raw
                        conn.execute(sa.text(
                            "insert into stg_repos_validated (snapshot_date, language, repo_id, repo_full_name,"
                            " owner_login, repo_name, stars, created_at, fetched_at)"
                            " values (:d, 'python', :i, 'o/one', 'o', 'one', 10, :d, :t)"),
                            {"d": day, "i": repo_id, "t": fetched})
                    if fetched:
                        conn.execute(sa.text(
                            "insert into raw_github_repos (snapshot_date, language, search_rank, repo_id,"
                            " repo_full_name, api_response, fetched_at) values (:d, 'python', :i, :i, 'o/r',"
                            " '{}'::jsonb, :t)"), {"d": day, "i": repo_id, "t": fetched})
            assert "0012_observed" in apply_migrations(engine)
            found = rows(engine, "select snapshot_date, repo_id, observed_late, observed_at"
                                 " from fact_repo_snapshots_base order by 1, 2")
            assert [(f["snapshot_date"], f["repo_id"], f["observed_late"], f["observed_at"]) for f in found] == [
                (expired_late, 1, True, None),
                (expired_on_day, 1, False, None),
                (backfilled, 1, True, datetime.fromisoformat(_at(DAY, 9))),
                (backfilled, 2, False, datetime.fromisoformat(_at(backfilled, 23))),
                (on_day, 1, False, datetime.fromisoformat(_at(on_day, 14))),
            ]
            assert len(rows(engine, "select * from fact_repo_snapshots")) == len(stored)
            # the stored late day is no baseline: on_day's gain is measured from nothing but expired_on_day's
            # window (more than 7 days back), so it has none
            assert rows(engine, "select stars_gained from analytics_rising_by_day where snapshot_date = :d",
                        d=on_day) == [{"stars_gained": None}]
        finally:
            engine.dispose()


@pytest.mark.parametrize("fetched, late", [
    ("2026-11-20T23:59:59+00:00", False),
    ("2026-11-21T00:00:00+00:00", True),
    ("2026-11-21T09:00:00+14:00", False),  # 19:00 on the 20th in UTC
    ("2026-11-20T20:00:00-12:00", True),   # 08:00 on the 21st in UTC
])
def test_late_is_the_fetch_s_utc_date_after_the_snapshot_day(fetched, late):
    from trender_assets.logic.ranking import observed_late

    assert observed_late(DAY, datetime.fromisoformat(fetched)) is late
    assert observed_late(DAY, datetime.fromisoformat(fetched).astimezone(timezone.utc)) is late
