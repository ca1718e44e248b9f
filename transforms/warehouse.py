"""The warehouse's core tables (DDL) and small DuckDB helpers shared by every layer."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from transforms.ingest.fields import RECORD_TYPES
from transforms.settings import Settings


def rejects_ddl(table: str) -> str:
    """A table of rejected rows of a landed record type: where each came from, why, its raw
    text (`attempt_rejects`, `lms_event_rejects`)."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
        source_id VARCHAR NOT NULL, source_row BIGINT NOT NULL, reason VARCHAR NOT NULL,
        message VARCHAR NOT NULL, raw VARCHAR)"""


def ledger_ddl(table: str) -> str:
    """A content-hash ledger of ingested sources: rows read = accepted + duplicates + rejected
    (`ingested_files`, `lms_ingested_files`)."""
    return f"""CREATE TABLE IF NOT EXISTS {table} (
        content_hash VARCHAR PRIMARY KEY, source_kind VARCHAR NOT NULL, path VARCHAR NOT NULL,
        format VARCHAR, size_bytes BIGINT, status VARCHAR NOT NULL, error VARCHAR,
        rows_read BIGINT NOT NULL, accepted BIGINT NOT NULL, duplicates BIGINT NOT NULL,
        rejected BIGINT NOT NULL, watermark TIMESTAMP, ingested_at TIMESTAMP NOT NULL)"""


CORE_DDL: tuple[str, ...] = (
    # One table per landed record type: attempts, one row per accepted attempt (uuid_local).
    # Timestamps are naive UTC.
    *(record.ddl() for record in RECORD_TYPES),
    # One row per rejected row: where it came from, why, and its raw text.
    rejects_ddl("attempt_rejects"),
    # One row per ingested source (a file by content hash, or a Postgres batch).
    ledger_ddl("ingested_files"),
    # One row per landing path seen, so unchanged files are skipped without hashing them again.
    """CREATE TABLE IF NOT EXISTS landing_paths (
        path VARCHAR PRIMARY KEY, size_bytes BIGINT NOT NULL, mtime_ns BIGINT NOT NULL,
        content_hash VARCHAR NOT NULL)""",
    # One row per Postgres attempt row already ingested within the lookback window (a fingerprint
    # of the whole row), so re-reading the window adds nothing twice.
    """CREATE TABLE IF NOT EXISTS postgres_rows (
        row_key VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL, source_id VARCHAR NOT NULL)""",
    # One row per (language, version).
    """CREATE TABLE IF NOT EXISTS manifest_versions (
        language VARCHAR NOT NULL, version INTEGER NOT NULL, published_at TIMESTAMP NOT NULL,
        in_force_until TIMESTAMP, word_count INTEGER NOT NULL, content_hash VARCHAR NOT NULL,
        source VARCHAR NOT NULL, PRIMARY KEY (language, version))""",
    # One row per (language, version, word_uid).
    """CREATE TABLE IF NOT EXISTS manifest_words (
        language VARCHAR NOT NULL, version INTEGER NOT NULL, word_uid VARCHAR NOT NULL,
        level INTEGER NOT NULL, level_title VARCHAR, group_uid VARCHAR NOT NULL,
        group_title VARCHAR, position INTEGER NOT NULL, text VARCHAR, translation VARCHAR,
        PRIMARY KEY (language, version, word_uid))""",
    # One row per rejected manifest source (a file or a Postgres row), by content hash.
    """CREATE TABLE IF NOT EXISTS manifest_rejects (
        content_hash VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, language VARCHAR,
        version INTEGER, reason VARCHAR NOT NULL, message VARCHAR NOT NULL)""",
    # One row per learner with a cohorts file entry.
    """CREATE TABLE IF NOT EXISTS cohorts (
        user_id VARCHAR PRIMARY KEY, cohort VARCHAR NOT NULL, educator VARCHAR,
        source VARCHAR NOT NULL)""",
)


CORE_TABLES: tuple[str, ...] = tuple(
    re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", "\n".join(CORE_DDL))
)


def duckdb_config(memory_limit: str) -> dict[str, str | bool | int | float | list[str]]:
    """DuckDB's memory limit (`PROGRESS_DUCKDB_MEMORY`): beyond it DuckDB spills to disk, so
    its buffer pool does not grow with the warehouse (its own default is 80% of the machine's
    memory)."""
    return {"memory_limit": memory_limit}


def connect(path: Path | str, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating its folder and core tables if needed; `memory_limit`
    unset means the `PROGRESS_DUCKDB_MEMORY` setting.

    Timestamps are naive UTC throughout (TIMESTAMP, not TIMESTAMPTZ), so no session time zone
    (and no ICU extension) is involved in day and week boundaries."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    if memory_limit is None:
        memory_limit = Settings.from_env().duckdb_memory
    con = duckdb.connect(str(path), config=duckdb_config(memory_limit))
    ensure_core_tables(con)
    return con


def ensure_core_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the core tables that are missing, and the bucket column of a warehouse from
    before buckets. Every step opens the warehouse, so the usual case (all there) is one
    catalog query."""
    from transforms.buckets import migrate_bucket_column  # it uses this module's helpers

    ready = scalar(
        con,
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE list_contains($1, table_name)) = $2 "
        "AND (SELECT count(*) FROM duckdb_columns() "
        "WHERE table_name = 'attempts' AND column_name = 'bucket') = 1",
        [list(CORE_TABLES), len(CORE_TABLES)],
    )
    if ready:
        return
    for ddl in CORE_DDL:
        con.execute(ddl)
    migrate_bucket_column(con, "attempts")  # a warehouse from before buckets


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Commit on success, roll back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


@contextmanager
def registered(
    con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Make a Polars frame queryable by `name` for the duration of the block."""
    con.register(name, frame)
    try:
        yield con
    finally:
        con.unregister(name)


def insert_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, verb: str = "INSERT"
) -> int:
    """Append a Polars frame to a table by column name (`verb` may be "INSERT OR REPLACE");
    returns the rows written."""
    if frame.height:
        with registered(con, "_insert_frame", frame):
            con.execute(f'{verb} INTO "{table}" BY NAME SELECT * FROM _insert_frame')
    return frame.height


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Atomically replace a derived table with a frame."""
    with registered(con, "_replace_frame", frame):
        con.execute(f'CREATE OR REPLACE TABLE "{table}" AS SELECT * FROM _replace_frame')
    return frame.height


def replace_tables(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pl.DataFrame]) -> None:
    """Replace every derived table of `tables` (warehouse name -> frame) in one transaction:
    a step's tables change together or not at all."""
    with transaction(con):
        for name, frame in tables.items():
            replace_table(con, name, frame)


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None
) -> pl.DataFrame:
    """Run a read query with `?` parameters into a Polars frame."""
    return con.sql(sql, params=params).pl()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> object:
    """The first column of the first row (the whole result is drained: duckdb 2 keeps a
    partly fetched result open and refuses other work on the connection)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether a table or view named `table` exists (DuckDB's own catalog functions: several
    times faster than information_schema, and every step asks)."""
    return bool(
        scalar(
            con,
            "SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = $1) "
            "+ (SELECT count(*) FROM duckdb_views() WHERE view_name = $1)",
            [table],
        )
    )
