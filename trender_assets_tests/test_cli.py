"""The ``trender`` command as an operator runs it: summaries, exit codes, one-line errors."""

from __future__ import annotations

import dagster as dg
import pytest

from trender_assets_tests import scenario
from trender_assets_tests.helpers import ids_by_language, rows, trender

DAY = scenario.DAY.isoformat()


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("trender: error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0]


def test_run_materializes_the_day_and_summarizes_it(cli_env, engine, fake_github):
    result = trender(cli_env, "run", "--date", DAY)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for language in ("python", "typescript", "go", "render"):
        assert any(line.startswith("ok") and "raw_github_repos" in line and f"{DAY}|{language}" in line
                   for line in lines)
    assert any("stg_repos_validated" in line and f"{DAY}|python" in line and "1 rejected" in line for line in lines)
    assert any(line.startswith("ok") and "fact_repo_snapshots" in line and "14 rows" in line for line in lines)
    assert any(line.startswith("pass") and "momentum_score" in line for line in lines)
    assert ids_by_language(engine, "fact_repo_snapshots", scenario.DAY) == scenario.EXPECTED

    # the runs are in the instance of DAGSTER_HOME, so the UI shows them
    with dg.DagsterInstance.from_config(cli_env["DAGSTER_HOME"]) as instance:
        assert instance.get_materialized_partitions(dg.AssetKey("fact_repo_snapshots")) == {DAY}
        assert len(instance.get_run_records()) == 2  # one ingest run of the four languages + one marts run

    # a second run re-derives from stored raw data without calling GitHub
    before = len(fake_github.requests)
    again = trender(cli_env, "run", "--date", DAY)
    assert again.returncode == 0
    assert "reused stored raw data" in again.stdout
    assert len(fake_github.requests) == before


def test_token_never_reaches_output_or_warehouse(cli_env, engine):
    result = trender(cli_env, "run", "--date", DAY, "--verbose")
    assert result.returncode == 0
    assert scenario.TOKEN not in result.stdout + result.stderr
    dump = rows(engine, "select api_response::text as body from raw_github_repos")
    assert all(scenario.TOKEN not in r["body"] for r in dump)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["run", "--date", "2026-13-01"], ["invalid --date '2026-13-01'", "YYYY-MM-DD"]),
        (["run", "--date", "yesterday"], ["invalid --date"]),
        (["run", "--date", "2099-01-01"], ["outside the partitions"]),
        (["run", "--language", "cobol"], ["unknown language 'cobol'", "python, typescript, go, render"]),
        (["backfill", "--start", "2026-11-10", "--end", "2026-11-01"], ["--end 2026-11-01 is before --start"]),
        (["run", "--bogus"], ["No such option"]),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(cli_env, args, fragments):
    result = trender(cli_env, *args)
    assert result.returncode == 2
    _assert_one_line_error(result, *fragments)


