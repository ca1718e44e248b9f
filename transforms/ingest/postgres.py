"""The app's PostgreSQL tables as sources: `"AttemptRecords"` read incrementally by
`"CreatedAt"`, and `"CourseContentManifestVersions"`.

A row can commit after rows with a later `"CreatedAt"` (a long transaction, a clock skew between
app servers), so each night re-reads a lookback window before the watermark and skips the rows
it has already ingested, known by a fingerprint of the whole row (`postgres_rows`)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import adbc_driver_postgresql.dbapi as pg
import duckdb
import polars as pl

from transforms.ingest.attempts import Source, ingest_sources
from transforms.ingest.fields import FIELDS
from transforms.ingest.readers import RawRead, empty_rejects
from transforms.warehouse import query, scalar

ATTEMPTS_TABLE = '"AttemptRecords"'
MANIFESTS_TABLE = '"CourseContentManifestVersions"'
LOOKBACK = timedelta(hours=24)  # how late a row may commit behind a later "CreatedAt"

# Every field as text, so one validation path serves files and Postgres alike.
_SELECT_ATTEMPTS = f"""
SELECT "UuidLocal"::text AS uuid_local, "UserId"::text AS user_id,
       "Language"::text AS language, "WordUid"::text AS word_uid,
       "StepType"::text AS step_type, "Correct"::text AS correct,
       "ResponseTimeMs"::text AS response_time_ms,
       to_char("AttemptedAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
           AS attempted_at,
       "SessionId"::text AS session_id, "UserResponse"::text AS user_response,
       "CorrectAnswer"::text AS correct_answer,
       ("CreatedAt" AT TIME ZONE 'UTC') AS created_at,
       md5(ROW("UuidLocal", "UserId", "Language", "WordUid", "StepType", "Correct",
               "ResponseTimeMs", "AttemptedAt", "SessionId", "UserResponse", "CorrectAnswer",
               "CreatedAt")::text) AS row_key
FROM {ATTEMPTS_TABLE}
"""


def _fetch(dsn: str, sql: str, params: tuple[object, ...] = ()) -> pl.DataFrame:
    with pg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]


def read_new_attempts(
    dsn: str, after: datetime | None, seen: pl.DataFrame | None = None
) -> tuple[Source, RawRead] | None:
    """Rows created after `after` − `LOOKBACK` (naive UTC) whose `row_key` is not in `seen`,
    as one source, or None if none."""
    if after is None:
        frame = _fetch(dsn, _SELECT_ATTEMPTS + ' ORDER BY "CreatedAt", "UuidLocal"')
    else:
        frame = _fetch(
            dsn,
            _SELECT_ATTEMPTS
            + " WHERE (\"CreatedAt\" AT TIME ZONE 'UTC') > $1::timestamp"
            + ' ORDER BY "CreatedAt", "UuidLocal"',
            ((after - LOOKBACK).isoformat(sep=" "),),
        )
    if seen is not None and seen.height:
        frame = frame.join(seen.select("row_key"), on="row_key", how="anti")
    if frame.height == 0:
        return None
    created = frame["created_at"].cast(pl.Datetime("us"))
    watermark = created.max()
    assert isinstance(watermark, datetime)
    digest = hashlib.sha256()
    for key in frame["row_key"].to_list():
        digest.update(key.encode())
    source = Source(
        source_id=f"postgres:{watermark:%Y%m%dT%H%M%S%f}:{digest.hexdigest()[:16]}",
        kind="postgres",
        path=f"postgres:{ATTEMPTS_TABLE}",
        format="postgres",
        size_bytes=None,
        watermark=watermark,
        row_keys=frame.select("row_key", created.alias("created_at")),
    )
    text = frame.select(pl.col(c).cast(pl.String) for c in FIELDS)
    rows = text.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_row"),
        # the row as read, for a reject's raw text
        pl.struct(list(FIELDS)).struct.json_encode().alias("raw"),
    )
    return source, RawRead(rows=rows, unparseable=empty_rejects())


def ingest_postgres_attempts(
    con: duckdb.DuckDBPyConnection, dsn: str, ingested_at: datetime
) -> pl.DataFrame:
    """Ingest the rows created since the last Postgres batch, re-reading `LOOKBACK` before it
    for rows that committed late; returns its `ingested_files` row (none when nothing is
    new). Remembered row keys older than the window are forgotten."""
    watermark = scalar(
        con, "SELECT max(watermark) FROM ingested_files WHERE source_kind = 'postgres'"
    )
    after = watermark if isinstance(watermark, datetime) else None
    seen = (
        query(con, "SELECT row_key FROM postgres_rows WHERE created_at > ?", [after - LOOKBACK])
        if after is not None
        else None
    )
    batch = read_new_attempts(dsn, after, seen)
    if batch is None:
        return pl.DataFrame()
    stats = ingest_sources(con, [batch], ingested_at)
    newest = batch[0].watermark
    assert newest is not None
    con.execute(
        "DELETE FROM postgres_rows WHERE created_at <= ?", [max(newest, after or newest) - LOOKBACK]
    )
    return stats


def read_manifests(dsn: str) -> list[tuple[str, str]]:
    """`(source, JSON text)` of every manifest version in the app's table."""
    frame = _fetch(
        dsn,
        f'SELECT "Language"::text AS language, "Version"::int AS version, "Data"::text AS data'
        f' FROM {MANIFESTS_TABLE} ORDER BY "Language", "Version"',
    )
    return [
        (f"postgres:{MANIFESTS_TABLE}/{row['language']}/v{row['version']}", row["data"])
        for row in frame.iter_rows(named=True)
    ]
