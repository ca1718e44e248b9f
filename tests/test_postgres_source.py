"""The app's PostgreSQL tables as a source, against a real throwaway server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pipelines.defs.ingest.assets import ingest_attempts, ingest_manifests
from tests import pg_server
from tests.conftest import attempt
from tests.pipeline_run import configure, run_all
from tests.test_manifests import manifest
from transforms.warehouse import connect, query

pytestmark = pytest.mark.postgres

# What these tests check is ingestion: the nightly job's ingest steps (every table they
# write), not its reports.
INGEST = [key.to_user_string() for step in (ingest_attempts, ingest_manifests) for key in step.keys]

SCHEMA = """
CREATE TABLE "AttemptRecords" (
    "Id" serial PRIMARY KEY, "UuidLocal" uuid NOT NULL, "UserId" uuid NOT NULL,
    "Language" text NOT NULL, "WordUid" text NOT NULL, "StepType" text NOT NULL,
    "Correct" boolean NOT NULL, "ResponseTimeMs" integer NOT NULL,
    "AttemptedAt" timestamptz NOT NULL, "UserResponse" text, "CorrectAnswer" text,
    "SessionId" text, "CreatedAt" timestamptz NOT NULL);
CREATE TABLE "CourseContentManifestVersions" (
    "Id" serial PRIMARY KEY, "Version" integer NOT NULL, "Language" text NOT NULL,
    "Data" jsonb NOT NULL, "CreatedAt" timestamptz NOT NULL DEFAULT now());
"""


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    if not pg_server.available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL 15 is not installed (make test installs it)")
        pytest.skip("PostgreSQL 15 binaries not found")
    with pg_server.postgres_server() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
        yield url


def insert(dsn: str, rows: list[dict], created: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for row in rows:
            conn.execute(
                'INSERT INTO "AttemptRecords" ("UuidLocal", "UserId", "Language", "WordUid", '
                '"StepType", "Correct", "ResponseTimeMs", "AttemptedAt", "SessionId", '
                '"UserResponse", "CreatedAt") VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)',
                [
                    row["uuidLocal"],
                    row["userId"],
                    row["language"],
                    row["wordUid"],
                    row["stepType"],
                    row["correct"],
                    row["responseTimeMs"],
                    row["attemptedAt"],
                    row.get("sessionId"),
                    "typed text",
                    created,
                ],
            )


def test_postgres_attempts_and_manifests_incrementally(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            'INSERT INTO "CourseContentManifestVersions" ("Version", "Language", "Data")'
            " VALUES (1, 'es', %s)",
            [json.dumps(manifest(1))],
        )
    insert(
        dsn, [attempt(i) for i in range(3)] + [attempt(9, wordUid="fr:g:x")], "2026-03-01T10:30:00Z"
    )
    (tmp_path / "landing").mkdir()
    configure(monkeypatch, tmp_path, PROGRESS_PG_DSN=dsn)
    run_all(selection=INGEST)
    con = connect(tmp_path / "warehouse.duckdb")
    sources = query(
        con,
        "SELECT source_kind, rows_read, accepted, duplicates, rejected, "
        "watermark FROM ingested_files",
    )
    assert sources.select("rows_read", "accepted", "rejected").row(0) == (4, 3, 1)
    assert query(con, "SELECT reason FROM attempt_rejects").item() == "word_language_mismatch"
    assert query(con, "SELECT count(*) FROM manifest_words").item() == 3
    assert query(con, "SELECT DISTINCT user_response FROM attempts").item() == "typed text"
    con.close()

    # the next night reads only rows created after the watermark; a retry is a duplicate
    insert(dsn, [attempt(3), attempt(0)], "2026-03-02T10:30:00Z")
    run_all(selection=INGEST)
    con = connect(tmp_path / "warehouse.duckdb")
    sources = query(
        con,
        "SELECT rows_read, accepted, duplicates, rejected FROM ingested_files ORDER BY watermark",
    )
    assert sources.rows() == [(4, 3, 0, 1), (2, 1, 1, 0)]
    assert query(con, "SELECT count(*) FROM attempts").item() == 4
    con.close()
    run_all(selection=INGEST)  # nothing new: no new source
    con = connect(tmp_path / "warehouse.duckdb")
    assert query(con, "SELECT count(*) FROM ingested_files").item() == 2


def test_a_row_committed_late_with_an_older_created_at_is_not_missed(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row whose transaction commits after the night's read, stamped before the watermark,
    is picked up by the next night's lookback window; rows re-read in the window add nothing."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('TRUNCATE "AttemptRecords"')
    late_user = "223e4567-e89b-42d3-a456-426614174000"
    insert(dsn, [attempt(20), attempt(21)], "2026-04-01T10:00:00Z")
    (tmp_path / "landing").mkdir()
    configure(monkeypatch, tmp_path, PROGRESS_PG_DSN=dsn)
    run_all(selection=INGEST)
    # committed now, but stamped 2 hours before the watermark of 10:00
    insert(dsn, [attempt(22, userId=late_user)], "2026-04-01T08:00:00Z")
    insert(dsn, [attempt(23)], "2026-04-02T10:00:00Z")
    run_all(selection=INGEST)
    run_all(selection=INGEST)  # nothing new: the window is re-read, every row in it is known
    con = connect(tmp_path / "warehouse.duckdb")
    assert query(con, "SELECT count(*) FROM attempts WHERE user_id = ?", [late_user]).item() == 1
    sources = query(
        con,
        "SELECT rows_read, accepted, duplicates, rejected FROM ingested_files "
        "WHERE source_kind = 'postgres' ORDER BY watermark",
    )
    assert sources.rows() == [(2, 2, 0, 0), (2, 2, 0, 0)]
    assert query(con, "SELECT count(*) FROM attempts").item() == 4
    con.close()
