"""The report's "Rising this week" rows: each category's repositories that gained the most stars
over the 7 days before the report's day, read from ``analytics_rising_by_day`` (sql/0011_rising.sql),
which measures from the nearest earlier snapshot and never reads a missing day as zero. Only snapshots
observed on their day are measured (sql/0012_observed.sql); the page says how many it left out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Optional

import sqlalchemy as sa

_RISING_OF_DAY = sa.text(
    "select language, rising_rank, repo_id, repo_full_name, html_url, stars, stars_gained, days_measured,"
    " stars_per_day from analytics_rising_by_day"
    " where snapshot_date = :d and rising_rank is not null and rising_rank <= :top"
    " order by language, rising_rank, repo_id")
_LATE_IN_WINDOW = sa.text(
    "select language, count(*) as late from fact_repo_snapshots"
    " where observed_late and snapshot_date between :since and :d group by language order by language")


@dataclass(frozen=True)
class RisingRow:
    category: str
    rising_rank: int
    repo_id: int
    full_name: str
    html_url: Optional[str]
    stars: int
    stars_gained: int
    days_measured: int
    stars_per_day: float


def load_rising(conn: sa.Connection, day: date, top: int = 5) -> list[RisingRow]:
    """The top ``top`` risers of each category on ``day`` (ties share a rank, so a few more may show)."""
    return [
        RisingRow(category=r["language"], rising_rank=r["rising_rank"], repo_id=r["repo_id"],
                  full_name=r["repo_full_name"], html_url=r["html_url"], stars=r["stars"],
                  stars_gained=r["stars_gained"], days_measured=r["days_measured"],
                  stars_per_day=float(r["stars_per_day"]))
        for r in conn.execute(_RISING_OF_DAY, {"d": day, "top": top}).mappings()
    ]


def late_snapshots(conn: sa.Connection, day: date) -> dict[str, int]:
    """Per category, the snapshots of ``day`` and the 7 days before it that were observed after their
    day: their stars are a later fetch's, so Rising measured no gain from or to them."""
    return {r.language: r.late for r in conn.execute(_LATE_IN_WINDOW, {"since": day - timedelta(days=7), "d": day})}
