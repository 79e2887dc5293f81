"""Turns one raw GitHub repository JSON into a typed staging row, or says why it cannot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from trender_assets.logic.repo_names import full_name_problem

INTEGER_MAX = 2**31 - 1
"""Counts are ``integer`` in staging and the marts; a larger count is rejected, not truncated."""
BIGINT_MAX = 2**63 - 1


class RejectedRecord(ValueError):
    """The record breaks a rule; the message is the reason stored in the rejects table."""


@dataclass(frozen=True)
class ValidRepo:
    repo_id: int
    repo_full_name: str
    owner_login: str
    repo_name: str
    github_language: str | None
    description: str | None
    homepage: str | None
    license_spdx: str | None
    topics: list[str]
    archived: bool
    html_url: str | None
    stars: int
    forks: int
    open_issues: int | None  # None: GitHub did not give it (unknown, not 0)
    created_at: datetime
    pushed_at: datetime | None
    updated_at: datetime | None


def clean_text(value: Any) -> str | None:
    """Strings without NUL bytes (PostgreSQL text cannot hold them); None stays None."""
    if value is None:
        return None
    return str(value).replace("\x00", "")


def parse_timestamp(value: Any, field: str, required: bool) -> datetime | None:
    if value in (None, ""):
        if required:
            raise RejectedRecord(f"missing {field}")
        return None
    if not isinstance(value, str):
        raise RejectedRecord(f"{field} is not a timestamp: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise RejectedRecord(f"{field} is not an ISO 8601 timestamp: {value!r}") from None


def _count(record: dict, field: str, required: bool, unknown: int | None = 0) -> int | None:
    """A whole-number count in the warehouse's range; ``unknown`` when an optional one is absent."""
    value = record.get(field)
    if value is None and not required:
        return unknown
    if isinstance(value, bool) or not isinstance(value, int):
        raise RejectedRecord(f"{field} is not a whole number: {value!r}")
    if value < 0:
        raise RejectedRecord(f"{field} is negative: {value}")
    if value > INTEGER_MAX:
        raise RejectedRecord(f"{field} is beyond the warehouse's integer range: {value}")
    return value


def end_of_day(day: date) -> datetime:
    """The last instant of ``day`` in UTC: nothing created later can belong to that day's snapshot."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=timezone.utc) - timedelta(microseconds=1)


def created_at_problem(record: Any, known_by: datetime) -> str | None:
    """Why a record's created_at places it on no day at all: missing, not a timestamp, or later
    than ``known_by`` (the answer that carried it; GitHub cannot know a repository from its
    future). Such a record is bad data, not one outside a day's window: it is stored raw and
    staging rejects it with its reason, as a search item would be."""
    value = record.get("created_at") if isinstance(record, dict) else None
    try:
        created_at = parse_timestamp(value, "created_at", required=True)
    except RejectedRecord as exc:
        return str(exc)
    if created_at > known_by:
        return f"created_at {created_at.isoformat()} is after the answer ({known_by.isoformat()})"
    return None


def validate_repo(record: Any, category: str, snapshot_date: date | None = None,
                  language_required: bool | None = None) -> ValidRepo:
    """Check the fields the marts rely on; raise RejectedRecord with the first broken rule.

    With ``snapshot_date``, a repository created after that day cannot be part of its snapshot.
    A language is required of a language category's records only (a topic, root-file or
    watchlist repository may have none); by default every category but ``render`` requires one.
    """
    if not isinstance(record, dict):
        raise RejectedRecord("record is not a JSON object")
    repo_id = record.get("id")
    if isinstance(repo_id, bool) or not isinstance(repo_id, int) or repo_id <= 0:
        raise RejectedRecord(f"id is not a positive integer: {repo_id!r}")
    if repo_id > BIGINT_MAX:
        raise RejectedRecord(f"id is beyond the 64-bit range: {repo_id}")
    full_name = clean_text(record.get("full_name"))
    if not full_name or full_name.count("/") != 1 or "" in full_name.split("/"):
        raise RejectedRecord(f"full_name is not owner/name: {record.get('full_name')!r}")
    problem = full_name_problem(full_name)
    if problem:
        raise RejectedRecord(problem)
    owner, name = full_name.split("/")
    language = clean_text(record.get("language"))
    if language_required is None:
        language_required = category != "render"
    if not language and language_required:
        raise RejectedRecord("missing language")
    stars = _count(record, "stargazers_count", required=True)
    created_at = parse_timestamp(record.get("created_at"), "created_at", required=True)
    if snapshot_date is not None and created_at > end_of_day(snapshot_date):
        raise RejectedRecord(f"created_at {created_at.isoformat()} is after the snapshot day {snapshot_date.isoformat()}")
    pushed_at = parse_timestamp(record.get("pushed_at"), "pushed_at", required=False)
    updated_at = parse_timestamp(record.get("updated_at"), "updated_at", required=False)
    if pushed_at is None and updated_at is None:
        raise RejectedRecord("missing pushed_at and updated_at")
    license_info = record.get("license")
    topics = record.get("topics") or []
    if not isinstance(topics, list):
        raise RejectedRecord("topics is not a list")
    return ValidRepo(
        repo_id=repo_id,
        repo_full_name=full_name,
        owner_login=owner,
        repo_name=name,
        github_language=language or None,
        description=clean_text(record.get("description")),
        homepage=clean_text(record.get("homepage")) or None,
        license_spdx=clean_text(license_info.get("spdx_id")) if isinstance(license_info, dict) else None,
        topics=sorted(clean_text(t) or "" for t in topics),
        archived=bool(record.get("archived", False)),
        html_url=clean_text(record.get("html_url")),
        stars=stars,
        forks=_count(record, "forks_count", required=False),
        # a count GitHub could not give (a partial GraphQL error, a field left out) is unknown: null, never 0
        open_issues=_count(record, "open_issues_count", required=False, unknown=None),
        created_at=created_at,
        pushed_at=pushed_at,
        updated_at=updated_at,
    )


def without_nul(value: Any) -> Any:
    """A JSON value with NUL characters removed from every string (jsonb rejects \\u0000)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value
