"""Search questions anchored to the snapshot day D, so any day can be replayed as it was.

Every window ends at D: a backfilled day must not learn about repositories created after it.
``pushed:`` keeps an open end on purpose: GitHub only knows a repository's *latest* push, so a
repository active before D and pushed again since would be lost by ``pushed:..D``. Stars are
necessarily "as of the fetch".
"""

from __future__ import annotations

from datetime import date, timedelta

RENDER_CODE_QUERY = "filename:render.yaml path:/"


def language_query(github_language: str, snapshot_date: date, pushed_within_days: int = 30) -> str:
    """Repository-search terms for a language; the ``created:`` window is added by the client."""
    pushed_since = snapshot_date - timedelta(days=pushed_within_days)
    return f"language:{github_language} pushed:>={pushed_since.isoformat()}"


def created_window(snapshot_date: date, within_days: int) -> tuple[date, date]:
    """Inclusive ``created:`` bounds: the ``within_days`` before D, and D itself."""
    return snapshot_date - timedelta(days=within_days), snapshot_date


def created_qualifier(since: date, until: date) -> str:
    return f"created:{since.isoformat()}..{until.isoformat()}"
