"""The one clock. Every "today" not taken from a partition key comes from here, in UTC.

``TRENDER_NOW`` (ISO 8601) freezes it, so a day can be replayed exactly. Days given as text (a
command's option, a job's config) are read here too: one format, one message.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timezone
from typing import Optional

from trender_assets.categories import START_DATE
from trender_assets.errors import ConfigurationError

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def frozen_now() -> datetime | None:
    """``TRENDER_NOW`` parsed, None when unset; a value that is not a time is a configuration error."""
    frozen = os.environ.get("TRENDER_NOW", "").strip()
    if not frozen:
        return None
    try:
        parsed = datetime.fromisoformat(frozen.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigurationError(
            f"TRENDER_NOW {frozen[:40]!r} is not an ISO 8601 time (e.g. 2026-11-21T12:00:00Z); "
            "unset it to use the real clock"
        ) from None
    # an offset is honoured, then converted: every "today" is a UTC day
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def utc_now() -> datetime:
    return frozen_now() or datetime.now(timezone.utc)


def utc_today() -> date:
    return utc_now().date()


def parse_date(value: str, what: str = "date") -> date:
    """A calendar date written YYYY-MM-DD (not the week or compact forms ``date.fromisoformat`` also
    takes); anything else is a configuration error naming ``what``."""
    try:
        if not _ISO_DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"invalid {what} {value!r}: expected a date as YYYY-MM-DD") from None


def snapshot_today() -> date:
    """Today (UTC) as the last day that can have a snapshot. The partitions run from START_DATE to
    the real clock's today (Dagster's own clock), so a frozen clock (TRENDER_NOW) before the first
    day or after the real today names a day with no partition: that is said of the clock, in one
    line, for a command with or without a day of its own."""
    today, first = utc_today(), date.fromisoformat(START_DATE)
    frozen = frozen_now() is not None
    if today < first:
        raise ConfigurationError(
            f"TRENDER_NOW makes today {today}, before the first partition day ({first}): no day can be "
            "snapshotted; unset it or set a later time" if frozen else
            f"today ({today}, the system clock) is before the first partition day ({first}): check the clock")
    real_today = datetime.now(timezone.utc).date()
    if frozen and today > real_today:
        raise ConfigurationError(
            f"TRENDER_NOW makes today {today}, after the real today ({real_today}): its partition does not "
            "exist yet; unset it or set an earlier time")
    return today


def parse_snapshot_day(value: Optional[str], what: str) -> date:
    """A day that can have a snapshot: a date within the partitions (START_DATE .. today, UTC, see
    ``snapshot_today``); None is today."""
    last = snapshot_today()
    if value is None:
        return last
    day = parse_date(value, what)
    first = date.fromisoformat(START_DATE)
    if not first <= day <= last:
        raise ConfigurationError(
            f"{what} {value} is outside the partitions: snapshots exist from {first} to today ({last})"
        )
    return day
