"""What was fetched for each raw partition, and what a re-run may do with a day because of it.

History is not rewritten by accident (DESIGN.md, decision 13): a day whose raw rows retention
deleted is not silently re-fetched with today's stars, a stored partition is not shrunk to the
anonymous size, and a mart run whose inputs are gone changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
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
    """Categories of ``day`` that have facts but neither raw rows, staging rows nor a recorded fetch:
    retention deleted their inputs. Re-deriving them from nothing would erase the kept facts."""
    wanted = sorted(set(languages)) if languages is not None else None
    found = conn.execute(sa.text(
        "select distinct f.language from fact_repo_snapshots f where f.snapshot_date = :d"
        " and not exists (select 1 from stg_repos_validated s where s.snapshot_date = :d and s.language = f.language)"
        " and not exists (select 1 from raw_github_repos r where r.snapshot_date = :d and r.language = f.language)"
        " and not exists (select 1 from raw_partition_fetches p where p.snapshot_date = :d"
        "                 and p.language = f.language)"
        " order by 1"), {"d": day}).scalars().all()
    return [lang for lang in found if wanted is None or lang in wanted]


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
