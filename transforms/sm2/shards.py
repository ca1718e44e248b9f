"""SM-2 by learner bucket into the lake, and the lake into the warehouse (the sharded run).

Each bucket is a fixed set of learners (`transforms/buckets.py`), so a bucket's `reviews` and
`word_progress` rows depend on its learners' attempts only: bucket steps run in any order, in
parallel, on any machine, and together give the rows of the single-process recompute
(`transforms/sm2/store.py`), whatever the number of buckets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl
from deltalake import write_deltalake

from transforms import lake
from transforms.as_of import NO_ATTEMPTS_AS_OF
from transforms.incremental import mark_touched
from transforms.sm2 import SM2Params
from transforms.sm2.store import (
    ALL_SOURCES,
    ATTEMPT_COLUMNS,
    COMPUTE_WORKERS,
    SrsState,
    _compute_parts,
    _record_state,
    current_words,
)
from transforms.warehouse import query, replace_table, transaction

SRS_LAKE_TABLES: tuple[str, ...] = ("reviews", "word_progress")
# the bucket steps' inputs, exported by the step before them: the attempts up to as of (by
# bucket), the course words in force and the as-of time (one row), so that a worker needs the
# lake and the code, not the warehouse
INPUT_ATTEMPTS, INPUT_WORDS, INPUT_AS_OF = "srs_attempts", "srs_words", "srs_as_of"
CARD_TIME_ORDER = ["user_id", "language", "word_uid", "attempted_at", "uuid_local"]


def export_srs_inputs(
    con: duckdb.DuckDBPyConnection,
    lake_path: str,
    options: Mapping[str, str],
    as_of: datetime,
    buckets: Sequence[int] | None = None,
) -> int:
    """Write the bucket steps' inputs to the lake (the attempts streamed from DuckDB, each
    table replaced in one commit): the attempts of `buckets` only (all by default: the
    buckets this run recomputes); returns the attempts exported."""
    only = "" if buckets is None else " AND list_contains($buckets, bucket)"
    values: dict[str, object] = {"as_of": as_of}
    if buckets is not None:
        values["buckets"] = [int(b) for b in buckets]
    attempts = con.sql(
        f"SELECT {ATTEMPT_COLUMNS}, bucket FROM attempts WHERE attempted_at <= $as_of{only}",
        params=values,
    ).to_arrow_reader()
    write_deltalake(
        lake.table_uri(lake_path, INPUT_ATTEMPTS),
        attempts,
        partition_by=[lake.BUCKET],
        mode="overwrite",
        schema_mode="overwrite",
        storage_options=dict(options),
    )
    for table, frame in (
        (INPUT_WORDS, current_words(con, as_of)),
        (INPUT_AS_OF, pl.DataFrame({"as_of": [as_of]}, schema={"as_of": pl.Datetime("us")})),
    ):
        frame.write_delta(
            lake.table_uri(lake_path, table),
            mode="overwrite",
            storage_options=dict(options),
            delta_write_options={"schema_mode": "overwrite"},
        )
    return (
        lake.scan(lake.table_uri(lake_path, INPUT_ATTEMPTS), options)
        .select(pl.len())
        .collect()
        .item()
    )


@dataclass(frozen=True)
class BucketInputs:
    """What a bucket step reads: its learners' attempts (sorted by card and time), the course
    words in force and the as-of time."""

    attempts: pl.DataFrame
    words: pl.DataFrame
    as_of: datetime


def read_bucket(lake_path: str, options: Mapping[str, str], bucket: int) -> BucketInputs:
    """Bucket `bucket`'s inputs from the lake (only its partition's files are read)."""
    attempts = (
        lake.scan(lake.table_uri(lake_path, INPUT_ATTEMPTS), options)
        .filter(pl.col(lake.BUCKET) == bucket)
        .drop(lake.BUCKET)
        .sort(CARD_TIME_ORDER)
        .collect()
    )
    words = lake.scan(lake.table_uri(lake_path, INPUT_WORDS), options).collect()
    as_of = lake.scan(lake.table_uri(lake_path, INPUT_AS_OF), options).collect()["as_of"][0]
    return BucketInputs(attempts, words, as_of)


def compute_bucket(
    inputs: BucketInputs, params: SM2Params, bucket: int, workers: int = COMPUTE_WORKERS
) -> dict[str, pl.DataFrame]:
    """Bucket `bucket`'s rows of each SRS lake table (with their `bucket` column)."""
    with ThreadPoolExecutor(workers) as pool:
        reviews, progress = _compute_parts(pool, inputs.attempts, params, inputs.words, workers)
    stamp = pl.lit(bucket, dtype=pl.Int16).alias(lake.BUCKET)
    return {
        "reviews": reviews.with_columns(stamp),
        "word_progress": progress.with_columns(stamp),
    }


def srs_lake_schemas(con: duckdb.DuckDBPyConnection) -> dict[str, pl.Schema]:
    """The schema of each SRS lake table: what `compute_bucket` gives for no attempts."""
    none = BucketInputs(
        query(con, f"SELECT {ATTEMPT_COLUMNS} FROM attempts LIMIT 0"),
        current_words(con, NO_ATTEMPTS_AS_OF),
        NO_ATTEMPTS_AS_OF,
    )
    empty = compute_bucket(none, SM2Params(), bucket=-1, workers=1)
    return {table: frame.schema for table, frame in empty.items()}


def ensure_srs_lake(
    con: duckdb.DuckDBPyConnection,
    lake_path: str,
    options: Mapping[str, str],
    empty: bool = False,
) -> list[str]:
    """`lake.ensure_tables` for the SRS tables."""
    return lake.ensure_tables(lake_path, srs_lake_schemas(con), options, empty)


def load_srs_from_lake(
    con: duckdb.DuckDBPyConnection,
    lake_path: str,
    options: Mapping[str, str],
    params: SM2Params,
    as_of: datetime,
) -> dict[str, int]:
    """Replace the warehouse's `reviews` and `word_progress` by the lake's live rows (without
    `bucket`), in one transaction with the SM-2 state they were computed from, every card
    marked touched for the incremental consumers (as a full recompute does); returns the
    rows of each."""
    frames = {
        table: lake.scan(lake.table_uri(lake_path, table), options)
        .drop(lake.BUCKET)
        .sort(
            "user_id",
            "language",
            "word_uid",
            *(["reviewed_at", "uuid_local"] if table == "reviews" else []),
        )
        .collect()
        for table in SRS_LAKE_TABLES
    }
    state = SrsState.of(params, as_of, current_words(con, as_of))
    with transaction(con):
        for table, frame in frames.items():
            replace_table(con, table, frame)
        _record_state(con, state, ALL_SOURCES)
        mark_touched(con, None)
    return {table: frame.height for table, frame in frames.items()}


def compact_srs_lake(lake_path: str, options: Mapping[str, str]) -> dict[str, int]:
    """Compact and vacuum every SRS lake table; the summed file counts."""
    totals: dict[str, int] = {}
    for table in SRS_LAKE_TABLES:
        for key, value in lake.compact_and_vacuum(
            lake.table_uri(lake_path, table), options
        ).items():
            totals[key] = totals.get(key, 0) + value
    return totals
