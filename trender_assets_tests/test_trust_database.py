"""What the warehouse's own PostgreSQL settings must not change: the database's timezone never moves a
derived date, and a role that may not create tables is told which privilege it lacks."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa

from trender_assets.warehouse import migrations
from trender_assets.warehouse.engine import normalize_url, shared_engine
from trender_assets_tests import scenario
from trender_assets_tests.e2e_support import fresh_database
from trender_assets_tests.fake_github import FakeGitHub, FakeRepo
from trender_assets_tests.conftest import make_resources
from trender_assets_tests.helpers import materialize_day, trender

DAY = scenario.DAY


def _at(days_before: int, clock: str) -> str:
    return f"{DAY - timedelta(days=days_before)}T{clock}Z"


# Created near a UTC midnight, so a session at +14:00 or -12:00 sees another calendar day.
# UTC: 501 and 502 are both 20 days old and tie (501 first, by id); +14 makes 502 younger, -12 makes 501 older.
NEAR_MIDNIGHT = [
    FakeRepo(501, "early/morning", "Python", 1000, _at(20, "00:30:00"), _at(1, "12:00:00")),
    FakeRepo(502, "late/evening", "Python", 1000, _at(20, "23:30:00"), _at(1, "12:00:00")),
    FakeRepo(503, "anchor/most-starred", "Python", 2000, _at(5, "12:00:00"), _at(1, "12:00:00")),
    FakeRepo(504, "same/day", "Python", 300, _at(0, "00:10:00"), _at(0, "01:00:00")),
    FakeRepo(505, "yester/day", "Python", 400, _at(1, "10:30:00"), _at(0, "01:00:00")),
]
UTC_AGES = {501: 20, 502: 20, 503: 5, 504: 0, 505: 1}

FACTS = ("select repo_id, age_days, recency_score, normalized_stars, momentum_score, rank_overall,"
         " rank_in_language from fact_repo_snapshots where snapshot_date = :d order by repo_id")
OBSERVATIONS = "select repo_id, attributes from dim_repository_observations where snapshot_date = :d order by repo_id"


@pytest.fixture(scope="module")
def near_midnight_github():
    with FakeGitHub(token=scenario.TOKEN) as fake:
        for repo in NEAR_MIDNIGHT:
            fake.add_repo(repo)
        yield fake


def day_in_zone(server_url: str, fake: FakeGitHub, zone: str) -> dict[str, list]:
    """The day loaded into a new database whose default timezone is ``zone``; its facts and observations."""
    with fresh_database(server_url, "trender_tz") as url, dg.DagsterInstance.ephemeral() as instance, \
            pytest.MonkeyPatch.context() as env:
        env.setenv("TRENDER_NOW", scenario.NOW)
        admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE \"{normalize_url(url).database}\" SET timezone = '{zone}'"))
        admin.dispose()
        try:
            results = materialize_day(make_resources(fake, url, pace_searches=False), instance, DAY,
                                      languages=["python"])
            assert all(r.success for r in results)
        finally:
            shared_engine(url).dispose()
        reader = sa.create_engine(normalize_url(url))
        with reader.connect() as conn:
            assert conn.execute(sa.text("show timezone")).scalar_one() == zone  # the database's own setting
            found = {"facts": [tuple(r) for r in conn.execute(sa.text(FACTS), {"d": DAY})],
                     "observations": [tuple(r) for r in conn.execute(sa.text(OBSERVATIONS), {"d": DAY})]}
        reader.dispose()
        return found


@pytest.fixture(scope="module")
def utc_day(database_url, near_midnight_github) -> dict[str, list]:
    return day_in_zone(database_url, near_midnight_github, "UTC")


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12"])  # +14:00 and -12:00
def test_the_database_timezone_changes_no_fact(database_url, near_midnight_github, utc_day, zone):
    # the UTC day itself: ages are counted from UTC calendar dates, and the tie is broken by id
    assert {row[0]: row[1] for row in utc_day["facts"]} == UTC_AGES
    ranks = {row[0]: row[6] for row in utc_day["facts"]}
    assert ranks[501] < ranks[502]

    assert day_in_zone(database_url, near_midnight_github, zone) == utc_day


def test_every_warehouse_session_opens_in_utc(database_url, monkeypatch):
    """The pipeline's engine and the migrations' connection, against a database and a role at -12:00
    and a client whose PGTZ (which outranks a startup option) says +14:00."""
    with fresh_database(database_url, "trender_tz") as url:
        name = normalize_url(url).database
        admin = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET timezone = 'Etc/GMT+12'"))
            conn.execute(sa.text(f"ALTER ROLE CURRENT_USER IN DATABASE \"{name}\" SET timezone = 'Etc/GMT+12'"))
        admin.dispose()
        monkeypatch.setenv("PGTZ", "Pacific/Kiritimati")
        late = "select '2026-11-19T23:30:00Z'::timestamptz::date::text, current_setting('timezone')"
        engine = shared_engine(url)
        try:
            with engine.connect() as conn:
                assert tuple(conn.execute(sa.text(late)).one()) == ("2026-11-19", "UTC")
        finally:
            engine.dispose()
        backend = migrations._backend(normalize_url(url))
        try:
            assert tuple(backend.execute(late).fetchone()) == ("2026-11-19", "UTC")
        finally:
            backend.connection.close()


# --------------------------------------------------------------------------------------------
# a role without CREATE on the schema


def test_a_role_that_may_not_create_in_public_is_told_which_privilege(cli_env, database_url):
    role = f"trender_reader_{uuid.uuid4().hex[:8]}"
    with fresh_database(database_url, "trender_noschema") as url:
        owner = sa.create_engine(normalize_url(url), isolation_level="AUTOCOMMIT")
        try:
            with owner.connect() as conn:
                conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
                # PostgreSQL 15's default for non-owners, made explicit for older servers
                conn.execute(sa.text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
            as_role = normalize_url(url).set(username=role, password=None).render_as_string(hide_password=False)
            result = trender({**cli_env, "DATABASE_URL": as_role}, "run", "--language", "go", timeout=120)
        finally:
            with owner.connect() as conn:
                conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity where usename = :r"),
                             {"r": role})
            owner.dispose()
    try:
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and "yoyo_lock" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "CREATE" in line and "schema 'public'" in line, line
        assert f"GRANT CREATE ON SCHEMA public TO {role}" in line, line
        assert result.stdout == ""
    finally:
        drop = sa.create_engine(normalize_url(database_url), isolation_level="AUTOCOMMIT")
        with drop.connect() as conn:
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        drop.dispose()
