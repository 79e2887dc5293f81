"""Stores the SCD2 versions of dim_repositories, derived from the stored observations.

For each affected repository the version chain is rebuilt from all its observations
(``logic.scd2.build_versions``). An existing version that is still wanted (same valid_from and
attributes) keeps its ``repo_key``; the rest are replaced. Runs inside the caller's transaction
and writes the dimension's tables only: facts carry the durable ``repo_id`` and their day, and
the ``fact_repo_snapshots`` view finds the version valid on that day when it is read
(sql/0010), so a rebuild for one day never rewrites another asset's rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterable

import sqlalchemy as sa

from trender_assets.logic.scd2 import Observation, Version, build_versions
from trender_assets.partition_lock import wait_for_lock

_REBUILD_LOCK_KEY = 7_310_221_002  # arbitrary, constant: "trender SCD2 version rebuild"


def lock_versions(conn: sa.Connection) -> None:
    """Exclusive: no other rebuild or retention touches versions until this transaction ends. The
    wait is not cut by the database's statement or lock timeout."""
    wait_for_lock(conn, sa.text("select pg_advisory_xact_lock(:k)"), {"k": _REBUILD_LOCK_KEY})


def _load_observations(conn: sa.Connection, repo_ids: list[int]) -> dict[int, list[Observation]]:
    """Only the change points of each repository's observations: the first observation and each
    one whose attributes differ from the day before. That is all ``build_versions`` keeps, and it
    keeps a day's load from growing with the number of days stored."""
    found: dict[int, list[Observation]] = defaultdict(list)
    rows = conn.execute(sa.text(
        "select o.repo_id, o.snapshot_date, o.attributes_hash, o.attributes from dim_repository_observations o"
        " join (select repo_id, snapshot_date, attributes_hash is distinct from lag(attributes_hash)"
        "         over (partition by repo_id order by snapshot_date) as changed"
        "       from dim_repository_observations where repo_id = any(:ids)) c"
        " using (repo_id, snapshot_date) where c.changed"
    ), {"ids": repo_ids})
    for repo_id, day, digest, attrs in rows:
        found[repo_id].append(Observation(day, digest, attrs))
    return found


def _version_row(repo_id: int, v: Version) -> dict:
    a = v.attributes
    return {
        "repo_id": repo_id, "name": a["repo_full_name"], "lang": a.get("language"),
        "descr": a.get("description"), "home": a.get("homepage"), "lic": a.get("license_spdx"),
        "topics": json.dumps(a.get("topics") or []), "archived": bool(a.get("archived")),
        "sha": a.get("readme_sha"), "url": a.get("html_url"), "created": a.get("created_at"),
        "hash": v.attributes_hash, "from": v.valid_from, "to": v.valid_to, "current": v.is_current,
    }


def rebuild_versions(conn: sa.Connection, repo_ids: Iterable[int]) -> dict[str, int]:
    """Bring the versions of ``repo_ids`` in line with their observations; returns change counts."""
    ids = sorted(set(repo_ids))
    counts = {"versions_inserted": 0, "versions_updated": 0, "versions_deleted": 0}
    if not ids:
        return counts
    # Serialize version rebuilds across runs (two days' dim runs at once, e.g. in a backfill):
    # without it the second transaction reads a stale chain and violates "one current version".
    lock_versions(conn)
    observations = _load_observations(conn, ids)
    existing: dict[tuple, tuple] = {}
    for key, repo_id, valid_from, digest, valid_to in conn.execute(sa.text(
        "select repo_key, repo_id, valid_from, attributes_hash, valid_to from dim_repositories"
        " where repo_id = any(:ids) for update"
    ), {"ids": ids}):
        existing[(repo_id, valid_from, digest)] = (key, valid_to)

    wanted: dict[tuple, tuple[int, Version]] = {}
    for repo_id in ids:
        for version in build_versions(observations.get(repo_id, [])):
            wanted[(repo_id, version.valid_from, version.attributes_hash)] = (repo_id, version)

    stale = [existing[k][0] for k in existing.keys() - wanted.keys()]
    if stale:
        conn.execute(sa.text("delete from dim_repositories where repo_key = any(:keys)"), {"keys": stale})
        counts["versions_deleted"] = len(stale)

    # Close versions before opening others, so "one current version per repository" always holds.
    changed = [(k, v) for k, v in wanted.items() if k in existing and existing[k][1] != v[1].valid_to]
    changed.sort(key=lambda kv: kv[1][1].is_current)
    if changed:  # one batch, in that order
        conn.execute(sa.text(
            "update dim_repositories set valid_to = :to, is_current = :current, loaded_at = now()"
            " where repo_key = :key"
        ), [{"to": v.valid_to, "current": v.is_current, "key": existing[k][0]} for k, (_id, v) in changed])
    counts["versions_updated"] = len(changed)

    new_rows = [_version_row(repo_id, v) for k, (repo_id, v) in wanted.items() if k not in existing]
    if new_rows:
        conn.execute(sa.text(
            "insert into dim_repositories (repo_id, repo_full_name, language, description, homepage,"
            " license_spdx, topics, archived, readme_sha, html_url, created_at, attributes_hash, valid_from,"
            " valid_to, is_current) values (:repo_id, :name, :lang, :descr, :home, :lic, cast(:topics as jsonb),"
            " :archived, :sha, :url, cast(:created as timestamptz), :hash, :from, :to, :current)"
        ), new_rows)
        counts["versions_inserted"] = len(new_rows)

    return counts
