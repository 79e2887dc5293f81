"""Tunable behaviour of the pipeline, in one resource so the UI shows it and tests can set it."""

from __future__ import annotations

import os

import dagster as dg

from trender_assets.logic.scoring import ScoringParams


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


_SIZE_OVERRIDES = {"repo_limit": "TRENDER_REPO_LIMIT", "top_per_language": "TRENDER_TOP_PER_LANGUAGE"}
"""Optional size overrides from the environment (benchmarks, larger deployments)."""


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from trender_assets.errors import ConfigurationError

        raise ConfigurationError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return value


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
        TRENDER_TOP_PER_LANGUAGE; everything else keeps its default."""
        limit = os.environ.get("DEV_REPO_LIMIT", "").strip()
        try:
            dev_limit = int(limit) if limit else 5
        except ValueError:
            from trender_assets.errors import ConfigurationError

            raise ConfigurationError(f"DEV_REPO_LIMIT must be a whole number, got {limit!r}") from None
        sizes = {field: _env_int(name) for field, name in _SIZE_OVERRIDES.items() if _env_int(name) is not None}
        return cls(dev_mode=_env_flag("DEV_MODE"), dev_repo_limit=dev_limit, **sizes)

    @property
    def scoring(self) -> ScoringParams:
        return ScoringParams(
            recency_weight=self.recency_weight,
            stars_weight=self.stars_weight,
            full_days=self.recency_full_days,
            half_life_days=self.recency_half_life_days,
            floor=self.recency_floor,
        )
