"""Chooses and ranks a day's facts from its validated repositories.

Per language category: score every candidate, keep the top ``top_per_language`` by momentum
(every render repository is kept), and always keep the category's most-starred repository because
it anchors ``normalized_stars`` (so the stored top value is exactly 1). Ranks are by momentum,
1 = best, ties broken by stars then repository id so a replay gives the same ranks.

Each fact keeps when its values were observed (``observed_at``, the fetch) and whether that was
after its day (``observed_late``): the views measure gains only between on-day snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Iterable, Optional

from trender_assets.logic.scoring import (
    ScoringParams,
    age_in_days,
    momentum_score,
    normalized_stars,
    recency_score,
)


@dataclass(frozen=True)
class Candidate:
    language: str  # category
    repo_id: int
    repo_full_name: str
    stars: int
    forks: int
    open_issues: int
    created_on: date
    observed_at: Optional[datetime] = None
    """When GitHub gave these counts (the fetch); None: not known."""


def observed_late(snapshot_date: date, observed_at: Optional[datetime]) -> bool:
    """Observed after its day: the fetch's UTC date is later than the snapshot date, so the counts
    are a later day's (a backfill or a refetch), not the day's. Unknown is not late here (the
    migration decides stored rows whose fetch time is gone). A naive time is taken as UTC."""
    if observed_at is None:
        return False
    aware = observed_at if observed_at.tzinfo else observed_at.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).date() > snapshot_date


@dataclass(frozen=True)
class ScoredRepo:
    language: str
    repo_id: int
    repo_full_name: str
    stars: int
    forks: int
    open_issues: int
    age_days: int
    recency_score: float
    normalized_stars: float
    momentum_score: float
    observed_at: Optional[datetime] = None
    observed_late: bool = False
    rank_overall: int = 0
    rank_in_language: int = 0


def _order(row: ScoredRepo) -> tuple:
    return (-row.momentum_score, -row.stars, row.repo_id)


def rank_snapshot(
    candidates: Iterable[Candidate],
    snapshot_date: date,
    params: ScoringParams,
    top_per_language: int,
    keep_all_categories: frozenset[str] = frozenset({"render"}),
) -> list[ScoredRepo]:
    by_category: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_category.setdefault(cand.language, []).append(cand)

    kept: list[ScoredRepo] = []
    for category, members in sorted(by_category.items()):
        max_stars = max(m.stars for m in members)
        scored = []
        for m in members:
            age = age_in_days(snapshot_date, m.created_on)
            recency = recency_score(age, params)
            norm = normalized_stars(m.stars, max_stars)
            scored.append(
                ScoredRepo(
                    language=category, repo_id=m.repo_id, repo_full_name=m.repo_full_name,
                    stars=m.stars, forks=m.forks, open_issues=m.open_issues, age_days=age,
                    recency_score=recency, normalized_stars=norm,
                    momentum_score=momentum_score(recency, norm, params),
                    observed_at=m.observed_at, observed_late=observed_late(snapshot_date, m.observed_at),
                )
            )
        scored.sort(key=_order)
        if category in keep_all_categories:
            chosen = scored
        else:
            chosen = scored[:top_per_language]
            anchor = min(scored, key=lambda r: (-r.stars, r.repo_id))
            if anchor not in chosen:
                chosen = sorted([*chosen, anchor], key=_order)
        kept.extend(replace(row, rank_in_language=i) for i, row in enumerate(chosen, start=1))

    kept.sort(key=_order)
    return [replace(row, rank_overall=i) for i, row in enumerate(kept, start=1)]
