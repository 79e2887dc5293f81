"""Secrets stay home: credentials go to the API's own origin only, a URL's user and password are
never shown, and a credential that cannot be issued, renewed or sent is one line, never a
traceback or the secret.

GitHub is the fake over real HTTP on 127.0.0.1; "another origin" is a second fake on another port
that records every request reaching it. The user's view is the ``trender`` command: its exit code
and its single ``trender: error:`` line.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
from datetime import datetime, timezone

import pytest

from trender_assets.errors import ConfigurationError, GitHubError
from trender_assets.github import GitHubClient
from trender_assets.github.cache import WarehouseCache
from trender_assets.github.credentials import AppInstallationToken, OAuthTokenStore, OAuthUserToken, StaticToken
from trender_assets_tests import scenario
from trender_assets_tests.fake_github import FakeGitHub
from trender_assets_tests.helpers import rows, trender

DAY = scenario.DAY.isoformat()
DEAD = "http://127.0.0.1:1"  # nothing listens on port 1: connection refused at once
SECRET = "pw-SENTINELsecret"


def _one_line(result, code: int) -> str:
    """The command's single error line; asserts the exit code and that nothing else went wrong."""
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("trender: error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _client(fake_url: str, **kwargs) -> GitHubClient:
    kwargs.setdefault("credentials", [StaticToken(scenario.TOKEN)])
    return GitHubClient(api_url=fake_url, backoff_seconds=0.01, pace=False, max_attempts=2, **kwargs)


@pytest.fixture
def elsewhere():
    """Another origin (the same host, another port) that records what reaches it."""
    with FakeGitHub() as other:
        yield other


# -- credentials go to the API's own origin only --------------------------------------------------

SEARCHES = {
    "repositories": ("/search/repositories", lambda gh: gh.search_repositories("language:Python", 200)),
    "code": ("/search/code", lambda gh: gh.search_code("filename:render.yaml path:/", 200)),
}


@pytest.mark.parametrize("kind", SEARCHES)
def test_a_next_page_on_another_origin_is_refused_with_one_line(fake_github, elsewhere, kind):
    path, search = SEARCHES[kind]
    fake_github.fail_next(path, 200, headers={"link": f'<{elsewhere.url}{path}?q=x&page=2>; rel="next"'})
    gh = _client(fake_github.url)
    with pytest.raises(GitHubError) as raised:
        search(gh)
    gh.close()
    message = str(raised.value)
    assert "\n" not in message and scenario.TOKEN not in message
    assert f"another origin ({elsewhere.url})" in message
    assert elsewhere.requests == []  # nothing at all left for the other origin
    assert fake_github.count(path) == 1


def test_a_next_page_on_the_api_origin_is_followed(fake_github):
    path = "/search/repositories"
    fake_github.fail_next(path, 200, headers={"link": f'<{fake_github.url}{path}?q=stars:>0&page=2>; rel="next"'})
    gh = _client(fake_github.url)
    gh.search_repositories("language:Python", 200)
    gh.close()
    assert fake_github.count(path) == 2
    assert all(r.headers.get("authorization") == f"Bearer {scenario.TOKEN}" for r in fake_github.requests)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_transport_never_sends_authorization_to_another_origin(fake_github, elsewhere, method):
    """Defence in depth, under the search's own refusal: whatever asks (GraphQL, a README, a page),
    neither the token nor the API URL's user and password leave the API's origin."""
    gh = _client(_with_userinfo(fake_github.url))
    target = f"{elsewhere.url}/graphql" if method == "POST" else f"{elsewhere.url}/rate_limit"
    with contextlib.suppress(GitHubError):  # the other origin answers 401 to a GraphQL query without a token
        gh._transport.request(target, "a request elsewhere", method=method,
                              json_body={"query": "{ viewer { login } }"} if method == "POST" else None)
    gh.close()
    [request] = elsewhere.requests
    assert "authorization" not in request.headers
    assert scenario.TOKEN not in str(request.headers) and SECRET not in str(request.headers)


def test_a_foreign_next_page_fails_the_run_with_one_line(cli_env, fake_github, elsewhere, engine):
    path = "/search/repositories"
    fake_github.fail_next(path, 200, count=100,
                          headers={"link": f'<{elsewhere.url}{path}?q=x&page=2>; rel="next"'})
    result = trender(cli_env, "run", "--date", DAY, "--language", "python")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    fail = [line for line in result.stdout.splitlines() if line.startswith("FAIL") and f"{DAY}|python" in line]
    assert fail and f"another origin ({elsewhere.url})" in fail[0]
    assert elsewhere.requests == []
    assert scenario.TOKEN not in result.stdout + result.stderr


# -- GITHUB_API_URL's user and password are never shown --------------------------------------------

def _with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://someone:{SECRET}@")


def test_an_api_url_with_a_password_is_shown_masked(cli_env):
    result = trender({**cli_env, "GITHUB_API_URL": _with_userinfo(DEAD)}, "auth", "check")
    line = _one_line(result, 1)
    assert "GitHub at http://someone:***@127.0.0.1:1 did not answer" in line
    assert SECRET not in result.stdout + result.stderr


def test_an_api_url_with_a_password_is_masked_in_errors_repr_logs_and_tables(fake_github, engine, caplog):
    caplog.set_level(logging.DEBUG)  # httpx logs every request's URL at INFO
    with pytest.raises(GitHubError) as raised:
        _client(_with_userinfo(DEAD)).rate_limit()
    assert "someone:***@" in str(raised.value) and SECRET not in str(raised.value)
    lone = _client(DEAD.replace("http://", f"http://{SECRET}@"))  # a token as the only userinfo
    assert SECRET not in repr(lone) and "***@" in repr(lone)
    fake_github.token = None  # the user and password go as basic auth (it takes the place of the token)
    gh = _client(_with_userinfo(fake_github.url), cache=WarehouseCache(engine))
    assert gh.get_repository("alpha/snake")["id"] == 101
    basic = base64.b64encode(f"someone:{SECRET}".encode()).decode()
    assert fake_github.requests[-1].headers["authorization"] == f"Basic {basic}"
    assert SECRET not in repr(gh) and SECRET not in caplog.text and "HTTP Request" in caplog.text
    stored = rows(engine, "select url from github_http_cache")
    assert stored and all(SECRET not in r["url"] for r in stored)


def test_the_api_url_reaches_the_resource_as_a_variable_name_not_its_value(monkeypatch, database_url, engine):
    """Dagster's UI shows a resource's configuration: the URL, which may carry a password, shows as
    the variable's name."""
    import dagster as dg

    from trender_assets import definitions

    monkeypatch.setenv("DATABASE_URL", database_url)  # the ETag cache's warehouse: never the embedded one
    monkeypatch.setenv("GITHUB_API_URL", _with_userinfo(DEAD))
    github = definitions.default_resources()["github"]
    assert isinstance(github.api_url, dg.EnvVar) and github.api_url.env_var_name == "GITHUB_API_URL"
    client = github.make_client(credentials=[StaticToken(scenario.TOKEN)])
    assert client.base_url == "http://someone:***@127.0.0.1:1"
    client.close()
    monkeypatch.delenv("GITHUB_API_URL")
    assert definitions.default_resources()["github"].api_url == "https://api.github.com"


# -- a credential that cannot be issued, renewed or sent: one line ---------------------------------

@functools.lru_cache(maxsize=1)
def _rsa_key() -> tuple[str, str, bytes]:
    """(private PEM, public PEM, private DER)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return private, public, der


ISSUED = "ghs_ISSUEDsentinel"
LATER = "2030-01-01T00:00:00Z"
INSTALLATION_ANSWERS = {  # case: (HTTP status, 0 drops the connection; the fault; the error says)
    "not JSON": (201, dict(raw_body=b"<html>upstream busy</html>"), "was not JSON"),
    "not an object": (201, dict(raw_body=b'["ghs_x"]'), "was not a JSON object"),
    "no token": (201, dict(body={"expires_at": LATER}), "has no token"),
    "token not text": (201, dict(body={"token": 12345, "expires_at": LATER}), "has no token"),
    "expires_at not a time": (201, dict(body={"token": ISSUED, "expires_at": "soon"}), "expires_at is not a time"),
    "no expires_at": (201, dict(body={"token": ISSUED}), "expires_at is not a time"),
    "token not ASCII": (201, dict(body={"token": ISSUED + "é", "expires_at": LATER}), "not printable ASCII"),
    "dropped connection": (0, {}, "did not answer the installation token request"),
    "server error": (502, {}, "could not issue an installation token"),
}


@pytest.mark.parametrize("case", INSTALLATION_ANSWERS)
def test_an_installation_token_answer_github_would_not_give_is_one_error(fake_github, case):
    private, public, _ = _rsa_key()
    fake_github.configure_app("4242", public, "77")
    status, fault, fragment = INSTALLATION_ANSWERS[case]
    fake_github.fail_next("/app/installations/", status, **fault)
    app = AppInstallationToken("4242", private, "77", fake_github.url)
    with pytest.raises(GitHubError) as raised:
        app.token()
    message = str(raised.value)
    assert fragment in message and "installation 77" in message, message
    assert "\n" not in message and ISSUED not in message and "PRIVATE KEY" not in message


def test_an_unreachable_api_for_the_installation_token_is_one_error_with_the_url_masked():
    private, _, _ = _rsa_key()
    app = AppInstallationToken("4242", private, "77", _with_userinfo(DEAD))
    with pytest.raises(GitHubError, match=r"GitHub at http://someone:\*\*\*@127.0.0.1:1 did not answer") as raised:
        app.token()
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize("secret", ["ghp_SENTINELé", "ghp_SENTINEL\x7f", "ghp_SENT INEL", "ghp_SENT\nINEL"])
def test_a_token_with_a_character_no_token_has_is_refused_without_showing_it(secret):
    with pytest.raises(ConfigurationError, match="printable ASCII") as raised:
        StaticToken(secret)
    assert "SENT" not in str(raised.value)


def test_a_private_key_file_in_der_is_one_line_naming_the_format(tmp_path):
    from trender_assets.resources import GitHubResource

    _, _, der = _rsa_key()
    path = tmp_path / "app.der"
    path.write_bytes(der)
    github = GitHubResource(app_id="4242", app_private_key=str(path), app_installation_id="77")
    with pytest.raises(ConfigurationError, match="GITHUB_APP_PRIVATE_KEY") as raised:
        github.credentials()
    assert "PEM" in str(raised.value) and "\n" not in str(raised.value)


OAUTH_ANSWERS = {  # case: (HTTP status, 0 drops the connection; the fault; the error says)
    "not JSON": (200, dict(raw_body=b"<html>busy</html>"), "was not JSON"),
    "JSON, not an object": (200, dict(raw_body=b"[1]"), "(HTTP 200)"),
    "no refresh token": (200, dict(body={"access_token": "ghu_NEWsentinel", "expires_in": 28800}), "refresh_token"),
    "access token not ASCII": (200, dict(body={"access_token": "ghu_NEWsentinelé", "refresh_token": "ghr_NEW"}),
                               "access_token"),
    "dropped connection": (0, {}, "did not answer the OAuth token refresh"),
    "server error": (503, {}, "could not refresh the OAuth token"),
}


@pytest.mark.parametrize("case", OAUTH_ANSWERS)
def test_an_oauth_refresh_answer_github_would_not_give_is_one_error(fake_github, engine, case):
    from cryptography.fernet import Fernet

    store = OAuthTokenStore(engine, Fernet.generate_key().decode())
    store.store("Iv1.t", "ghu_OLDsentinel", "ghr_OLDsentinel", datetime(2020, 1, 1, tzinfo=timezone.utc))
    status, fault, fragment = OAUTH_ANSWERS[case]
    fake_github.fail_next("/login/oauth/access_token", status, **fault)
    with pytest.raises(GitHubError) as raised:
        OAuthUserToken(store, "Iv1.t", "shh-SENTINEL", fake_github.url).token()
    message = str(raised.value)
    assert fragment in message and "\n" not in message, message
    assert "sentinel" not in message.lower()


def test_an_oauth_lifetime_that_is_not_a_number_keeps_the_new_pair(fake_github, engine):
    """GitHub has already swapped the single-use refresh token: the new pair is stored, with
    GitHub's default lifetime, rather than lost to an error."""
    from cryptography.fernet import Fernet

    store = OAuthTokenStore(engine, Fernet.generate_key().decode())
    store.store("Iv1.t", "ghu_OLDsentinel", "ghr_OLDsentinel", datetime(2020, 1, 1, tzinfo=timezone.utc))
    fake_github.fail_next("/login/oauth/access_token", 200, body={
        "access_token": "ghu_NEWsentinel", "refresh_token": "ghr_NEWsentinel", "expires_in": "soon"})
    assert OAuthUserToken(store, "Iv1.t", "shh-SENTINEL", fake_github.url).token() == "ghu_NEWsentinel"
    with store.engine.begin() as conn:
        access, refresh, expires_at = store.locked(conn, "Iv1.t")
    assert (access, refresh) == ("ghu_NEWsentinel", "ghr_NEWsentinel")
    assert 7.9 * 3600 < (expires_at - datetime.now(timezone.utc)).total_seconds() <= 8 * 3600


def _app_env(cli_env: dict, fake: FakeGitHub, **extra: str) -> dict:
    private, public, _ = _rsa_key()
    fake.configure_app("4242", public, "77")
    env = {k: v for k, v in cli_env.items() if k != "GITHUB_TOKEN"}
    return {**env, "GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY": private, "GITHUB_APP_INSTALLATION_ID": "77",
            **extra}


def _oauth_env(cli_env: dict, engine, **extra: str) -> dict:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    OAuthTokenStore(engine, key).store("Iv1.cli", "ghu_OLDsentinel", "ghr_OLDsentinel",
                                       datetime(2020, 1, 1, tzinfo=timezone.utc))
    env = {k: v for k, v in cli_env.items() if k != "GITHUB_TOKEN"}
    return {**env, "GITHUB_OAUTH_CLIENT_ID": "Iv1.cli", "GITHUB_OAUTH_CLIENT_SECRET": "shh-SENTINEL",
            "TRENDER_ENCRYPTION_KEY": key, **extra}


def _installation_not_json(env, fake, engine, tmp_path):
    fake.fail_next("/app/installations/", 201, raw_body=b"<html>busy</html>")
    return _app_env(env, fake)


def _der_key(env, fake, engine, tmp_path):
    path = tmp_path / "app.der"
    path.write_bytes(_rsa_key()[2])
    return _app_env(env, fake, GITHUB_APP_PRIVATE_KEY=str(path))


CLI_CASES = {  # one per way a user meets it; every answer GitHub would not give is covered above
    "installation answer not JSON": (_installation_not_json, 1, "was not JSON"),
    "installation API unreachable": (
        lambda env, fake, engine, tmp: _app_env(env, fake, GITHUB_API_URL=_with_userinfo(DEAD)), 1,
        "GitHub at http://someone:***@127.0.0.1:1 did not answer the installation token request"),
    "private key in DER": (_der_key, 2, "which is not a PEM key (binary, e.g. DER)"),
    "token not ASCII": (lambda env, fake, engine, tmp: {**env, "GITHUB_TOKEN": "ghp_SENTINELé"}, 2,
                        "not printable ASCII"),
    "OAuth refresh unreachable": (lambda env, fake, engine, tmp: _oauth_env(env, engine, GITHUB_OAUTH_URL=DEAD), 1,
                                  f"GitHub at {DEAD} did not answer the OAuth token refresh"),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_a_credential_that_cannot_be_used_is_one_line_from_the_command(cli_env, fake_github, engine, tmp_path, case):
    arrange, code, fragment = CLI_CASES[case]
    env = arrange(cli_env, fake_github, engine, tmp_path)
    result = trender(env, "auth", "check")
    line = _one_line(result, code)
    assert fragment in line, line
    output = result.stdout + result.stderr
    assert "SENTINEL" not in output and SECRET not in output and "PRIVATE KEY" not in output and "shh" not in output
