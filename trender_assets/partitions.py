"""Partitions, defined once: every asset, job and schedule imports them from here."""

import warnings

import dagster as dg

START_DATE = "2026-01-01"

LANGUAGE_LABELS = {"python": "Python", "typescript": "TypeScript", "go": "Go"}
"""Partition key -> GitHub's name of the language, for the search qualifier."""

RENDER = "render"
LANGUAGES = [*LANGUAGE_LABELS, RENDER]

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
