"""Shared asset attributes and metadata helpers."""

from __future__ import annotations

from typing import Iterable, Sequence

import dagster as dg
import pandas as pd

OWNERS = ["team:data-engineering"]


def column_schema(*columns: tuple[str, str, str]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_, description=desc) for name, type_, desc in columns])


def markdown_table(rows: Iterable[dict], columns: Sequence[str], limit: int = 10) -> dg.MetadataValue:
    frame = pd.DataFrame(list(rows), columns=list(columns)).head(limit)
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.to_markdown(index=False, floatfmt=".4f"))
