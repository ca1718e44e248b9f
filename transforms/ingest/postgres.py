"""The app's PostgreSQL tables as sources: `"AttemptRecords"` read incrementally by
`"CreatedAt"`, and `"CourseContentManifestVersions"`."""

from __future__ import annotations

import hashlib
from datetime import datetime

import adbc_driver_postgresql.dbapi as pg
import duckdb
import polars as pl

from transforms.ingest.attempts import Source, ingest_sources
from transforms.ingest.fields import FIELDS
from transforms.ingest.readers import RawRead, empty_rejects
from transforms.warehouse import scalar

ATTEMPTS_TABLE = '"AttemptRecords"'
MANIFESTS_TABLE = '"CourseContentManifestVersions"'

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
       ("CreatedAt" AT TIME ZONE 'UTC') AS created_at
FROM {ATTEMPTS_TABLE}
"""


def _fetch(dsn: str, sql: str, params: tuple[object, ...] = ()) -> pl.DataFrame:
    with pg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params or None)
        return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]


def read_new_attempts(dsn: str, after: datetime | None) -> tuple[Source, RawRead] | None:
    """Rows created after the watermark `after` (naive UTC) as one source, or None if none."""
    if after is None:
        frame = _fetch(dsn, _SELECT_ATTEMPTS + ' ORDER BY "CreatedAt", "UuidLocal"')
    else:
        frame = _fetch(
            dsn,
            _SELECT_ATTEMPTS
            + " WHERE (\"CreatedAt\" AT TIME ZONE 'UTC') > $1::timestamp"
            + ' ORDER BY "CreatedAt", "UuidLocal"',
            (after.isoformat(sep=" "),),
        )
    if frame.height == 0:
        return None
    created = frame["created_at"].cast(pl.Datetime("us"))
    watermark = created.max()
    assert isinstance(watermark, datetime)
    digest = hashlib.sha256()
    for chunk in frame["uuid_local"].fill_null("").to_list():
        digest.update(chunk.encode())
    source = Source(
        source_id=f"postgres:{watermark:%Y%m%dT%H%M%S%f}:{digest.hexdigest()[:16]}",
        kind="postgres",
        path=f"postgres:{ATTEMPTS_TABLE}",
        format="postgres",
        size_bytes=None,
        watermark=watermark,
    )
    rows = frame.select(
        *[pl.col(c).cast(pl.String) for c in FIELDS],
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_row"),
        pl.lit(None, dtype=pl.String).alias("raw"),
    )
    return source, RawRead(rows=rows, unparseable=empty_rejects())


def ingest_postgres_attempts(
    con: duckdb.DuckDBPyConnection, dsn: str, ingested_at: datetime
) -> pl.DataFrame:
    """Ingest the rows created since the last Postgres batch; returns its `ingested_files` row
    (none when there is nothing new)."""
    watermark = scalar(
        con, "SELECT max(watermark) FROM ingested_files WHERE source_kind = 'postgres'"
    )
    batch = read_new_attempts(dsn, watermark if isinstance(watermark, datetime) else None)
    return ingest_sources(con, [batch], ingested_at) if batch is not None else pl.DataFrame()


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
