"""What the environment configures beyond Dagster's own variables, read and checked in one place,
free of Dagster: the ``trender`` command checks it all before its start-up, so a mistake is one
line at once; the code location reads the same values when it loads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from trender_assets.errors import ConfigurationError

SIZE_OVERRIDES = {"repo_limit": "TRENDER_REPO_LIMIT", "top_per_language": "TRENDER_TOP_PER_LANGUAGE"}
"""Optional size overrides (benchmarks, larger deployments): setting -> variable."""


def data_dir() -> Path:
    """TRENDER_DATA_DIR: the embedded server's data, the default Dagster instance, the reports."""
    return Path(os.environ.get("TRENDER_DATA_DIR") or Path.home() / ".trender").expanduser()


def flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


MAX_SIZE = 100_000
"""Above any real deployment, below where PostgreSQL's integer columns and GitHub's pages give out."""


def positive_int(name: str) -> Optional[int]:
    """A size from the environment, 1 to MAX_SIZE; None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_SIZE:
        raise ConfigurationError(f"{name} must be a whole number from 1 to {MAX_SIZE}, got {raw!r}")
    return value


def dev_repo_limit() -> int:
    value = positive_int("DEV_REPO_LIMIT")
    return 5 if value is None else value


def size_overrides() -> dict[str, int]:
    return {setting: value for setting, name in SIZE_OVERRIDES.items() if (value := positive_int(name)) is not None}


def github_backoff() -> dict:
    """TRENDER_GITHUB_BACKOFF_SECONDS: the first retry's wait (doubling each attempt), so tests can
    back off in milliseconds; unset keeps the resource's default (1 s)."""
    raw = os.environ.get("TRENDER_GITHUB_BACKOFF_SECONDS", "").strip()
    if not raw:
        return {}
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 <= seconds <= 3600:  # also refuses nan and inf
        raise ConfigurationError(
            f"TRENDER_GITHUB_BACKOFF_SECONDS must be a number of seconds from 0 to 3600, got {raw!r}")
    return {"backoff_seconds": seconds}


def github_pacing() -> dict:
    """TRENDER_GITHUB_PACE_SEARCHES=0 stops spacing one token's searches 2 s apart (for tests
    against a fake GitHub); unset or 1 keeps it. GitHub's reported quotas are kept either way."""
    raw = os.environ.get("TRENDER_GITHUB_PACE_SEARCHES", "").strip().lower()
    if not raw:
        return {}
    if raw not in ("0", "1", "false", "true"):
        raise ConfigurationError(f"TRENDER_GITHUB_PACE_SEARCHES must be 0 or 1, got {raw!r}")
    return {"pace_searches": raw in ("1", "true")}


def automation_interval_seconds() -> int:
    """TRENDER_AUTOMATION_INTERVAL_SECONDS: how often the automation sensor evaluates (default 30 s,
    Dagster's own); a deployment may slow it, the end-to-end tests quicken it."""
    raw = os.environ.get("TRENDER_AUTOMATION_INTERVAL_SECONDS", "").strip()
    if not raw:
        return 30
    value = int(raw) if raw.isdigit() else 0
    if not 1 <= value <= 86_400:
        raise ConfigurationError(
            f"TRENDER_AUTOMATION_INTERVAL_SECONDS must be a whole number of seconds from 1 to 86400, got {raw!r}")
    return value


def check_database_url() -> None:
    """An empty DATABASE_URL is a mistake, not a request for the embedded server."""
    value = os.environ.get("DATABASE_URL")
    if value is not None and not value.strip():
        raise ConfigurationError("DATABASE_URL is set but empty: unset it to use the embedded PostgreSQL")


def check_github_api_url() -> None:
    """GITHUB_API_URL, when set, is an http(s) URL with a host; it is shown with any password hidden."""
    value = os.environ.get("GITHUB_API_URL")
    if value is None:
        return
    from urllib.parse import urlsplit

    from trender_assets.github.origin import shown_api_url

    try:
        parsed = urlsplit(value.strip())
        host, _port = parsed.hostname, parsed.port  # both raise ValueError on a malformed authority
    except ValueError:
        parsed, host = None, None
    if parsed is None or parsed.scheme not in ("http", "https") or not host or any(c.isspace() for c in host):
        shown = shown_api_url(value.strip())
        raise ConfigurationError(
            f"GITHUB_API_URL must be an http(s) URL such as https://api.github.com, got {shown[:200]!r}")


def check() -> None:
    """Every value above, and the categories (trender.yaml or TRENDER_CONFIG), so the first mistake
    is reported before anything starts."""
    from trender_assets import categories
    from trender_assets.clock import frozen_now

    frozen_now()
    check_database_url()
    check_github_api_url()
    dev_repo_limit()
    size_overrides()
    github_backoff()
    github_pacing()
    automation_interval_seconds()
    categories.check()
