"""``trender auth``: check GitHub credentials and their quota, or store an OAuth user token pair."""

from __future__ import annotations

import os
from datetime import timedelta

import click

from trender_assets.commands.loading import load
from trender_assets.errors import ConfigurationError


@click.group()
def auth() -> None:
    """GitHub credentials: check them, or store an OAuth user token."""


@auth.command()
def check() -> None:
    """Show each configured credential and the quota left for it (costs nothing).

    A token is named by its position (GITHUB_TOKEN first, then GITHUB_TOKENS in order) and the first
    8 hex digits of its SHA-256 (``printf %s "$TOKEN" | sha256sum``), never by its value. Exits 1
    when GitHub rejects any of them: a run would leave it out and carry on with the others.
    """
    from trender_assets.errors import GitHubAuthError, TrenderError

    defs, _ = load()
    github = defs.resources["github"]
    credentials = github.credentials()
    if not credentials:
        click.echo("anonymous: 60 core requests an hour, no code search (render is skipped)")
    rejected = 0
    for n, credential in enumerate(credentials or [None], 1):
        name = f"token {n} of {len(credentials)} ({credential.shown})" if credential else "anonymous"
        probe = github.make_client(credentials=[credential] if credential else None,
                                   max_attempts=2, backoff_seconds=0.5, max_rate_limit_wait_seconds=0)
        try:
            resources = probe.rate_limit().get("resources", {})
        except GitHubAuthError as exc:
            if credential is None:
                raise
            rejected += 1
            click.echo(f"{name}: rejected ({getattr(exc, 'reason', exc)})")
            continue
        finally:
            probe.close()
        quota = ", ".join(f"{key} {r.get('remaining')}/{r.get('limit')}" for key, r in sorted(resources.items())
                          if key in ("core", "search", "code_search"))
        click.echo(f"{name}: valid; {quota}")
    if rejected:
        raise TrenderError(f"{rejected} of {len(credentials)} tokens rejected by GitHub: remove or renew them "
                           "(a run leaves them out and carries on with the others)")


@auth.command("store-oauth")
@click.option("--expires-in", default=28800, show_default=True, help="Seconds the access token is valid.")
def store_oauth(expires_in: int) -> None:
    """Store an OAuth user token pair, encrypted, for GITHUB_OAUTH_CLIENT_ID.

    The tokens are read from GITHUB_OAUTH_ACCESS_TOKEN and GITHUB_OAUTH_REFRESH_TOKEN (never from
    arguments, which other users can see in the process list); TRENDER_ENCRYPTION_KEY encrypts them.
    """
    from datetime import datetime, timezone

    from trender_assets.github.credentials import OAuthTokenStore

    names = ("GITHUB_OAUTH_CLIENT_ID", "GITHUB_OAUTH_ACCESS_TOKEN", "GITHUB_OAUTH_REFRESH_TOKEN",
             "TRENDER_ENCRYPTION_KEY")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise ConfigurationError(f"set {', '.join(missing)} to store OAuth credentials")
    defs, _ = load()
    store = OAuthTokenStore(defs.resources["warehouse"].engine, os.environ["TRENDER_ENCRYPTION_KEY"])
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    store.store(os.environ["GITHUB_OAUTH_CLIENT_ID"], os.environ["GITHUB_OAUTH_ACCESS_TOKEN"],
                os.environ["GITHUB_OAUTH_REFRESH_TOKEN"], expires)
    click.echo(f"stored OAuth credentials for {os.environ['GITHUB_OAUTH_CLIENT_ID']} (access token valid "
               f"until {expires:%Y-%m-%d %H:%M} UTC; refreshed automatically)")