def test_unreachable_database(cli_env):
    env = {**cli_env, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    result = trender(env, "run", "--date", DAY)
    assert result.returncode == 1
    _assert_one_line_error(result, "cannot connect to the warehouse database", "127.0.0.1:1")


def test_database_url_that_is_not_postgres(cli_env):
    result = trender({**cli_env, "DATABASE_URL": "sqlite:///x.db"}, "run", "--date", DAY)
    _assert_one_line_error(result, "must name a PostgreSQL database")


def test_rejected_token(cli_env, fake_github):
    wrong = "ghp_WRONGtokenSENTINEL"
    result = trender({**cli_env, "GITHUB_TOKEN": wrong}, "run", "--date", DAY)
    assert result.returncode == 1
    _assert_one_line_error(result, "GitHub rejected the token", "GITHUB_TOKEN")
    assert wrong not in result.stdout + result.stderr
    assert fake_github.count("/search") == 0  # failed before any real work


def test_unreachable_github(cli_env):
    result = trender({**cli_env, "GITHUB_API_URL": "http://127.0.0.1:1"}, "run", "--date", DAY)
    assert result.returncode == 1
    _assert_one_line_error(result, "GitHub at http://127.0.0.1:1", "did not answer")


def test_failure_mid_run_names_the_partition_and_exits_1(cli_env, fake_github, engine):
    fake_github.fail_next("/search/repositories", 401, count=1000,
                          body={"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
    result = trender(cli_env, "run", "--date", DAY, "--language", "go")
    assert result.returncode == 1
    fail = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert any(f"{DAY}|go" in line and "rejected the token" in line for line in fail)
    assert any("marts_job" in line and "ingestion failed" in line for line in fail)
    assert "Traceback" not in result.stdout + result.stderr
    # the process ends with os._exit: the summary, said last, still reaches the pipe
    assert result.stderr.splitlines()[-1] == "trender: 1 of 1 day(s) failed; see the lines marked FAIL"
    assert rows(engine, "select count(*) as n from raw_github_repos") == [{"n": 0}]


def test_dev_mode_fetches_python_only_with_dev_limit(cli_env, engine, fake_github):
    env = {**cli_env, "DEV_MODE": "true", "DEV_REPO_LIMIT": "2"}
    result = trender(env, "run", "--date", DAY)
    assert result.returncode == 0, result.stdout + result.stderr
    staged = ids_by_language(engine, "stg_repos_validated", scenario.DAY)
    assert staged == {"python": {102, 101}}  # the two most starred in the window
    assert sum("skip" in line.split()[0] for line in result.stdout.splitlines()) == 3
    assert fake_github.count("/search/code") == 0


def test_without_a_token_render_is_skipped_with_a_notice(cli_env, engine, fake_github):
    env = {k: v for k, v in cli_env.items() if k != "GITHUB_TOKEN"}
    fake_github.token = None
    result = trender(env, "run", "--date", DAY)
    assert result.returncode == 0, result.stdout + result.stderr
    notices = [line for line in result.stderr.splitlines() if line.startswith("trender: notice:")]
    assert len(notices) == 1 and "GITHUB_TOKEN" in notices[0]
    assert any(line.startswith("skip") and f"{DAY}|render" in line for line in result.stdout.splitlines())
    staged = ids_by_language(engine, "stg_repos_validated", scenario.DAY)
    assert "render" not in staged
    assert all(len(ids) <= 5 for ids in staged.values())  # dev-sized within anonymous limits
    assert fake_github.count("/search/code") == 0
    assert all("authorization" not in r.headers for r in fake_github.requests)


def test_backfill_runs_each_day(cli_env, engine):
    result = trender(cli_env, "backfill", "--start", "2026-11-18", "--end", "2026-11-20")
    assert result.returncode == 0, result.stdout + result.stderr
    days = rows(engine, "select distinct snapshot_date::text as d from fact_repo_snapshots order by 1")
    assert [d["d"] for d in days] == ["2026-11-18", "2026-11-19", "2026-11-20"]
    assert "stars_as_of" not in result.stdout  # the summary stays short


def test_retention_dry_run_then_real(cli_env, engine):
    assert trender(cli_env, "run", "--date", DAY).returncode == 0
    dry = trender(cli_env, "retention", "--dry-run", "--as-of", "2026-12-01")
    assert dry.returncode == 0, dry.stderr
    assert "would delete" in dry.stdout and "raw_github_repos" in dry.stdout
    assert rows(engine, "select count(*) as n from raw_github_repos")[0]["n"] > 0
    real = trender(cli_env, "retention", "--as-of", "2026-12-01")
    assert real.returncode == 0
    assert rows(engine, "select count(*) as n from raw_github_repos")[0]["n"] == 0
    assert rows(engine, "select count(*) as n from fact_repo_snapshots")[0]["n"] > 0  # facts keep 30 days


def test_auth_check_reports_quota_per_credential(cli_env, fake_github):
    fake_github.accepted_tokens.add("ghp_SECONDsentinel")
    env = {**cli_env, "GITHUB_TOKENS": "ghp_SECONDsentinel"}
    result = trender(env, "auth", "check")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all("core 5000/5000" in line and "code_search" in line for line in lines)
    assert scenario.TOKEN not in result.stdout and "ghp_SECONDsentinel" not in result.stdout


def test_oauth_credentials_are_stored_encrypted_and_used(cli_env, fake_github, engine):
    from cryptography.fernet import Fernet

    env = {**cli_env, "GITHUB_OAUTH_CLIENT_ID": "Iv1.cli", "GITHUB_OAUTH_CLIENT_SECRET": "shh",
           "GITHUB_OAUTH_URL": fake_github.url, "TRENDER_ENCRYPTION_KEY": Fernet.generate_key().decode(),
           "GITHUB_OAUTH_ACCESS_TOKEN": "ghu_SEEDsentinel", "GITHUB_OAUTH_REFRESH_TOKEN": "ghr_SEEDsentinel"}
    env.pop("GITHUB_TOKEN")
    stored = trender(env, "auth", "store-oauth", "--expires-in", "0")  # already expired: first use refreshes
    assert stored.returncode == 0, stored.stderr
    fake_github.configure_oauth("Iv1.cli", "shh", "ghr_SEEDsentinel")
    result = trender(env, "run", "--date", DAY, "--language", "go")
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake_github.count("/login/oauth/access_token") == 1
    assert any(r.headers.get("authorization") == "Bearer ghu_issued1" for r in fake_github.requests)
    dump = str(rows(engine, "select * from github_oauth_credentials"))
    assert "sentinel" not in dump and "issued" not in dump
    missing = trender({k: v for k, v in env.items() if k != "TRENDER_ENCRYPTION_KEY"}, "auth", "store-oauth")
    assert missing.returncode == 2 and "TRENDER_ENCRYPTION_KEY" in missing.stderr
