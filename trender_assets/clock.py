"""The one clock. Every "today" not taken from a partition key comes from here, in UTC.

``TRENDER_NOW`` (ISO 8601) freezes it, so a day can be replayed exactly.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

from trender_assets.errors import ConfigurationError


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
