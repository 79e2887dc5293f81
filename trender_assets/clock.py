"""The one clock. Every "today" not taken from a partition key comes from here, in UTC.

``TRENDER_NOW`` (ISO 8601) freezes it, so a day can be replayed exactly.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone


def utc_now() -> datetime:
    frozen = os.environ.get("TRENDER_NOW", "").strip()
    if frozen:
        parsed = datetime.fromisoformat(frozen.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def utc_today() -> date:
    return utc_now().date()
