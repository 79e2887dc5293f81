"""Tunable behaviour of the pipeline, in one resource so the UI shows it and tests can set it.

The momentum formula's constants keep their names and defaults in ``ScoringParams`` (the formula's
own module); this resource only exposes them, so a default is written once.
"""

from __future__ import annotations

from dataclasses import fields

import dagster as dg
from pydantic import Field

from trender_assets import environment
from trender_assets.logic.scoring import ScoringParams

_SCORING = ScoringParams()


class TrenderSettings(dg.ConfigurableResource):
    """Discovery sizes, dev mode and the momentum formula's constants."""

    repo_limit: int = Field(25, description="Repositories kept per language search (and for render discovery).")
    top_per_language: int = Field(50, description="Facts keep this many repositories per language category, "
                                                  "by momentum.")
    render_max_age_days: int = Field(548, description="Render projects must be created within this many days "
                                                      "(18 months) of the snapshot date.")
    pushed_within_days: int = Field(30, description="Language searches keep repositories pushed within this "
                                                    "many days of the snapshot date.")
    created_within_days: int = Field(180, description="Language searches keep repositories created within this "
                                                      "many days of the snapshot date.")
    dev_mode: bool = Field(False, description="DEV_MODE: only the python partition is fetched, with "
                                              "dev_repo_limit repositories.")
    dev_repo_limit: int = Field(5, description="Repositories per search in dev mode or without a token.")
    recency_weight: float = Field(_SCORING.recency_weight, description="Momentum's weight of recency "
                                                                       "(plus stars_weight makes 1).")
    stars_weight: float = Field(_SCORING.stars_weight, description="Momentum's weight of stars / the "
                                                                   "category's most stars.")
    full_days: int = Field(_SCORING.full_days, description="Recency is 1.0 up to this age in days.")
    half_life_days: float = Field(_SCORING.half_life_days, description="Past full_days, recency halves every "
                                                                       "this many days.")
    floor: float = Field(_SCORING.floor, description="Recency never falls below this.")

    @classmethod
    def from_env(cls) -> "TrenderSettings":
        """Settings from DEV_MODE / DEV_REPO_LIMIT and the optional TRENDER_REPO_LIMIT /
        TRENDER_TOP_PER_LANGUAGE (read in ``trender_assets.environment``); the rest keep their defaults."""
        return cls(dev_mode=environment.flag("DEV_MODE"), dev_repo_limit=environment.dev_repo_limit(),
                   **environment.size_overrides())

    @property
    def scoring(self) -> ScoringParams:
        return ScoringParams(**{f.name: getattr(self, f.name) for f in fields(ScoringParams)})
