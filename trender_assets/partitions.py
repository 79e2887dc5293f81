"""Partitions, defined once: every asset, job and schedule imports them from here."""

import warnings

import dagster as dg

from trender_assets.categories import LANGUAGE_LABELS, LANGUAGES, RENDER, START_DATE

__all__ = ["LANGUAGE_LABELS", "LANGUAGES", "RENDER", "START_DATE", "by_snapshot_date", "daily_partitions",
           "date_language_partitions", "language_partitions", "partition_key_for", "split_partition_key"]

# end_offset=1 makes today's partition exist: partition D is the snapshot observed on day D,
# and the daily schedule snapshots the current day at 14:00 UTC.
daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, end_offset=1, timezone="UTC")
language_partitions = dg.StaticPartitionsDefinition(LANGUAGES)
date_language_partitions = dg.MultiPartitionsDefinition(
    {"date": daily_partitions, "language": language_partitions}
)

with warnings.catch_warnings():  # beta in 1.13, and the only mapping that expresses "all languages of D"
    warnings.simplefilter("ignore", dg.BetaWarning)
    by_snapshot_date = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="date")
"""A daily mart partition D depends on all four language partitions of D."""


def split_partition_key(key: object) -> tuple[str, str]:
    """(date, language) from a multi-partition key, whether Dagster hands us a str or a MultiPartitionKey."""
    parsed = date_language_partitions.get_partition_key_from_str(str(key))
    dims = parsed.keys_by_dimension
    return dims["date"], dims["language"]


def partition_key_for(date: str, language: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"date": date, "language": language})
