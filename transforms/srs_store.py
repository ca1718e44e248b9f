"""Recompute the SRS tables in the warehouse, learner batch by learner batch.

Learners are split by a hash of `user_id` into `batches`; each batch's full histories are read,
replayed and written to staging tables, which replace the live tables in one transaction at the
end. Memory is bounded by a batch, not by the whole history.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from transforms.ingest.fields import READ_COLUMNS
from transforms.sm2 import SM2Params
from transforms.srs import (
    build_due_forecast,
    build_reviews,
    build_word_progress,
    learner_parts,
    newest_manifest_words,
)
from transforms.warehouse import insert_frame, query, replace_table, scalar, transaction

ATTEMPT_COLUMNS = ", ".join(READ_COLUMNS)  # the attempt columns the replay reads


def resolve_as_of(con: duckdb.DuckDBPyConnection, configured: datetime | None) -> datetime:
    """`PROGRESS_AS_OF` when set, else the latest `attempted_at`: never the wall clock."""
    if configured is not None:
        return configured
    latest = scalar(con, "SELECT max(attempted_at) FROM attempts")
    if not isinstance(latest, datetime):
        raise ValueError("no attempts yet and no PROGRESS_AS_OF: there is no 'now' to use")
    return latest


@dataclass
class SrsSummary:
    """What a recompute did, and where its time went (seconds, summed over batches): reading
    and sorting attempts in DuckDB, computing in Polars/NumPy, writing to DuckDB."""

    attempts: int = 0
    reviews: int = 0
    cards: int = 0
    batches: int = 0
    largest_batch_attempts: int = 0
    read_s: float = 0.0
    compute_s: float = 0.0
    write_s: float = 0.0

    def add_batch(self, attempts: int, reviews: int, cards: int) -> None:
        self.attempts += attempts
        self.reviews += reviews
        self.cards += cards
        self.largest_batch_attempts = max(self.largest_batch_attempts, attempts)


def _write_staging(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, first: bool
) -> None:
    staging = f"{table}__staging"
    if first:
        replace_table(con, staging, frame)
    else:
        insert_frame(con, staging, frame)


def _publish(con: duckdb.DuckDBPyConnection, tables: list[str]) -> None:
    with transaction(con):
        for table in tables:
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            con.execute(f'ALTER TABLE "{table}__staging" RENAME TO "{table}"')


def current_words(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pl.DataFrame:
    return newest_manifest_words(
        query(con, "SELECT * FROM manifest_words"),
        query(con, "SELECT * FROM manifest_versions"),
        as_of,
    )


MAX_BATCH_ATTEMPTS = 2_500_000  # about 2 GB of working memory per batch


def batch_count(con: duckdb.DuckDBPyConnection, as_of: datetime, minimum: int) -> int:
    """At least `minimum` batches, and enough that none holds much over 2.5M attempts."""
    attempts = int(
        str(scalar(con, "SELECT count(*) FROM attempts WHERE attempted_at <= ?", [as_of]))
    )
    return max(minimum, -(-attempts // MAX_BATCH_ATTEMPTS), 1)


COMPUTE_WORKERS = min(4, os.cpu_count() or 1)


def read_batch(
    con: duckdb.DuckDBPyConnection, as_of: datetime, batches: int, batch: int
) -> pl.DataFrame:
    """Batch `batch` of `batches`: the full histories of the learners whose `hash(user_id)`
    falls in it, sorted by card and time."""
    return query(
        con,
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE attempted_at <= ? "
        # typed like hash(): an untyped parameter made DuckDB widen every row's hash (2.5x slower)
        "AND hash(user_id) % ?::UBIGINT = ?::UBIGINT "
        "ORDER BY user_id, language, word_uid, attempted_at, uuid_local",
        [as_of, batches, batch],
    )


def recompute_srs(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    as_of: datetime,
    batches: int,
    workers: int = COMPUTE_WORKERS,
) -> SrsSummary:
    """Replace `reviews` and `word_progress` with a full recompute as of `as_of`, in at least
    `batches` learner batches (more when the history is large), each computed in `workers`
    threads. The tables are the same whatever `batches` and `workers` are."""
    summary = SrsSummary(batches=batch_count(con, as_of, batches))
    words = current_words(con, as_of)

    def compute(part: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        reviews = build_reviews(part, params)
        return reviews.drop("card_key"), build_word_progress(part, reviews, words)

    with ThreadPoolExecutor(workers) as pool:
        for batch in range(summary.batches):
            began = time.perf_counter()
            attempts = read_batch(con, as_of, summary.batches, batch)
            read = time.perf_counter()
            # NumPy runs on one core: the batch's learners are computed in parallel pieces
            pieces = list(pool.map(compute, learner_parts(attempts, workers)))
            reviews = pl.concat([r for r, _ in pieces])
            progress = pl.concat([p for _, p in pieces])
            computed = time.perf_counter()
            _write_staging(con, "reviews", reviews, first=batch == 0)
            _write_staging(con, "word_progress", progress, first=batch == 0)
            summary.read_s += read - began
            summary.compute_s += computed - read
            summary.write_s += time.perf_counter() - computed
            summary.add_batch(attempts.height, reviews.height, progress.height)
    began = time.perf_counter()
    _publish(con, ["reviews", "word_progress"])
    record_params(con, params, as_of)
    summary.write_s += time.perf_counter() - began
    return summary


def record_params(con: duckdb.DuckDBPyConnection, params: SM2Params, as_of: datetime) -> None:
    """One row: the SM-2 parameters and as-of time the SRS tables were computed with."""
    con.execute("CREATE OR REPLACE TABLE sm2_params_used (params JSON, as_of TIMESTAMP)")
    con.execute(
        "INSERT INTO sm2_params_used VALUES (?, ?)",
        [json.dumps(params.to_dict(), sort_keys=True), as_of],
    )


def params_used(con: duckdb.DuckDBPyConnection) -> SM2Params:
    text = scalar(con, "SELECT params FROM sm2_params_used")
    return SM2Params.from_dict(json.loads(str(text))) if text else SM2Params()


def recompute_due_forecast(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pl.DataFrame:
    progress = query(con, "SELECT user_id, language, next_review_at FROM word_progress")
    return build_due_forecast(progress, as_of)
