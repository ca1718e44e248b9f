"""Every table of a warehouse file as comparable frames: for tests that check two runs give
the same warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from transforms.warehouse import connect, insert_frame, query

# ingestion provenance is the one wall-clock reading; the run that first published an event
# is a run id, different for every run
WALL_CLOCK_COLUMNS = {"ingested_at", "first_published_run"}


def stored_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the warehouse's tables, staging ones aside."""
    return query(
        con,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_name NOT LIKE '%__staging' ORDER BY 1",
    )["table_name"].to_list()


def warehouse_tables(
    path: Path, skip: frozenset[str] | set[str] = frozenset(), landing: Path | None = None
) -> dict[str, pl.DataFrame]:
    """Every table but staging ones and `skip`, without wall-clock columns, rows sorted; with
    `landing`, its path is cut out of every text column (two runs on two folders compare)."""
    con = connect(path)
    try:
        names = stored_tables(con)
        tables = {}
        for name in names:
            if name in skip:
                continue
            frame = query(con, f'SELECT * FROM "{name}"')
            frame = frame.drop([c for c in frame.columns if c in WALL_CLOCK_COLUMNS])
            if landing is not None:
                frame = frame.with_columns(
                    pl.col(pl.String).str.replace(str(landing), "<landing>", literal=True)
                )
            tables[name] = frame.sort(frame.columns, nulls_last=True)
        return tables
    finally:
        con.close()


def tables_without_an_asset(path: Path, asset_keys: set[str]) -> list[str]:
    """The tables of the warehouse at `path` (staging ones aside) that are no asset key of
    `asset_keys`: every table the pipeline writes is an asset or an asset's declared output."""
    con = connect(path)
    try:
        names = stored_tables(con)
    finally:
        con.close()
    return [name for name in names if name not in asset_keys]


def deliver_attempts(con: duckdb.DuckDBPyConnection, source: str, rows: pl.DataFrame) -> None:
    """Land `rows` (the `attempts` columns but `source_id`) as one ingested file `source`."""
    insert_frame(con, "attempts", rows.with_columns(pl.lit(source).alias("source_id")))
    con.execute(
        "INSERT INTO ingested_files (content_hash, source_kind, path, status, rows_read, "
        "accepted, duplicates, rejected, ingested_at) VALUES (?, 'file', ?, 'ingested', ?, ?, "
        "0, 0, TIMESTAMP '2026-01-01')",
        [source, source, rows.height, rows.height],
    )
