"""The report's cards, read from the warehouse: a day's facts with their dimension version, the README
text staging (else raw) kept, a 30-day star history and the history view's star velocity.

Stars over time are what was observed on each day: a snapshot fetched after its day (a backfill)
holds a later fetch's stars, so it is left out of the history, has no velocity, and its card says
it was observed later."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from trender_assets.report.page import ReportCard
from trender_assets.report.readme import README_MAX_CHARS

HISTORY_DAYS = 30

_CARDS_OF_DAY = sa.text(
    "select f.language, f.repo_id, f.repo_full_name, f.stars, f.age_days, f.momentum_score,"
    " f.rank_in_language, f.rank_overall, f.observed_late, d.html_url, d.description,"
    " left(coalesce(s.readme_content, r.readme_content), :excerpt) as readme"
    " from fact_repo_snapshots f"
    " join dim_repositories d on d.repo_key = f.repo_key"
    " left join stg_repos_validated s"
    "   on s.snapshot_date = f.snapshot_date and s.language = f.language and s.repo_id = f.repo_id"
    " left join raw_github_repos r"
    "   on r.snapshot_date = f.snapshot_date and r.language = f.language and r.repo_id = f.repo_id"
    " where f.snapshot_date = :d"
    " order by f.language, f.momentum_score desc, f.rank_in_language"
)
_STAR_HISTORY = sa.text(
    "select repo_id, snapshot_date, max(stars) as stars from fact_repo_snapshots"
    " where repo_id = any(:ids) and snapshot_date between :since and :d and not observed_late"
    " group by repo_id, snapshot_date order by repo_id, snapshot_date"
)
# Star velocity comes from the history view (stars per day since the previous on-day snapshot).
_VELOCITY = sa.text(
    "select repo_id, max(star_velocity) as star_velocity from analytics_repo_history"
    " where snapshot_date = :d and repo_id = any(:ids) group by repo_id"
)


def load_cards(conn: sa.Connection, day: date) -> list[ReportCard]:
    """The day's cards, with star history for the sparkline and velocity from the history view."""
    # one character past the excerpt, so the renderer knows to say "shortened"
    rows = conn.execute(_CARDS_OF_DAY, {"d": day, "excerpt": README_MAX_CHARS + 1}).mappings().all()
    ids = sorted({r["repo_id"] for r in rows})
    history: dict[int, list[tuple[date, int]]] = {}
    for h in conn.execute(_STAR_HISTORY, {"ids": ids, "since": day - timedelta(days=HISTORY_DAYS - 1), "d": day}):
        history.setdefault(h.repo_id, []).append((h.snapshot_date, h.stars))
    velocity = {v.repo_id: v.star_velocity for v in conn.execute(_VELOCITY, {"ids": ids, "d": day})}
    return [
        ReportCard(
            category=r["language"], repo_id=r["repo_id"], full_name=r["repo_full_name"], html_url=r["html_url"],
            description=r["description"], stars=r["stars"],
            star_velocity=None if velocity.get(r["repo_id"]) is None else float(velocity[r["repo_id"]]),
            momentum=r["momentum_score"], rank_in_language=r["rank_in_language"], rank_overall=r["rank_overall"],
            age_days=r["age_days"], history=tuple(history.get(r["repo_id"], ())), readme_markdown=r["readme"],
            observed_late=r["observed_late"],
        )
        for r in rows
    ]
