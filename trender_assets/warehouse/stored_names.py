"""What a repository name meant in the warehouse before a day: the id last stored under it.

A watchlist names repositories, but a name is not an identity (see ``logic.repo_names``). The
warehouse knows which repository each name meant from two places: raw rows of any category (the
name as fetched) and the dimension's daily observations, which outlive raw retention.
"""

from __future__ import annotations

from datetime import date
from typing import Iterable

import sqlalchemy as sa

from trender_assets.logic.repo_names import StoredName

_LAST_STORED = sa.text("""
select distinct on (lower(name)) lower(name) as key, repo_id, name, stored_on from (
    select repo_full_name as name, repo_id, snapshot_date as stored_on from raw_github_repos
     where snapshot_date < :d and repo_id is not null and lower(repo_full_name) = any(:names)
    union all
    select attributes->>'repo_full_name', repo_id, snapshot_date from dim_repository_observations
     where snapshot_date < :d and lower(attributes->>'repo_full_name') = any(:names)
) stored
order by lower(name), stored_on desc, repo_id
""")


def last_stored(conn: sa.Connection, names: Iterable[str], day: date) -> dict[str, StoredName]:
    """Lower-cased name -> the repository last stored under it before ``day`` (names never stored
    are absent)."""
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return {}
    return {row.key: StoredName(row.repo_id, row.name, row.stored_on)
            for row in conn.execute(_LAST_STORED, {"d": day, "names": wanted})}
