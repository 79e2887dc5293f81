"""What was fetched for each raw partition, and what a re-run may do with a day because of it.

History is not rewritten by accident (DESIGN.md, decision 13): a day whose raw rows retention
deleted is not silently re-fetched with today's stars, a stored partition is not shrunk to the
anonymous size, and a mart run whose inputs are gone changes nothing.

Retention deletes raw rows but keeps their fetch records: a record whose rows are gone is how a
run that fetched a day, and met retention before its next step read the rows, knows what it lost
(``lost_inputs``) instead of storing nothing as if the day had been empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable, Optional

import sqlalchemy as sa


@dataclass(frozen=True)
class StoredPartition:
    rows: int
    fetched_at: Optional[datetime]
    repo_limit: Optional[int]  # None: fetched before fetches were recorded
    authenticated: Optional[bool]


def stored_partition(conn: sa.Connection, day: date, language: str) -> StoredPartition:
    row = conn.execute(sa.text(
        "select (select count(*) from raw_github_repos r where r.snapshot_date = :d and r.language = :l),"
        " (select min(fetched_at) from raw_github_repos r where r.snapshot_date = :d and r.language = :l),"
        " f.repo_limit, f.authenticated, f.fetched_at"
        " from (select 1) one left join raw_partition_fetches f on f.snapshot_date = :d and f.language = :l"
    ), {"d": day, "l": language}).one()
    return StoredPartition(rows=int(row[0]), fetched_at=row[1] or row[4], repo_limit=row[2], authenticated=row[3])


def record_fetch(conn: sa.Connection, day: date, language: str, fetched_at: datetime, repo_limit: int,
                 authenticated: bool, row_count: int, run_id: Optional[str]) -> None:
    """Call in the transaction that writes the raw rows, so the two never disagree."""
    conn.execute(sa.text(
        "insert into raw_partition_fetches (snapshot_date, language, fetched_at, repo_limit, authenticated,"
        " row_count, run_id) values (:d, :l, :at, :lim, :auth, :n, :run)"
        " on conflict (snapshot_date, language) do update set fetched_at = excluded.fetched_at,"
        " repo_limit = excluded.repo_limit, authenticated = excluded.authenticated,"
        " row_count = excluded.row_count, run_id = excluded.run_id"
    ), {"d": day, "l": language, "at": fetched_at, "lim": repo_limit, "auth": authenticated, "n": row_count,
        "run": run_id})


def expired_categories(conn: sa.Connection, day: date, languages: Optional[Iterable[str]] = None) -> list[str]:
    """Categories of ``day`` that have facts but neither raw rows nor staging rows, and whose last
    fetch (if recorded) did not come back empty: retention deleted their inputs. Re-deriving them
    from nothing would erase the kept facts."""
    wanted = sorted(set(languages)) if languages is not None else None
    found = conn.execute(sa.text(
        "select distinct f.language from fact_repo_snapshots f where f.snapshot_date = :d"
        " and not exists (select 1 from stg_repos_validated s where s.snapshot_date = :d and s.language = f.language)"
        " and not exists (select 1 from raw_github_repos r where r.snapshot_date = :d and r.language = f.language)"
        " and not exists (select 1 from raw_partition_fetches p where p.snapshot_date = :d"
        "                 and p.language = f.language and p.row_count = 0)"
        " order by 1"), {"d": day}).scalars().all()
    return [lang for lang in found if wanted is None or lang in wanted]


@dataclass(frozen=True)
class RemovedRows:
    language: str
    missing: int
    fetched_at: datetime


def removed_categories(conn: sa.Connection, day: date, languages: Optional[Iterable[str]] = None
                       ) -> list[RemovedRows]:
    """Categories of ``day`` whose recorded fetch stored rows that are no longer there: retention
    deleted them after the fetch, e.g. between a run's raw step and the steps that read it."""
    wanted = sorted(set(languages)) if languages is not None else None
    found = conn.execute(sa.text(
        "select p.language, p.row_count - (select count(*) from raw_github_repos r where r.snapshot_date = :d"
        "   and r.language = p.language) as missing, p.fetched_at"
        " from raw_partition_fetches p where p.snapshot_date = :d"
        " and (cast(:all as boolean) or p.language = any(cast(:l as text[])))"
        " order by 1"), {"d": day, "all": wanted is None, "l": wanted or []}).all()
    return [RemovedRows(lang, int(missing), at) for lang, missing, at in found if missing > 0]


def lost_inputs(conn: sa.Connection, day: date, languages: Optional[Iterable[str]] = None) -> Optional[str]:
    """Why staging or a mart must not derive ``day`` (its ``languages``, default all) from what is
    stored now, or None. The rule: a category whose fetched rows retention deleted fails with that
    reason; it is never derived as if it had been empty."""
    expired = expired_categories(conn, day, languages)
    if expired:
        return inputs_gone(day, expired)
    removed = removed_categories(conn, day, languages)
    return inputs_removed(day, removed) if removed else None


def refetch_refusal(day: date, categories: list[str]) -> str:
    """The one line that explains why a day is not re-fetched without being asked."""
    return (f"the raw data of {day} ({', '.join(categories)}) was deleted by retention while its facts are kept; "
            f"fetching it again would store today's star counts under {day} and replace those facts. "
            "Pass --refetch (the refetch config in the UI) to do that anyway")


def shrink_refusal(stored: int, limit: int, authenticated: bool) -> str:
    why = "without a token" if not authenticated else "with the current DEV_MODE / size settings"
    return (f"the stored partition holds {stored} repositories; a refetch {why} would replace them with at most "
            f"{limit}. Set GITHUB_TOKEN, or pass --allow-smaller (allow_smaller in the UI) to replace them anyway")


def inputs_gone(day: date, categories: list[str]) -> str:
    """Why a staging or mart run of an expired day changes nothing."""
    return (f"the raw and staging data of {day} ({', '.join(categories)}) were deleted by retention; its facts "
            "are kept as they are and nothing was changed. To rebuild the day from GitHub as it is now, "
            "materialize raw_github_repos with refetch (trender run --refetch)")


def inputs_removed(day: date, removed: list[RemovedRows]) -> str:
    """Why a staging or mart run stops when retention deleted raw rows its run had fetched."""
    when = min(r.fetched_at for r in removed).astimezone(timezone.utc)
    return (f"the {sum(r.missing for r in removed)} raw rows of {day} ({', '.join(r.language for r in removed)}) "
            f"fetched at {when:%Y-%m-%d %H:%M} UTC were deleted by retention before this run read them; nothing "
            f"was stored for them. Run {day} again to fetch it anew (retention keeps a day while a run is writing it)")
