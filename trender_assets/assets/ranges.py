"""Range runs: one step materializes 1..N partitions, date x language (raw, staging) or days (the
daily marts and the report), through one loop.

A day's four categories in one run share one GitHub client (one rate governor, one in-flight
bound), so their waits overlap; an asset backfill of many days needs few runs. Each partition
still keeps its own lock, transaction and metadata: this module runs them, hands each partition's
metadata to its own materialization, and decides what a failure means for the range.

Failure scope: every partition is attempted, and each one's write stands on its own (idempotent,
reused by a re-run). When any fails, the step fails naming each failed partition and its cause,
and Dagster records no materialization for the range: nothing claims a partition the run did not
finish as a whole. A single-partition run behaves as before: its error propagates unchanged.

Categories by name, not by position: Dagster reads a range run's two ends (``python..render``) as
every category between them in the partition order of the process that executes it, and each
process reads ``trender.yaml`` when it starts. After an edit, the process that launched a run and
the one that executes it can disagree (a category inserted in the middle, one removed, the order
changed). A date x language range run therefore carries what its launcher meant, and refuses to
start when this process reads it otherwise (``check_launched_categories``).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from typing import Any, Callable, Iterable, Optional

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from trender_assets.partitions import LANGUAGES, partition_key_for, split_partition_key

CATEGORIES_TAG = "trender/categories"
"""Run tag: the categories of a range run of date x language partitions, by key and in order, as
its launcher meant them (written where trender launches range runs: the runner, the schedule)."""
CATEGORY_ORDER_TAG = "trender/category_order"
"""Op tag of the date x language assets: the categories in partition order as the code location
read them when it loaded. A run stores its launcher's job snapshot, op tags included, so a range
run launched by Dagster itself (an asset backfill, the automation sensor) still says which order
its two ends were meant in."""


def category_order_tags() -> dict[str, str]:
    """The date x language assets' op tags: this process's category order (see CATEGORY_ORDER_TAG)."""
    return {CATEGORY_ORDER_TAG: ",".join(LANGUAGES)}

RANGE_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=31)
"""An asset backfill asks for one run per contiguous key range: a day's four categories (up to
four days), or one category over many days. A run records its materializations only when its step
ends, and one failed partition leaves its whole range unrecorded: a month of one category per run
bounds both (a month of render discovery at GitHub's code-search limit is already an hour), while
a 30-day backfill stays at four ingest runs."""

PartitionWork = Callable[..., dict[str, Any]]
"""The partition's key read by ``key_args`` -> its materialization metadata; raises when it fails."""
DayWork = Callable[[date], dict[str, Any]]
"""One day's write, in its own transaction -> that partition's materialization metadata."""


def materialize_partitions(context: dg.AssetExecutionContext, work: PartitionWork, at_once: int = 1,
                           key_args: Callable[[str], tuple] = split_partition_key) -> dg.MaterializeResult:
    """Run ``work(*key_args(key))`` for each partition of the run, in the run's key order (a day
    range is oldest first), up to ``at_once`` at a time. ``key_args`` reads a key into ``work``'s
    arguments: (day, language) by default."""
    if isinstance(context.assets_def.partitions_def, dg.MultiPartitionsDefinition):
        check_launched_categories(context)
    keys = [str(key) for key in context.partition_keys]
    if len(keys) == 1:
        return dg.MaterializeResult(metadata=work(*key_args(keys[0])))

    written: dict[str, dict[str, Any]] = {}
    failed: dict[str, Exception] = {}
    if at_once <= 1:
        for key in keys:
            try:
                written[key] = work(*key_args(key))
            except Exception as exc:  # noqa: BLE001 - named in the range's failure below
                failed[key] = exc
    else:
        pool = ThreadPoolExecutor(max_workers=min(at_once, len(keys)), thread_name_prefix="partition")
        try:
            futures: dict[str, Future] = {key: pool.submit(work, *key_args(key)) for key in keys}
            for key, future in futures.items():
                try:
                    written[key] = future.result()
                except Exception as exc:  # noqa: BLE001 - named in the range's failure below
                    failed[key] = exc
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # interrupted: start no further partition
            raise
        pool.shutdown()

    if failed:
        failure = range_failure(context.assets_def.key.to_user_string(), keys, written, failed)
        raise failure from next(iter(failed.values()))
    for key in keys:
        context.add_asset_metadata(written[key], partition_key=key)
    return dg.MaterializeResult()


def _day(key: str) -> tuple[date]:
    return (date.fromisoformat(key),)


def materialize_days(context: dg.AssetExecutionContext, work: DayWork) -> dg.MaterializeResult:
    """Run ``work`` for each day of a daily asset's run, oldest first, one at a time."""
    return materialize_partitions(context, work, key_args=_day)


def failure_cause(exc: BaseException) -> str:
    text = exc.description if isinstance(exc, dg.Failure) and exc.description else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def range_failure(asset: str, keys: list[str], written: dict[str, dict[str, Any]],
                  failed: dict[str, Exception]) -> dg.Failure:
    causes = {key: failure_cause(exc) for key, exc in failed.items()}
    stored = {key: _row_count(meta) for key, meta in written.items()}
    description = (
        f"{len(failed)} of {len(keys)} partitions of {asset} failed: "
        + "; ".join(f"{key}: {cause}" for key, cause in causes.items())
        + (f". The other {len(written)} were written and a re-run reuses them, but this run records no "
           "materialization for any of its partitions" if written else "")
    )
    return dg.Failure(
        description=description,
        metadata={"failed_partitions": dg.MetadataValue.json(causes),
                  "written_partitions": dg.MetadataValue.json(stored)},
        allow_retries=all(getattr(exc, "allow_retries", True) for exc in failed.values()),
    )


def _row_count(metadata: dict[str, Any]) -> Any:
    value = metadata.get("dagster/row_count")
    return getattr(value, "value", value)


def language_blocks(languages: Iterable[str]) -> list[list[str]]:
    """The selected languages in partition order, cut where that order skips one: each block is
    one contiguous key range of a day (all four, python..go, or render alone...)."""
    wanted = set(languages)
    unknown = wanted - set(LANGUAGES)
    if unknown:
        raise ValueError(f"unknown languages: {', '.join(sorted(unknown))}")
    blocks: list[list[str]] = []
    previous = None
    for index, language in enumerate(LANGUAGES):
        if language not in wanted:
            continue
        if blocks and previous == index - 1:
            blocks[-1].append(language)
        else:
            blocks.append([language])
        previous = index
    return blocks


def day_range_tags(day: str, block: list[str]) -> dict[str, str]:
    """Run tags that make one run of ``block``'s partitions of ``day`` (as an asset backfill tags
    its range runs), with the categories it is meant for by name (CATEGORIES_TAG)."""
    return {ASSET_PARTITION_RANGE_START_TAG: str(partition_key_for(day, block[0])),
            ASSET_PARTITION_RANGE_END_TAG: str(partition_key_for(day, block[-1])),
            CATEGORIES_TAG: ",".join(block)}


def _language_of(key: str) -> str:
    """The category of a date x language key, read as text: it may not be a category of this process."""
    return key.rpartition("|")[2]


def launched_categories(context: dg.AssetExecutionContext) -> Optional[list[str]]:
    """The categories a run was launched for: its CATEGORIES_TAG, else the one of its partition key,
    else its range's two ends read in the launcher's order (the run's job snapshot,
    CATEGORY_ORDER_TAG). None for a run that says neither."""
    tags = context.dagster_run.tags
    if tags.get(CATEGORIES_TAG):
        return tags[CATEGORIES_TAG].split(",")
    if tags.get(PARTITION_NAME_TAG):
        return [_language_of(tags[PARTITION_NAME_TAG])]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    order = _launcher_order(context) if start and end else None
    if not order or _language_of(start) not in order or _language_of(end) not in order:
        return None
    first, last = order.index(_language_of(start)), order.index(_language_of(end))
    return order[first:last + 1]


def _launcher_order(context: dg.AssetExecutionContext) -> Optional[list[str]]:
    run = context.dagster_run
    snapshot = context.instance.get_job_snapshot(run.job_snapshot_id) if run.job_snapshot_id else None
    for op in snapshot.node_defs_snapshot.op_def_snaps if snapshot else ():
        if op.name == context.op_def.name and op.tags.get(CATEGORY_ORDER_TAG):
            return op.tags[CATEGORY_ORDER_TAG].split(",")
    return None


def check_launched_categories(context: dg.AssetExecutionContext) -> None:
    """Rule: a run fetches exactly the categories its partition keys named where it was launched,
    or refuses in one line, before any work, when this process's trender.yaml reads them otherwise
    (a category it does not have, or a range whose ends enclose other categories here); never
    fewer or more, silently."""
    meant = launched_categories(context)
    if meant is None:
        return
    tags = context.dagster_run.tags
    span = tags.get(PARTITION_NAME_TAG) or \
        f"{tags.get(ASSET_PARTITION_RANGE_START_TAG)}..{tags.get(ASSET_PARTITION_RANGE_END_TAG)}"
    changed = ("trender.yaml changed after the run was launched (reload the code location, or restart "
               "trender dev, and launch it again)")
    missing = [key for key in meant if key not in LANGUAGES]
    if missing:
        raise dg.Failure(f"run {span} was launched for categories {', '.join(meant)}, but this process's "
                         f"trender.yaml has no {', '.join(missing)}: {changed}", allow_retries=False)
    here = list(dict.fromkeys(_language_of(str(key)) for key in context.partition_keys))
    if set(here) != set(meant):
        raise dg.Failure(f"run {span} was launched for categories {', '.join(meant)}, but this process's "
                         f"trender.yaml reads it as {', '.join(here)}: {changed}", allow_retries=False)
