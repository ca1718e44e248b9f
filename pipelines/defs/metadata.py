"""Materialization metadata helpers shared by every domain."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import plotly.graph_objects as go
import polars as pl

from reports.export import export_pngs
from transforms.warehouse import query, scalar, table_exists


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


def bookkeeping_specs(grains: Mapping[str, str]) -> list[dg.AssetSpec]:
    """The specs of a step's bookkeeping tables (`grains`: table -> "One row per ..."): the
    state the step keeps for its next run, declared as its outputs so that every table the
    pipeline writes is in the asset graph. Nothing downstream reads them."""
    return [dg.AssetSpec(name, description=grain) for name, grain in grains.items()]


def bookkeeping_results(
    con: duckdb.DuckDBPyConnection, names: Sequence[str]
) -> Iterator[dg.MaterializeResult]:
    """One materialization per bookkeeping table: its rows (0 when the step has not made it)."""
    for name in names:
        rows = table_counts(con, [name])[name] if table_exists(con, name) else 0
        yield dg.MaterializeResult(asset_key=name, metadata={"dagster/row_count": rows})


def stored_table_results(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    as_of: datetime,
    rebuilt: Mapping[str, pl.DataFrame],
    extra: Mapping[str, str | int | float],
) -> list[dg.MaterializeResult]:
    """One materialization per table a step updates in place (a nightly run rewrites only the
    rows it touched): the stored table's rows and preview, the rows rebuilt (`rebuilt`), the
    as-of time and the `extra` metadata every table of the step shares."""
    counts = table_counts(con, list(names))
    return [
        dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": counts[name],
                "rows_rebuilt": rebuilt[name].height if name in rebuilt else 0,
                "as_of": as_of.isoformat(),
                **extra,
                "preview": preview(query(con, f'SELECT * FROM "{name}" LIMIT 10')),
            },
        )
        for name in names
    ]


def table_results(
    tables: Mapping[str, pl.DataFrame],
    as_of: datetime,
    extra: Mapping[str, str | int | float] | None = None,
) -> Iterator[dg.MaterializeResult]:
    """One materialization per table computed as of `as_of`: its rows, the as-of time, a
    preview, and the `extra` metadata every table of the step shares."""
    for name, frame in tables.items():
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": frame.height,
                "as_of": as_of.isoformat(),
                **(extra or {}),
                "preview": preview(frame),
            },
        )


def pages_result(
    pages: Sequence[Path],
    figures: list[tuple[str, go.Figure]],
    png_folder: Path,
    export_png: bool,
    extra: Mapping[str, str | int | float] | None = None,
) -> dg.MaterializeResult:
    """A report asset's materialization: its pages (the first one's path), its figures' PNG
    copies when `export_png` (written here), and the `extra` metadata."""
    pngs, note = export_pngs(figures, png_folder) if export_png else ([], "disabled")
    return dg.MaterializeResult(
        metadata={
            "pages": len(pages),
            **(extra or {}),
            "png_export": note,
            "pngs": len(pngs),
            **({"path": dg.MetadataValue.path(str(pages[0].resolve()))} if pages else {}),
        }
    )
