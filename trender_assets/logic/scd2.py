"""SCD type 2 versions derived from dated observations.

Versions come from the observations' dates, never from the order they arrived: sort by date,
collapse consecutive identical attribute sets, and let each version end where the next begins.
So a late-arriving older day splits or extends versions exactly as an in-order run would.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable

TRACKED_ATTRIBUTES = (
    "repo_full_name",
    "description",
    "language",
    "homepage",
    "license_spdx",
    "topics",
    "archived",
    "readme_sha",
)


@dataclass(frozen=True)
class Observation:
    snapshot_date: date
    attributes_hash: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Version:
    valid_from: date
    valid_to: date | None  # exclusive; None = current
    attributes_hash: str
    attributes: dict[str, Any]

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


def attributes_hash(attributes: dict[str, Any]) -> str:
    """Stable digest of the tracked attributes (key order and topic order do not matter)."""
    tracked = {k: attributes.get(k) for k in TRACKED_ATTRIBUTES}
    if isinstance(tracked.get("topics"), list):
        tracked["topics"] = sorted(tracked["topics"])
    payload = json.dumps(tracked, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def build_versions(observations: Iterable[Observation]) -> list[Version]:
    """The version chain for one repository; the last version is current."""
    ordered = sorted(observations, key=lambda o: o.snapshot_date)
    starts: list[Observation] = []
    for obs in ordered:
        if not starts or starts[-1].attributes_hash != obs.attributes_hash:
            starts.append(obs)
    return [
        Version(
            valid_from=obs.snapshot_date,
            valid_to=starts[i + 1].snapshot_date if i + 1 < len(starts) else None,
            attributes_hash=obs.attributes_hash,
            attributes=obs.attributes,
        )
        for i, obs in enumerate(starts)
    ]
