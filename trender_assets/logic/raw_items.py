"""One fetched item made storable in raw_github_repos, with what had to change and why.

Raw keeps "what GitHub said". PostgreSQL cannot store everything a JSON answer may carry: a lone
UTF-16 surrogate (``"\\ud800"``, or invalid UTF-8 bytes, which the client decodes to surrogates)
has no UTF-8 form, ``jsonb`` rejects ``\\u0000`` and non-finite numbers, and ``repo_id`` is a
``bigint``. Such values are replaced (U+FFFD, dropped NULs, null), and every replacement that
changes meaning is named in ``item_status`` so staging rejects the record with that reason instead
of loading an altered copy. NUL bytes alone are only stripped, as staging has always done.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Optional

from trender_assets.logic.repo_names import full_name_problem

BIGINT_MAX = 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(value: Any) -> Optional[str]:
    """A string PostgreSQL can store (surrogates -> U+FFFD, NUL dropped); anything else -> None."""
    if not isinstance(value, str):
        return None
    return _SURROGATE.sub("\ufffd", value).replace("\x00", "")


@dataclass(frozen=True)
class StorableItem:
    json_text: str
    repo_id: Optional[int]
    full_name: Optional[str]
    problems: tuple[str, ...]

    @property
    def status(self) -> Optional[str]:
        """The reason staging must reject this record, or None when it was stored unaltered."""
        return "; ".join(self.problems) or None


def _clean(value: Any, where: str, problems: list[str]) -> Any:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            problems.append(f"invalid text in {where or 'the record'} (a lone UTF-16 surrogate or invalid "
                            "UTF-8; stored with U+FFFD)")
            value = _SURROGATE.sub("\ufffd", value)
        return value.replace("\x00", "")
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where or 'the record'} is not a finite number (stored as null)")
        return None
    if isinstance(value, list):
        return [_clean(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, dict):
        cleaned = {}
        for key, v in value.items():
            name = _clean(str(key), where, problems)
            cleaned[name] = _clean(v, f"{where}.{name}" if where else name, problems)
        return cleaned
    return value


def storable_item(item: Any) -> StorableItem:
    """``item`` as jsonb text plus its id and name columns, naming what could not be stored as sent."""
    problems: list[str] = []
    cleaned = _clean(item, "", problems)
    record = item if isinstance(item, dict) else {}
    repo_id = record.get("id")
    if isinstance(repo_id, bool) or not isinstance(repo_id, int):
        repo_id = None
    elif not -BIGINT_MAX - 1 <= repo_id <= BIGINT_MAX:
        problems.append(f"id {repo_id} is beyond the 64-bit range")
        repo_id = None
    name = record.get("full_name")
    if isinstance(name, str) and full_name_problem(name):
        problems.append(f"{full_name_problem(name)}; not requested")
    return StorableItem(json.dumps(cleaned, ensure_ascii=False, allow_nan=False), repo_id,
                        storable_text(name), tuple(dict.fromkeys(problems)))
