"""Forget the materializations of asset partitions whose data was deleted.

``DagsterInstance.wipe_asset_partitions`` is the API for this, but open-source Dagster 1.13's
SQL event log storages (SQLite and PostgreSQL) raise NotImplementedError for it. Then the
partition's materialization events are removed from the storage's asset index, and its status
cache is reset, so the UI shows the partition as missing. Run history (the run's own event log)
is kept.
"""

from __future__ import annotations

from typing import Sequence

import dagster as dg
import sqlalchemy as sa


def wipe_partitions(instance: dg.DagsterInstance, asset_key: dg.AssetKey, partitions: Sequence[str]) -> None:
    if not partitions:
        return
    try:
        instance.wipe_asset_partitions(asset_key, list(partitions))
        return
    except NotImplementedError:
        pass
    from dagster._core.storage.event_log.schema import AssetEventTagsTable, SqlEventLogStorageTable
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        raise NotImplementedError(f"cannot wipe partitions in {type(storage).__name__}")
    events = SqlEventLogStorageTable
    key = asset_key.to_string()
    with storage.index_connection() as conn:
        ids = [row[0] for row in conn.execute(
            sa.select(events.c.id).where(events.c.asset_key == key, events.c.partition.in_(list(partitions)))
        )]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            conn.execute(sa.delete(AssetEventTagsTable).where(AssetEventTagsTable.c.event_id.in_(chunk)))
            conn.execute(sa.delete(events).where(events.c.id.in_(chunk)))
    storage.wipe_asset_cached_status(asset_key)
