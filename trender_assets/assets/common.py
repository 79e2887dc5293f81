"""Shared asset attributes and metadata helpers."""

from __future__ import annotations

from itertools import islice
from typing import Iterable, Sequence

import dagster as dg
from tabulate import tabulate

OWNERS = ["team:data-engineering"]


def column_schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=desc) for name, type_, desc in columns])


def markdown_table(rows: Iterable[dict], columns: Sequence[str], limit: int = 10) -> dg.MetadataValue:
    """A small preview table for the UI (tabulate directly: pandas would cost a second of import)."""
    head = [[row.get(c) for c in columns] for row in islice(rows, limit)]
    if not head:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(tabulate(head, headers=list(columns), tablefmt="pipe", floatfmt=".4f"))
