"""The command's dates and languages, read into values or refused in one line."""

from __future__ import annotations

from datetime import date
from typing import Optional, Sequence

from trender_assets.categories import LANGUAGES, START_DATE
from trender_assets.clock import utc_today
from trender_assets.errors import ConfigurationError


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"invalid {option} {value!r}: expected a date as YYYY-MM-DD") from None


def parse_day(value: Optional[str], option: str) -> date:
    """A snapshot day: a valid date within the partitions (START_DATE .. today, UTC)."""
    if value is None:
        return utc_today()
    day = parse_date(value, option)
    first, last = date.fromisoformat(START_DATE), utc_today()
    if not first <= day <= last:
        raise ConfigurationError(
            f"{option} {value} is outside the partitions: snapshots exist from {first} to today ({last})"
        )
    return day


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
