"""GitHub's naming rules for owners and repositories, checked before a name becomes part of a URL.

A ``full_name`` comes from GitHub's answers, so it is data, not a path: ``owner/name?x=1``,
``a/../../rate_limit``, ``o/a%2Fb`` or ``o/n#x`` must never change which endpoint is asked. Names
that break the rules are never requested; the record is kept raw and rejected by staging.

Owner: an ASCII letter or digit, then letters, digits and hyphens, at most 39 characters. GitHub
asks new accounts for single, inner hyphens only, but older accounts keep doubled or trailing ones;
a hyphen cannot change a request target, so those names are accepted.
Repository: letters, digits, ``.``, ``_`` and ``-``, at most 100 characters, not ``.`` or ``..``.

A name is not an identity: a repository renamed away leaves its old name free for another, so a
watched name is checked against the repository id the warehouse stored under it before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Optional

_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")


class InvalidRepositoryName(ValueError):
    """A full_name that breaks GitHub's naming rules; no request is made for it."""


def full_name_problem(value: Any) -> Optional[str]:
    """Why ``value`` is not a usable GitHub ``owner/name``, or None when it is."""
    if not isinstance(value, str):
        return f"full_name is not a string: {value!r}"
    owner, slash, name = value.partition("/")
    if not slash:
        return f"full_name is not owner/name: {value!r}"
    if not _OWNER.fullmatch(owner):
        return f"full_name has an invalid owner for GitHub: {value!r}"
    if not _REPO.fullmatch(name) or name in (".", ".."):
        return f"full_name has an invalid repository name for GitHub: {value!r}"
    return None


def repository_path(full_name: Any) -> str:
    """``/repos/{owner}/{name}`` for a name that follows GitHub's rules; raises otherwise."""
    problem = full_name_problem(full_name)
    if problem:
        raise InvalidRepositoryName(problem)
    return f"/repos/{full_name}"


# -- what a watched name means from one day to the next ---------------------------------------------

@dataclass(frozen=True)
class StoredName:
    """The repository a name meant when the warehouse last stored it under that name."""

    repo_id: int
    full_name: str
    stored_on: date


def names_now_meaning_another(answered: dict[str, Optional[int]],
                              before: dict[str, StoredName]) -> dict[str, tuple[int, StoredName]]:
    """Watched name -> (the repository it answers with now, the one stored under it before), where
    the two differ: the old one was renamed or deleted and another took the name, which GitHub then
    answers with no redirect. Said, never silent: the repository watched until then leaves the day.
    ``before`` is keyed by the lower-cased name (GitHub's names are case-insensitive)."""
    changed: dict[str, tuple[int, StoredName]] = {}
    for name, repo_id in answered.items():
        stored = before.get(name.lower())
        if repo_id is not None and stored is not None and stored.repo_id != repo_id:
            changed[name] = (repo_id, stored)
    return changed


def names_of_one_repository(answered: dict[str, Optional[int]]) -> dict[int, list[str]]:
    """Repository id -> the watched names that answered with it, where more than one did (an old and
    a new name; the repository is kept once)."""
    names: dict[int, list[str]] = {}
    for name, repo_id in answered.items():
        if repo_id is not None:
            names.setdefault(repo_id, []).append(name)
    return {repo_id: found for repo_id, found in names.items() if len(found) > 1}
