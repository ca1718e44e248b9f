"""Materialization metadata helpers shared by every domain."""

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
