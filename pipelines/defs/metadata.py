"""Materialization metadata helpers shared by every domain."""

from collections.abc import Iterator, Mapping
from datetime import datetime

import dagster as dg
import duckdb
import polars as pl

from transforms.warehouse import scalar


def preview(frame: pl.DataFrame, rows: int = 10) -> dg.MarkdownMetadataValue:
    """The first rows of a frame as a Markdown table for the Dagster UI."""
    head = frame.head(rows)
    header = "| " + " | ".join(head.columns) + " |"
    rule = "|" + "---|" * len(head.columns)
    body = [
        "| " + " | ".join("" if v is None else str(v) for v in row) + " |"
        for row in head.iter_rows()
    ]
    return dg.MetadataValue.md("\n".join([header, rule, *body]))


def table_counts(con: duckdb.DuckDBPyConnection, tables: list[str]) -> dict[str, int]:
    return {t: int(str(scalar(con, f'SELECT count(*) FROM "{t}"'))) for t in tables}


def table_results(
    tables: Mapping[str, pl.DataFrame], as_of: datetime
) -> Iterator[dg.MaterializeResult]:
    """One materialization per table computed as of `as_of`: its rows, the as-of time and a
    preview."""
    for name, frame in tables.items():
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": frame.height,
                "as_of": as_of.isoformat(),
                "preview": preview(frame),
            },
        )
