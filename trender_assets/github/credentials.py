"""Ways to authenticate to GitHub: tokens, a GitHub App installation, a refreshable OAuth user token.

Every credential has an ``identity``: a stable, non-secret label (a hash or an app id) used for
rate-limit bookkeeping and ETag caching. Secrets never leave ``token()``.

Ours because the token pool mixes kinds (static tokens, an App installation, an OAuth user token
whose single-use refresh token is renewed under a warehouse row lock across processes); githubkit's
auth strategies cover one credential per client and keep a renewed token in that process only.
"""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Optional

import httpx
import sqlalchemy as sa

from trender_assets.errors import ConfigurationError, GitHubAuthError, GitHubError
from trender_assets.github import answers
from trender_assets.github.origin import shown_api_url, without_userinfo

REFRESH_MARGIN_SECONDS = 300  # renew short-lived tokens five minutes before they expire
OAUTH_ACCESS_SECONDS = 28800  # GitHub's lifetime of a user access token, when its answer names none


def token_identity(secret: str) -> str:
    return "token-" + hashlib.sha256(secret.encode()).hexdigest()[:12]


def unsendable_at(secret: str) -> Optional[int]:
    """A token travels in an HTTP header: every GitHub token is printable ASCII without spaces.
    The 1-based position of the first other character (never the character: it is part of a
    secret), or None when the token can be sent."""
    return next((i for i, char in enumerate(secret, 1) if not "!" <= char <= "~"), None)


def _unreachable(url: str, what: str, exc: Exception) -> GitHubError:
    return GitHubError(f"GitHub at {shown_api_url(url)} did not answer {what} ({type(exc).__name__})")


def _json_object(response: httpx.Response) -> Any:
    """The body as JSON (``answers.UNREADABLE`` when it is not JSON)."""
    body = answers.json_body(response)
    return answers.UNREADABLE if body is None else body


class Credential:
    identity: str = "anonymous"

    @property
    def shown(self) -> str:
        """How messages name this credential: a label, never its secret."""
        return self.identity

    def token(self) -> Optional[str]:
        return None

    def refresh_after_rejection(self) -> bool:
        """After a 401: get a new token if this kind of credential can; False means give up."""
        return False


class Anonymous(Credential):
    pass


