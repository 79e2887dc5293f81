"""The command's languages, read into values or refused in one line (its dates: ``clock.parse_date``,
``clock.parse_snapshot_day``)."""

from __future__ import annotations

from typing import Sequence

from trender_assets import categories
from trender_assets.errors import ConfigurationError


def parse_languages(values: Sequence[str]) -> list[str]:
    """Categories named by ``--language`` (keys of trender.yaml), else every configured one."""
    configured = categories.keys()
    chosen = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in configured:
                raise ConfigurationError(f"unknown language {part!r}: choose from {', '.join(configured)}")
            if name not in chosen:
                chosen.append(name)
    return chosen or list(configured)
