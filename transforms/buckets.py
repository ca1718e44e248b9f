"""Learner buckets: `bucket = crc32(lower-case user_id) % B`, stored at ingest.

A learner's bucket never changes while B does not, so shards (Dagster partitions of the heavy
assets) are fixed sets of learners and the worker count is only a concurrency setting: it moves
no data. crc32 (zlib) is the same in every process and on every machine, unlike Python's
salted `hash()` or DuckDB's `hash()`, whose value is not part of any contract.

The warehouse records the B its `bucket` columns were computed with (`bucket_layout`, one
row); ingestion buckets new rows with it, and `ensure_bucket_layout` re-buckets every stored
row when the `PROGRESS_BUCKETS` setting changes (the one operation that moves learners between
shards).
"""

from __future__ import annotations

import zlib

import duckdb
import polars as pl

from transforms.settings import Settings
from transforms.warehouse import query, registered, scalar, table_exists, transaction

DEFAULT_BUCKETS: int = Settings.buckets  # the PROGRESS_BUCKETS default (64)
BUCKET_TYPE = "SMALLINT"
# the tables that carry a bucket column, stored at ingest (each has `user_id`)
BUCKETED_TABLES: tuple[str, ...] = ("attempts", "lms_events")


def bucket_of(user_id: str, buckets: int) -> int:
    """The bucket of one learner: crc32 of the canonical (lower-case) id, modulo `buckets`."""
    return zlib.crc32(user_id.strip().lower().encode("utf-8")) % buckets


def user_buckets(user_ids: pl.Series, buckets: int) -> pl.Series:
    """`bucket_of` of every id, computed once per distinct id (learners are few beside their
    rows), as Int16."""
    distinct = user_ids.unique().drop_nulls()
    mapping = {u: bucket_of(u, buckets) for u in distinct.to_list()}
    return user_ids.replace_strict(mapping, default=None, return_dtype=pl.Int16).alias("bucket")


def with_bucket(frame: pl.DataFrame, buckets: int) -> pl.DataFrame:
    """`frame` (with `user_id`) and its `bucket` column."""
    return frame.with_columns(user_buckets(frame["user_id"], buckets))


def stored_buckets(con: duckdb.DuckDBPyConnection) -> int:
    """The B the warehouse's bucket columns hold (`DEFAULT_BUCKETS` before any is recorded)."""
    if not table_exists(con, "bucket_layout"):
        return DEFAULT_BUCKETS
    value = scalar(con, "SELECT buckets FROM bucket_layout")
    return int(str(value)) if value is not None else DEFAULT_BUCKETS


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
            [table, column],
        )
    )


def _fill_buckets(
    con: duckdb.DuckDBPyConnection, table: str, buckets: int, only_missing: bool
) -> None:
    """Set `bucket` of every row of `table` (or of the rows without one) from its user_id."""
    missing = " AND bucket IS NULL" if only_missing else ""
    learners = query(con, f'SELECT DISTINCT user_id FROM "{table}" WHERE true{missing}')
    if not learners.height:
        return
    mapping = learners.with_columns(user_buckets(learners["user_id"], buckets).alias("b"))
    with registered(con, "_learner_buckets", mapping):
        con.execute(
            f'UPDATE "{table}" SET bucket = m.b FROM _learner_buckets m '
            f'WHERE "{table}".user_id = m.user_id{missing}'
        )


def migrate_bucket_column(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A warehouse from before buckets: add `table.bucket` and fill it with the stored B."""
    if not table_exists(con, table) or _has_column(con, table, "bucket"):
        return
    with transaction(con):
        con.execute(f'ALTER TABLE "{table}" ADD COLUMN bucket {BUCKET_TYPE}')
        _fill_buckets(con, table, stored_buckets(con), only_missing=True)


def ensure_bucket_layout(con: duckdb.DuckDBPyConnection, buckets: int) -> bool:
    """Make every bucket column hold `crc32 % buckets` (rows written around ingestion, without
    one, included); returns whether rows were re-bucketed (the setting changed since the
    warehouse recorded its layout)."""
    for table in BUCKETED_TABLES:
        migrate_bucket_column(con, table)
    moved = stored_buckets(con) != buckets
    with transaction(con):
        for table in BUCKETED_TABLES:
            if table_exists(con, table):
                _fill_buckets(con, table, buckets, only_missing=not moved)
        con.execute("CREATE OR REPLACE TABLE bucket_layout (buckets INTEGER NOT NULL)")
        con.execute("INSERT INTO bucket_layout VALUES (?)", [buckets])
    return moved