class StaticToken(Credential):
    def __init__(self, secret: str):
        position = unsendable_at(secret)
        if position is not None:
            raise ConfigurationError(f"a token in GITHUB_TOKEN or GITHUB_TOKENS has a character at position {position} "
                                     "that is not printable ASCII (tokens are); copy it again")
        self._secret = secret
        self.identity = token_identity(secret)

    @property
    def shown(self) -> str:
        """The first 8 hex digits of the token's SHA-256: enough to tell tokens apart (``printf %s
        "$TOKEN" | sha256sum``), nothing to use."""
        return f"sha256 {self.identity.removeprefix('token-')[:8]}"

    def token(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return f"StaticToken({self.identity})"


def _parse_expiry(value: Any) -> Optional[float]:
    """An ISO 8601 time as GitHub writes it (``2026-11-20T15:00:00Z``; no offset means UTC), or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    except (ValueError, OverflowError):
        return None


def app_private_key(value: str) -> str:
    """GITHUB_APP_PRIVATE_KEY: PEM text, or the path of a PEM file. The key is PEM, as GitHub hands
    it out; a file that is not text (a DER key) or cannot be read is one line naming the variable."""
    if not value or value.lstrip().startswith("-----"):
        return value
    try:
        path = Path(value).expanduser()
        data = path.read_bytes() if path.is_file() else None
    except PermissionError:
        raise ConfigurationError(f"GITHUB_APP_PRIVATE_KEY names {value}, which cannot be read") from None
    except (OSError, ValueError, RuntimeError):  # no path at all: too long for one, a NUL, an unknown ~user
        data = None
    if data is None:
        return value  # the key's text itself, judged when the JWT is signed
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigurationError(f"GITHUB_APP_PRIVATE_KEY names {path}, which is not a PEM key (binary, e.g. DER): "
                                 f"convert it with `openssl pkey -inform DER -in {path} -out key.pem`") from None


class AppInstallationToken(Credential):
    """GitHub App: app id + private key -> a JWT -> an installation token (valid one hour)."""

    def __init__(self, app_id: str, private_key: str, installation_id: str, api_url: str,
                 clock: Callable[[], float] = time.time, timeout: float = 30.0):
        if not (app_id and private_key and installation_id):
            raise ConfigurationError("a GitHub App needs GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and "
                                     "GITHUB_APP_INSTALLATION_ID")
        self.identity = f"app-{app_id}-installation-{installation_id}"
        self._app_id, self._key, self._installation = str(app_id), private_key, str(installation_id)
        self._api_url, self._clock, self._timeout = api_url.rstrip("/"), clock, timeout
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def _jwt(self) -> str:
        import jwt

        now = int(time.time())  # GitHub checks the JWT against its own (wall) clock
        try:
            return jwt.encode({"iat": now - 60, "exp": now + 540, "iss": self._app_id}, self._key, algorithm="RS256")
        except Exception:
            raise ConfigurationError("GITHUB_APP_PRIVATE_KEY is not a valid RSA private key (PEM)") from None

    def _renew(self) -> None:
        what = f"the installation token request for installation {self._installation}"
        try:
            response = httpx.post(  # the JWT is the credential: a user and password in the URL are not sent
                f"{without_userinfo(self._api_url)}/app/installations/{self._installation}/access_tokens",
                headers={"Authorization": f"Bearer {self._jwt()}", "Accept": "application/vnd.github+json",
                         "X-GitHub-Api-Version": "2022-11-28"},
                timeout=self._timeout,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _unreachable(self._api_url, what, exc) from None
        if response.status_code in (401, 403, 404):
            raise GitHubAuthError(f"GitHub rejected the GitHub App credentials for installation "
                                  f"{self._installation} (HTTP {response.status_code}); check GITHUB_APP_ID, "
                                  "GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID")
        if response.status_code >= 400:
            raise GitHubError(f"GitHub could not issue an installation token for installation {self._installation} "
                              f"(HTTP {response.status_code})")
        self._token, self._expires_at = self._issued(response, f"GitHub's answer to {what}")

    @staticmethod
    def _issued(response: httpx.Response, about: str) -> tuple[str, float]:
        """(token, expiry) from an installation token answer; anything else is one error."""
        body = _json_object(response)
        if body is answers.UNREADABLE:
            raise GitHubError(f"{about} was not JSON (HTTP {response.status_code})")
        if not isinstance(body, dict):
            raise GitHubError(f"{about} was not a JSON object")
        token, expires_at = body.get("token"), _parse_expiry(body.get("expires_at"))
        if not isinstance(token, str) or not token:
            raise GitHubError(f"{about} has no token")
        position = unsendable_at(token)
        if position is not None:
            raise GitHubError(f"{about} has a token with a character at position {position} "
                              "that is not printable ASCII")
        if expires_at is None:
            raise GitHubError(f"{about} is unusable: expires_at is not a time")
        return token, expires_at

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._expires_at - REFRESH_MARGIN_SECONDS <= self._clock():
                self._renew()
            return self._token

    def refresh_after_rejection(self) -> bool:
        with self._lock:
            self._token = None
        return True


class OAuthTokenStore:
    """OAuth user tokens in ``github_oauth_credentials``, encrypted with Fernet at rest."""

    def __init__(self, engine: sa.Engine, encryption_key: str):
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(encryption_key.encode() if isinstance(encryption_key, str) else encryption_key)
        except (ValueError, TypeError):
            raise ConfigurationError("TRENDER_ENCRYPTION_KEY is not a Fernet key "
                                     "(make one with: python -c 'from cryptography.fernet import Fernet; "
                                     "print(Fernet.generate_key().decode())')") from None
        self._engine = engine

    def save(self, conn: sa.Connection, client_id: str, access: str, refresh: str,
             access_expires_at: datetime, refresh_expires_at: Optional[datetime]) -> None:
        conn.execute(sa.text(
            "insert into github_oauth_credentials (client_id, access_token, refresh_token, access_expires_at,"
            " refresh_expires_at, updated_at) values (:c, :a, :r, :ae, :re, now()) on conflict (client_id) do"
            " update set access_token = excluded.access_token, refresh_token = excluded.refresh_token,"
            " access_expires_at = excluded.access_expires_at, refresh_expires_at = excluded.refresh_expires_at,"
            " updated_at = now()"),
            {"c": client_id, "a": self._fernet.encrypt(access.encode()), "r": self._fernet.encrypt(refresh.encode()),
             "ae": access_expires_at, "re": refresh_expires_at})

    def store(self, client_id: str, access: str, refresh: str, access_expires_at: datetime,
              refresh_expires_at: Optional[datetime] = None) -> None:
        with self._engine.begin() as conn:
            self.save(conn, client_id, access, refresh, access_expires_at, refresh_expires_at)

    def locked(self, conn: sa.Connection, client_id: str) -> tuple[str, str, datetime]:
        """Decrypted (access, refresh, access_expires_at), row-locked until the transaction ends."""
        row = conn.execute(sa.text(
            "select access_token, refresh_token, access_expires_at from github_oauth_credentials"
            " where client_id = :c for update"), {"c": client_id}).first()
        if row is None:
            raise ConfigurationError(f"no OAuth credentials stored for client {client_id}; "
                                     "store them with `trender auth store-oauth`")
        return (self._fernet.decrypt(bytes(row[0])).decode(), self._fernet.decrypt(bytes(row[1])).decode(), row[2])

    @property
    def engine(self) -> sa.Engine:
        return self._engine


class OAuthUserToken(Credential):
    """A GitHub App user token that expires (8 h) and is renewed with a single-use refresh token.

    The refresh happens under a row lock and the new pair is committed before the new access token
    is used, so two processes never spend the same refresh token and a crash never loses the pair.
    """

    def __init__(self, store: OAuthTokenStore, client_id: str, client_secret: str,
                 oauth_url: str = "https://github.com", clock: Callable[[], float] = time.time):
        self.identity = f"oauth-{client_id}"
        self._store, self._client_id, self._secret = store, client_id, client_secret
        self._oauth_url, self._clock = oauth_url.rstrip("/"), clock
        self._cached: Optional[tuple[str, float]] = None
        self._lock = threading.Lock()

    def _refresh(self, conn: sa.Connection, refresh_token: str) -> str:
        what = f"the OAuth token refresh for client {self._client_id}"
        try:
            response = httpx.post(  # the client secret is the credential: a user and password in the URL are not sent
                f"{without_userinfo(self._oauth_url)}/login/oauth/access_token",
                data={"client_id": self._client_id, "client_secret": self._secret,
                      "grant_type": "refresh_token", "refresh_token": refresh_token},
                headers={"Accept": "application/json"}, timeout=30.0,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _unreachable(self._oauth_url, what, exc) from None
        access, refresh, access_seconds, refresh_seconds = self._issued(response, f"GitHub's answer to {what}")
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        access_expires = now + timedelta(seconds=access_seconds)
        refresh_expires = now + timedelta(seconds=refresh_seconds) if refresh_seconds is not None else None
        self._store.save(conn, self._client_id, access, refresh, access_expires, refresh_expires)
        self._cached = (access, access_expires.timestamp())
        return access

    def _issued(self, response: httpx.Response, about: str) -> tuple[str, str, int, Optional[int]]:
        """(access, refresh, access lifetime, refresh lifetime) from a refresh answer; anything else
        is one error. A lifetime that is not a number is GitHub's default: the pair, which GitHub
        has already swapped for the old one, is kept rather than lost."""
        status, body = response.status_code, _json_object(response)
        if status >= 500:
            raise GitHubError(f"GitHub could not refresh the OAuth token for client {self._client_id} (HTTP {status})")
        if body is answers.UNREADABLE and status < 400:
            raise GitHubError(f"{about} was not JSON (HTTP {status})")
        body = body if isinstance(body, dict) else {}
        if status >= 400 or "access_token" not in body:
            error = body.get("error")
            reason = error if isinstance(error, str) and error.isidentifier() else f"HTTP {status}"
            raise GitHubAuthError(f"GitHub refused to refresh the OAuth token for client {self._client_id} "
                                  f"({reason}); authorize again and store new credentials with "
                                  "`trender auth store-oauth`")
        access, refresh = body.get("access_token"), body.get("refresh_token")
        for name, token in (("access_token", access), ("refresh_token", refresh)):
            if not isinstance(token, str) or not token or unsendable_at(token) is not None:
                raise GitHubAuthError(f"{about} has no usable {name}; authorize again and store new "
                                      "credentials with `trender auth store-oauth`")
        access_seconds = answers.whole_number(body.get("expires_in"))
        refresh_seconds = answers.whole_number(body.get("refresh_token_expires_in"))
        return (access, refresh, access_seconds if access_seconds and access_seconds > 0 else OAUTH_ACCESS_SECONDS,
                refresh_seconds if refresh_seconds and refresh_seconds > 0 else None)

    def _current(self, force: bool) -> str:
        with self._lock:
            if not force and self._cached and self._cached[1] - REFRESH_MARGIN_SECONDS > self._clock():
                return self._cached[0]
            with self._store.engine.begin() as conn:  # row lock: one refresher at a time, across processes
                access, refresh, expires_at = self._store.locked(conn, self._client_id)
                if not force and expires_at.timestamp() - REFRESH_MARGIN_SECONDS > self._clock():
                    self._cached = (access, expires_at.timestamp())
                    return access
                return self._refresh(conn, refresh)  # committed when the block ends, before use

    def token(self) -> str:
        return self._current(force=False)

    def refresh_after_rejection(self) -> bool:
        self._current(force=True)
        return True
