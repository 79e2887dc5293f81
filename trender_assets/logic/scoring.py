"""Momentum: how much attention a young repository is getting, in [0, 1].

momentum = recency_weight * recency + stars_weight * stars / max_stars_in_category
recency  = 1.0 while the repository is at most ``full_days`` old, then halves every
           ``half_life_days``, never below ``floor``.
Kept at full precision: the original rounded to two decimals and lost the ordering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class ScoringParams:
    """The formula's constants and their defaults (``TrenderSettings`` exposes them under these names)."""

    recency_weight: float = 0.7
    stars_weight: float = 0.3
    full_days: int = 14
    half_life_days: float = 62.0
    floor: float = 0.01

    def __post_init__(self) -> None:
        if not math.isclose(self.recency_weight + self.stars_weight, 1.0):
            raise ValueError("recency_weight + stars_weight must be 1 so momentum stays in [0, 1]")
        if self.half_life_days <= 0 or not 0 <= self.floor <= 1:
            raise ValueError("half_life_days must be > 0 and floor within [0, 1]")


def age_in_days(snapshot_date: date, created_on: date) -> int:
    """Whole days between creation (UTC date) and the snapshot date; never negative."""
    return max(0, (snapshot_date - created_on).days)


def recency_score(age_days: int, params: ScoringParams = ScoringParams()) -> float:
    if age_days <= params.full_days:
        return 1.0
    decayed = 0.5 ** ((age_days - params.full_days) / params.half_life_days)
    return max(params.floor, decayed)


def normalized_stars(stars: int, max_stars: int) -> float:
    return stars / max_stars if max_stars > 0 else 0.0


def momentum_score(recency: float, normalized: float, params: ScoringParams = ScoringParams()) -> float:
    return params.recency_weight * recency + params.stars_weight * normalized
