"""Search queries anchored to the snapshot date, so any day can be replayed exactly."""

from __future__ import annotations

from datetime import date, timedelta

RENDER_CODE_QUERY = "filename:render.yaml path:/"


def language_query(github_language: str, snapshot_date: date, pushed_within_days: int = 30,
                   created_within_days: int = 180) -> str:
    pushed_since = snapshot_date - timedelta(days=pushed_within_days)
    created_since = snapshot_date - timedelta(days=created_within_days)
    return (
        f"language:{github_language} pushed:>={pushed_since.isoformat()} "
        f"created:>={created_since.isoformat()}"
    )


def render_created_since(snapshot_date: date, max_age_days: int = 548) -> date:
    return snapshot_date - timedelta(days=max_age_days)
