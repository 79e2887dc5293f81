"""The command's languages, read into values or refused in one line (its dates: ``clock.parse_date``,
``clock.parse_snapshot_day``)."""

from __future__ import annotations

from typing import Sequence

from trender_assets.categories import LANGUAGES
from trender_assets.errors import ConfigurationError


def parse_languages(values: Sequence[str]) -> list[str]:
    chosen = []
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if name not in LANGUAGES:
                raise ConfigurationError(f"unknown language {part!r}: choose from {', '.join(LANGUAGES)}")
            if name not in chosen:
                chosen.append(name)
    return chosen or list(LANGUAGES)
