"""Tunable behaviour of the pipeline, in one resource so the UI shows it and tests can set it."""

from __future__ import annotations

import dagster as dg

from trender_assets import environment
from trender_assets.logic.scoring import ScoringParams


class TrenderSettings(dg.ConfigurableResource):
    """Discovery sizes, dev mode and the momentum formula's constants."""

    repo_limit: int = 25
    """Repositories kept per language search (and for render discovery)."""
    top_per_language: int = 50
    """Facts keep this many repositories per language category, by momentum."""
    render_max_age_days: int = 548
    """Render projects must be created within this many days (18 months) of the snapshot date."""
    pushed_within_days: int = 30
    created_within_days: int = 180
    dev_mode: bool = False
    """DEV_MODE: only the python partition is fetched, with dev_repo_limit repositories."""
    dev_repo_limit: int = 5
    readme_concurrency: int = 4
    recency_weight: float = 0.7
    stars_weight: float = 0.3
    recency_full_days: int = 14
    recency_half_life_days: float = 62.0
    recency_floor: float = 0.01

    @classmethod
    def from_env(cls) -> "TrenderSettings":
        """Settings from DEV_MODE / DEV_REPO_LIMIT and the optional TRENDER_REPO_LIMIT /
        TRENDER_TOP_PER_LANGUAGE (read in ``trender_assets.environment``); the rest keep their defaults."""
        return cls(dev_mode=environment.flag("DEV_MODE"), dev_repo_limit=environment.dev_repo_limit(),
                   **environment.size_overrides())

    @property
    def scoring(self) -> ScoringParams:
        return ScoringParams(
            recency_weight=self.recency_weight,
            stars_weight=self.stars_weight,
            full_days=self.recency_full_days,
            half_life_days=self.recency_half_life_days,
            floor=self.recency_floor,
        )
