"""Categories from configuration (trender.yaml / TRENDER_CONFIG) and the rising ranking.

The code location builds its partitions from the configuration when it loads, so a configuration
other than the default is exercised as an operator meets it: through the ``trender`` command (and a
plain import of the definitions) in processes of their own, with TRENDER_CONFIG set.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from trender_assets.categories import DEFAULT, Category, parse
from trender_assets.errors import ConfigurationError
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeRepo
from trender_assets_tests.helpers import rows, trender

DAY = scenario.DAY

CONFIG = """\
categories:
  rust: {language: Rust}
  llm: {topic: llm, label: LLM}
  team: {watchlist: [watched/steady, watched/oldname, watched/gone]}
"""


def _ts(days_before: int) -> str:
    return f"{(DAY - timedelta(days=days_before)).isoformat()}T12:00:00Z"


# -- the file ---------------------------------------------------------------------------------------

def test_the_shipped_file_is_the_default():
    from trender_assets_tests.conftest import PROJECT_ROOT

    assert parse((PROJECT_ROOT / "trender.yaml").read_text()) == DEFAULT
    assert [c.key for c in DEFAULT] == ["python", "typescript", "go", "render"]


def test_each_kind_parses():
    found = parse(CONFIG + "  fly: {root_file: fly.toml}\n")
    assert found == (
        Category("rust", "language", language="Rust"),
        Category("llm", "topic", topic="llm", label="LLM"),
        Category("team", "watchlist", watchlist=("watched/steady", "watched/oldname", "watched/gone")),
        Category("fly", "root_file", root_file="fly.toml"),
    )
    assert [c.keeps_all for c in found] == [False, False, True, True]
    assert [c.needs_token for c in found] == [False, False, False, True]


@pytest.mark.parametrize("text, fragment", [
    ("categories:\n  rust: {language: Rust, topic: llm}\n", "'rust': needs exactly one of"),
    ("categories:\n  Rust: {language: Rust}\n", "'Rust': a key is lowercase"),
    ("categories:\n  llm: {topic: 'LLM tools'}\n", "is not a GitHub topic"),
    ("categories:\n  fly: {root_file: config/fly.toml}\n", "is not a file name"),
    ("categories:\n  team: {watchlist: [nobody]}\n", "'nobody' in the watchlist is not a GitHub owner/name"),
    ("categories:\n  team: {watchlist: []}\n", "watchlist must be a non-empty list"),
    ("categories:\n  rust: {langauge: Rust}\n", "unknown field 'langauge'"),
    ("categories: [rust]\n", "categories must be a non-empty mapping"),
    ("rust: {language: Rust}\n", "one top-level key, categories"),
    ("categories:\n  rust: {language: Rust\n", "not valid YAML"),
    # keys and watchlist entries that could change a URL or a partition key
    ("categories:\n  'a?b': {language: Rust}\n", "'a?b': a key is lowercase"),
    ("categories:\n  '..': {language: Rust}\n", "'..': a key is lowercase"),
    ("categories:\n  'a/b': {language: Rust}\n", "'a/b': a key is lowercase"),
    ("categories:\n  'a%2Fb': {language: Rust}\n", "'a%2Fb': a key is lowercase"),
    ("categories:\n  ' rust': {language: Rust}\n", "' rust': a key is lowercase"),
    ('categories:\n  "r\\ud800": {language: Rust}\n', "a key is lowercase"),
    ("categories:\n  null: {language: Rust}\n", "category keys must be text"),
    ("categories:\n  1: {language: Rust}\n", "category keys must be text"),
    ("categories:\n  '" + "k" * 1000 + "': {language: Rust}\n", "...: a key is lowercase"),
    ("categories:\n  t: {watchlist: ['a/b?x=1']}\n", "'a/b?x=1' in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['a/..']}\n", "'a/..' in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['a/../b']}\n", "'a/../b' in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['../a/b']}\n", "'../a/b' in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['a/b%2Fc']}\n", "'a/b%2Fc' in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['a /b']}\n", "'a /b' in the watchlist is not"),
    ('categories:\n  t: {watchlist: ["a/b\\ud800"]}\n', "in the watchlist is not"),
    ("categories:\n  t: {watchlist: [null]}\n", "None in the watchlist is not"),
    ("categories:\n  t: {watchlist: ['o/" + "n" * 5000 + "']}\n", "... in the watchlist is not"),
    ("categories:\n  t: {watchlist: [" + ", ".join(f"o/r{i}" for i in range(1001)) + "]}\n",
     "the watchlist has 1001 entries, at most 1000"),
    ("categories:\n  t: {watchlist: null}\n", "watchlist must be a non-empty list"),
    ("categories:\n  t: {watchlist: a/b}\n", "watchlist must be a non-empty list"),
    # null values, wrong shapes, repeated keys
    ("categories:\n  t: null\n", "'t': expected a mapping"),
    ("categories:\n  t: {language: null}\n", "language must be non-empty text"),
    ("categories:\n  t: {language: Rust, label: null}\n", "label must be one line of text"),
    ('categories:\n  t: {language: Rust, label: "a\\nb"}\n', "label must be one line of text"),
    ('categories:\n  t: {language: "R\\x00"}\n', "is not a GitHub language name"),
    ('categories:\n  t: {language: "R\\ud800"}\n', "is not a GitHub language name"),
    ("categories: null\n", "categories must be a non-empty mapping"),
    ("categories: {}\n", "categories must be a non-empty mapping"),
    ("- categories\n", "one top-level key, categories"),
    ("just text\n", "one top-level key, categories"),
    ("", "one top-level key, categories"),
    ("categories:\n  rust: {language: Rust}\n  rust: {language: Go}\n", "duplicate key 'rust'"),
    ("categories:\n  rust: {language: Rust, language: Go}\n", "duplicate key 'language'"),
    ("categories:\n  go: {language: Go}\ncategories:\n  rust: {language: Rust}\n", "duplicate key 'categories'"),
    ("categories: !!python/object:os.system {}\n", "not valid YAML"),
], ids=lambda value: value[-60:])
def test_a_bad_entry_is_one_line(text, fragment):
    with pytest.raises(ConfigurationError) as caught:
        parse(text, "trender.yaml")
    message = str(caught.value)
    assert fragment in message and message.startswith("trender.yaml") and "\n" not in message
    assert len(message) < 300 and message.isprintable()


def test_a_watchlist_keeps_each_repository_once_as_first_written():
    (team,) = parse("categories:\n  team: {watchlist: [Owner/Repo, ' owner/repo ', owner/other]}\n")
    assert team.watchlist == ("Owner/Repo", "owner/other")


def test_an_unreadable_file_is_one_line(tmp_path, monkeypatch):
    from trender_assets.categories import configured

    config = tmp_path / "trender.yaml"
    config.write_bytes(b"categories:\n  rust: {language: \xff\xfe}\n")
    monkeypatch.setenv("TRENDER_CONFIG", str(config))
    with pytest.raises(ConfigurationError, match=r"cannot be read: UnicodeDecodeError$"):
        configured()


def test_a_malformed_configuration_gives_one_line_and_exit_2(cli_env, tmp_path):
    config = tmp_path / "trender.yaml"
    config.write_text("categories:\n  rust: {language: Rust}\n  team: {watchlist: [not a repo]}\n")
    result = trender({**cli_env, "TRENDER_CONFIG": str(config)}, "run")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"trender: error: {config}: category 'team': 'not a repo' in the watchlist is not a GitHub owner/name"]

    missing = trender({**cli_env, "TRENDER_CONFIG": str(tmp_path / "nowhere.yaml")}, "backfill",
                      "--start", "2026-11-01", "--end", "2026-11-02")
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [f"trender: error: TRENDER_CONFIG names {tmp_path / 'nowhere.yaml'}, "
                                           "which is not a file"]

    # Dagster loading the code location (dagster dev, the code server) meets the same line
    loading = subprocess.run([sys.executable, "-c", "import trender_assets.definitions"],
                             env={**cli_env, "TRENDER_CONFIG": str(config)}, capture_output=True, text=True)
    assert loading.returncode != 0
    assert f"ConfigurationError: {config}: category 'team'" in loading.stderr


# -- discovery of each kind ------------------------------------------------------------------------

def _github(fake):
    from trender_assets.resources import GitHubResource

    return GitHubResource(token=scenario.TOKEN, api_url=fake.url, pace_searches=False, backoff_seconds=0.01)


def test_a_root_file_category_keeps_root_hits_of_its_file(fake_github):
    """As render's: code search for the file, only hits at the root, looked up by node id, young ones
    ranked by stars; the metadata is named after the category."""
    fake_github.add_code_search_decoy(FakeRepo(801, "fly/app", "Go", 70, _ts(30), _ts(1)), "fly.toml")
    fake_github.add_code_search_decoy(FakeRepo(802, "fly/big", None, 900, _ts(60), _ts(1)), "fly.toml")
    fake_github.add_code_search_decoy(FakeRepo(803, "fly/nested", "Go", 90, _ts(30), _ts(1)), "deploy/fly.toml")
    found = _github(fake_github).root_file_projects("fly.toml", "fly", DAY, 10)
    assert [p["id"] for p in found.items] == [802, 801]
    assert found.facts["fly_hits_total"] == 3 and found.facts["fly_root_repositories"] == 2


def test_a_topic_category_searches_the_topic(fake_github):
    fake_github.add_repo(FakeRepo(601, "agents/chain", None, 400, _ts(30), _ts(2), topics=["llm"]))
    found = _github(fake_github).topic_repositories("llm", DAY, 10)
    assert [p["id"] for p in found.items] == [102, 601]  # beta/pyllm (1,500 stars) is tagged llm too
    [search] = [r for r in fake_github.requests if r.path == "/search/repositories"]
    assert "topic:llm pushed:>=2026-10-21" in search.query["q"]


# -- a day and a backfill of configured categories ---------------------------------------------------

def _serve_categories(fake) -> dict[int, FakeRepo]:
    repos = [
        FakeRepo(501, "ferris/fast", "Rust", 800, _ts(20), _ts(1)),
        FakeRepo(502, "ferris/tiny", "Rust", 90, _ts(5), _ts(1)),
        FakeRepo(503, "ferris/ancient", "Rust", 9000, _ts(900), _ts(1)),  # too old for a search
        FakeRepo(601, "agents/chain", None, 400, _ts(30), _ts(2), topics=["llm", "agents"]),  # no language
        # the watchlist: an old repository no search would keep, one renamed since, one deleted
        FakeRepo(701, "watched/steady", "Python", 5000, _ts(800), _ts(1)),
        FakeRepo(702, "watched/oldname", None, 300, _ts(200), _ts(3)),
        FakeRepo(703, "watched/gone", "Go", 10, _ts(50), _ts(9), gone=True),
    ]
    for repo in repos:
        fake.add_repo(repo)
    fake.rename(702, "watched/newname")
    return {r.id: r for r in repos}


EXPECTED = {"rust": {501, 502}, "llm": {102, 601}, "team": {701, 702}}


def test_configured_categories_run_a_day_and_a_backfill(cli_env, engine, fake_github, tmp_path):
    served = _serve_categories(fake_github)
    config = tmp_path / "trender.yaml"
    config.write_text(CONFIG)
    env = {**cli_env, "TRENDER_CONFIG": str(config), "TRENDER_REPORT_DIR": str(tmp_path / "reports")}

    # partitions: the configuration's keys, in its order
    shown = subprocess.run([sys.executable, "-c", (
        "from trender_assets.partitions import date_language_partitions as p\n"
        "print(','.join(p.get_partitions_def_for_dimension('language').get_partition_keys()))")],
        env=env, capture_output=True, text=True)
    assert shown.stdout.strip() == "rust,llm,team", shown.stderr

    first, last = DAY - timedelta(days=2), DAY - timedelta(days=1)
    # run on the backfill's last day: that day is observed on its day, the one before it late
    backfill = trender({**env, "TRENDER_NOW": f"{last.isoformat()}T15:00:00Z"},
                       "backfill", "--start", first.isoformat(), "--end", last.isoformat())
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    for repo_id, gained in ((501, 60), (502, 5), (601, 30), (701, 100), (702, 0)):
        served[repo_id].stars += gained  # the day's stars, a day after the backfill fetched
    day = trender(env, "run", "--date", DAY.isoformat())
    assert day.returncode == 0, day.stdout + day.stderr

    for output in (backfill.stdout, day.stdout):
        team_lines = [line for line in output.splitlines() if "raw_github_repos" in line and "|team" in line]
        assert team_lines and all(
            "watched/oldname renamed to watched/newname" in line and "watched/gone not found" in line
            for line in team_lines), output
        assert "pass  momentum_score" in output
    for key in ("2026-11-18|rust", "2026-11-19|llm", "2026-11-20|team"):
        assert key in backfill.stdout + day.stdout

    for snapshot in (first, last, DAY):
        staged = rows(engine, "select language, repo_id, repo_full_name, github_language from stg_repos_validated"
                              " where snapshot_date = :d", d=snapshot)
        assert {lang: {r["repo_id"] for r in staged if r["language"] == lang} for lang in EXPECTED} == EXPECTED
        assert {r["repo_full_name"] for r in staged if r["repo_id"] == 702} == {"watched/newname"}
        facts = rows(engine, "select language, repo_id from fact_repo_snapshots where snapshot_date = :d", d=snapshot)
        assert {lang: {r["repo_id"] for r in facts if r["language"] == lang} for lang in EXPECTED} == EXPECTED
    assert not rows(engine, "select * from stg_repos_rejected")
    assert not rows(engine, "select * from raw_github_repos"
                            " where repo_id = 703 or language not in ('rust', 'llm', 'team')")

    trending = rows(engine, "select language, repo_id from analytics_trending_now")
    assert {r["language"] for r in trending} == set(EXPECTED)
    # measured from the last backfilled day: the first one's stars were fetched a day after it
    rising = rows(engine, "select language, rising_rank, repo_full_name, stars_gained, days_measured"
                          " from analytics_rising order by language, rising_rank, repo_full_name")
    assert rising == [
        {"language": "llm", "rising_rank": 1, "repo_full_name": "agents/chain", "stars_gained": 30, "days_measured": 1},
        {"language": "llm", "rising_rank": 2, "repo_full_name": "beta/pyllm", "stars_gained": 0, "days_measured": 1},
        {"language": "rust", "rising_rank": 1, "repo_full_name": "ferris/fast", "stars_gained": 60, "days_measured": 1},
        {"language": "rust", "rising_rank": 2, "repo_full_name": "ferris/tiny", "stars_gained": 5, "days_measured": 1},
        {"language": "team", "rising_rank": 1, "repo_full_name": "watched/steady", "stars_gained": 100,
         "days_measured": 1},
        {"language": "team", "rising_rank": 2, "repo_full_name": "watched/newname", "stars_gained": 0,
         "days_measured": 1},
    ]

    page = (tmp_path / "reports" / f"trending-{DAY.isoformat()}.html").read_text()
    for section in ('id="category-rust"', 'id="category-llm"', 'id="category-team"', 'id="rising"', "Rising this week",
                    'data-repo="watched/newname"', 'data-repo="agents/chain"'):
        assert section in page


# -- the rising view on a hand-built history -----------------------------------------------------------

HISTORY = {  # (category, repo_id): {days before D: stars}
    ("rust", 1): {7: 100, 3: 130, 0: 170},  # measured from D-7: +70 over 7 days
    ("rust", 2): {9: 50, 5: 60, 0: 130},    # nothing on D-7..D-6: from D-5, +70 over 5 days (a tie)
    ("rust", 3): {6: 10, 0: 40},            # +30 over 6 days
    ("rust", 4): {0: 500},                  # one snapshot: nothing to measure
    ("rust", 5): {10: 100, 0: 150},         # its previous snapshot is older than 7 days: not measured
    ("rust", 6): {1: 90, 0: 80},            # lost 10 stars in a day: ranks below every gain
    ("team", 1): {2: 120, 0: 170},          # the same repository in another category, measured there
}


def _load_history(engine) -> None:
    with engine.begin() as conn:
        for repo_id in {r for _, r in HISTORY}:
            conn.execute(sa.text(
                "insert into dim_repositories (repo_id, repo_full_name, attributes_hash, valid_from, is_current)"
                " values (:id, :name, 'h', :since, true)"), {"id": repo_id, "name": f"o/r{repo_id}",
                                                             "since": DAY - timedelta(days=30)})
        conn.execute(sa.text(
            "insert into fact_repo_snapshots_base (snapshot_date, language, repo_id, repo_full_name, stars, forks,"
            " open_issues, age_days, recency_score, normalized_stars, momentum_score, rank_overall,"
            " rank_in_language) values (:d, :l, :id, :name, :stars, 0, 0, 10, 1, 1, 1, 1, 1)"),
            [{"d": DAY - timedelta(days=before), "l": lang, "id": repo_id, "name": f"o/r{repo_id}", "stars": stars}
             for (lang, repo_id), days in HISTORY.items() for before, stars in days.items()])


def test_rising_ranks_stars_gained_from_the_nearest_snapshots(engine):
    _load_history(engine)
    found = rows(engine, "select language, rising_rank, repo_id, stars, baseline_date, baseline_stars,"
                         " stars_gained, days_measured, stars_per_day from analytics_rising")
    def d(days: int):
        return DAY - timedelta(days=days)

    assert [tuple(r.values()) for r in found] == [
        ("rust", 1, 1, 170, d(days=7), 100, 70, 7, 10.0),
        ("rust", 1, 2, 130, d(days=5), 60, 70, 5, 14.0),
        ("rust", 3, 3, 40, d(days=6), 10, 30, 6, 5.0),
        ("rust", 4, 6, 80, d(days=1), 90, -10, 1, -10.0),
        ("rust", None, 4, 500, None, None, None, None, None),
        ("rust", None, 5, 150, None, None, None, None, None),
        ("team", 1, 1, 170, d(days=2), 120, 50, 2, 25.0),
    ]
    assert all(r["snapshot_date"] == DAY for r in rows(engine, "select snapshot_date from analytics_rising"))
    # any earlier day, as the report of that day reads it: D-3 measures repository 1 from D-7
    earlier = rows(engine, "select rising_rank, stars_gained, days_measured from analytics_rising_by_day"
                           " where snapshot_date = :d and language = 'rust' and repo_id = 1", d=DAY - timedelta(days=3))
    assert earlier == [{"rising_rank": 1, "stars_gained": 30, "days_measured": 4}]


def test_the_report_shows_rising_for_every_category(engine):
    from trender_assets.report.page import render_report
    from trender_assets.report.rising import load_rising

    _load_history(engine)
    with engine.connect() as conn:
        rising = load_rising(conn, DAY, top=3)
    assert [(r.category, r.rising_rank, r.repo_id) for r in rising] == [
        ("rust", 1, 1), ("rust", 1, 2), ("rust", 3, 3), ("team", 1, 1)]
    page = render_report(DAY, [], [("rust", "Rust")], datetime(2026, 11, 20, tzinfo=timezone.utc), rising=rising)
    assert "Rising this week" in page and 'data-category="team"' in page and "+70" in page and "14.0" in page


GO_FACTS = ("select repo_id, stars, momentum_score, rank_in_language from fact_repo_snapshots"
            " where snapshot_date = :d and language = 'go' order by repo_id")


def test_removing_a_category_keeps_its_history_and_adding_one_keeps_the_rest(cli_env, engine, fake_github, tmp_path):
    """go is snapshotted under the default file, then the file drops go and adds rust: go is no
    longer fetched, its stored day stays in the facts, views and report, and rust joins the day."""
    _serve_categories(fake_github)
    env = {**cli_env, "TRENDER_REPORT_DIR": str(tmp_path / "reports")}
    before = trender(env, "run", "--date", DAY.isoformat(), "--language", "go")
    assert before.returncode == 0, before.stdout + before.stderr
    go_facts = rows(engine, GO_FACTS, d=DAY)
    assert go_facts

    config = tmp_path / "trender.yaml"
    config.write_text("categories:\n  rust: {language: Rust}\n")
    after = trender({**env, "TRENDER_CONFIG": str(config)}, "run", "--date", DAY.isoformat())
    assert after.returncode == 0, after.stdout + after.stderr
    assert "|go" not in after.stdout and "|rust" in after.stdout

    facts = rows(engine, "select language, repo_id from fact_repo_snapshots where snapshot_date = :d", d=DAY)
    assert {r["language"] for r in facts} == {"go", "rust"}
    assert rows(engine, GO_FACTS, d=DAY) == go_facts  # re-ranked overall with rust, the same within go
    assert {r["language"] for r in rows(engine, "select language from analytics_trending_now")} == {"go", "rust"}
    page = (tmp_path / "reports" / f"trending-{DAY.isoformat()}.html").read_text()
    assert 'id="category-rust"' in page and 'id="category-go"' in page
    assert trender({**env, "TRENDER_CONFIG": str(config)}, "run", "--language", "go").returncode == 2
