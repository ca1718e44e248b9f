"""Attempt ingestion per the data contract: rejects, duplicates, conflicts, idempotency."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.conftest import INGESTED_AT, attempt, write_csv, write_jsonl
from transforms.ingest.attempts import ingest_landing_files
from transforms.warehouse import query, scalar


def ingest(con: duckdb.DuckDBPyConnection, landing: Path) -> pl.DataFrame:
    return ingest_landing_files(con, landing / "attempts", INGESTED_AT)


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(str(scalar(con, f"SELECT count(*) FROM {table}")))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"wordUid": ...}, "missing_field"),
        ({"stepType": "  "}, "missing_field"),
        ({"uuidLocal": "1234"}, "invalid_uuid"),
        ({"userId": "bob"}, "invalid_uuid"),
        ({"language": "xx"}, "unknown_language"),
        ({"language": "ES"}, "unknown_language"),
        ({"wordUid": "coser"}, "invalid_word_uid"),
        ({"wordUid": "fr:g-coser-cocer:coser"}, "word_language_mismatch"),
        ({"stepType": "meaning-mcq"}, "invalid_step_type"),
        ({"correct": "yes"}, "invalid_correct"),
        ({"responseTimeMs": 12.5}, "invalid_response_time"),
        ({"responseTimeMs": -1}, "response_time_out_of_range"),
        ({"responseTimeMs": 3_600_001}, "response_time_out_of_range"),
        ({"attemptedAt": "2026-03-01T10:00:00"}, "invalid_timestamp"),
        ({"attemptedAt": "1999-12-31T23:59:59Z"}, "timestamp_too_early"),
        ({"attemptedAt": "2026-11-01T00:05:01Z"}, "timestamp_in_future"),
    ],
)
def test_each_reject_reason(
    con: duckdb.DuckDBPyConnection, landing: Path, overrides: dict, reason: str
) -> None:
    write_jsonl(landing / "attempts" / "a.jsonl", [attempt(0), attempt(1, **overrides)])
    files = ingest(con, landing)
    assert files.select("rows_read", "accepted", "duplicates", "rejected").row(0) == (2, 1, 0, 1)
    reject = query(con, "SELECT * FROM attempt_rejects").row(0, named=True)
    assert reject["reason"] == reason
    assert reject["source_row"] == 2
    assert reject["message"]
    assert reject["raw"].startswith("{")  # the verbatim line


def test_unparseable_lines_are_kept_verbatim(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    write_jsonl(landing / "attempts" / "a.jsonl", [attempt(0), '{"uuidLocal": "x"', "[1, 2]"])
    (landing / "attempts" / "b.csv").write_text(
        "uuid_local,user_id,language,word_uid,step_type,correct,response_time_ms,attempted_at\n"
        "00000000-0000-0000-0000-000000000009,123e4567-e89b-42d3-a456-426614174000,es,"
        "es:g:a,typing,true,100,1772359200000\n"
        "short,row\n"
    )
    ingest(con, landing)
    rejects = query(con, "SELECT reason, source_row, raw FROM attempt_rejects ORDER BY raw")
    assert rejects["reason"].to_list() == ["unparseable_row"] * 3
    assert set(rejects["raw"]) == {'{"uuidLocal": "x"', "[1, 2]", "short,row"}
    assert count(con, "attempts") == 2


def test_accepted_rows_are_typed_and_normalised(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_jsonl(
        landing / "attempts" / "a.jsonl",
        [
            attempt(0, attemptedAt="2026-03-01T12:00:00.250+02:00", correct="0"),
            attempt(
                1,
                attemptedAt=1772359200000,
                sessionId=...,
                uuidLocal="ABCDEF00-0000-4000-8000-000000000001",
            ),
        ],
    )
    snake = {
        "uuid_local": "00000000-0000-4000-8000-000000000002",
        "user_id": attempt()["userId"],
        "language": "es",
        "word_uid": "es:g:a",
        "step_type": "lightning",
        "correct": "1",
        "response_time_ms": "0",
        "attempted_at": "2026-03-01T10:00:00Z",
    }
    write_csv(landing / "attempts" / "b.csv", [snake])
    ingest(con, landing)
    rows = query(con, "SELECT * FROM attempts ORDER BY source_row, uuid_local")
    assert rows["attempted_at"].cast(pl.String).to_list() == [
        "2026-03-01 10:00:00.250000",
        "2026-03-01 10:00:00.000000",
        "2026-03-01 10:00:00.000000",
    ]
    assert rows["correct"].to_list() == [False, True, True]
    lowered = rows.filter(pl.col("uuid_local") == "abcdef00-0000-4000-8000-000000000001")
    assert lowered["session_id"].to_list() == [None]


def test_reingest_and_renamed_copies_add_nothing(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    path = write_jsonl(landing / "attempts" / "a.jsonl", [attempt(i) for i in range(5)])
    ingest(con, landing)
    snapshot = [
        query(con, f"SELECT * FROM {t} ORDER BY ALL")
        for t in ("attempts", "attempt_rejects", "ingested_files")
    ]
    assert ingest(con, landing).height == 0
    shutil.copy(path, landing / "attempts" / "renamed.jsonl")
    (landing / "attempts" / "2026-03-02").mkdir()
    shutil.copy(path, landing / "attempts" / "2026-03-02" / "again.jsonl")
    assert ingest(con, landing).height == 0
    after = [
        query(con, f"SELECT * FROM {t} ORDER BY ALL")
        for t in ("attempts", "attempt_rejects", "ingested_files")
    ]
    for before, now in zip(snapshot, after, strict=True):
        assert before.equals(now)


def test_gzip_and_parquet_sources(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    text = "\n".join(pl.DataFrame([attempt(0)]).write_ndjson().splitlines()) + "\n"
    (landing / "attempts" / "a.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    pl.DataFrame([attempt(1, correct=True, responseTimeMs=900)]).with_columns(
        pl.col("attemptedAt").str.to_datetime(time_zone="UTC")
    ).write_parquet(landing / "attempts" / "b.parquet")
    files = ingest(con, landing)
    assert files["accepted"].to_list() == [1, 1]
    assert query(con, "SELECT attempted_at FROM attempts ORDER BY 1")["attempted_at"].cast(
        pl.String
    ).to_list() == ["2026-03-01 10:00:00.000000", "2026-03-01 10:01:00.000000"]


def test_duplicates_and_conflicts(con: duckdb.DuckDBPyConnection, landing: Path) -> None:
    write_jsonl(
        landing / "attempts" / "1.jsonl",
        [
            attempt(0),
            attempt(0),  # a client retry inside the file
            attempt(0, correct=False),  # a conflict inside the file
        ],
    )
    write_jsonl(
        landing / "attempts" / "2.jsonl",
        [
            attempt(0, attemptedAt="2026-03-01T11:00:00+01:00"),  # same instant: a retry
            attempt(0, responseTimeMs=1),  # conflict with the stored row
            attempt(1),
        ],
    )
    files = ingest(con, landing)
    assert files.select("rows_read", "accepted", "duplicates", "rejected").rows() == [
        (3, 1, 1, 1),
        (3, 1, 1, 1),
    ]
    conflicts = query(con, "SELECT source_row, message FROM attempt_rejects ORDER BY message")
    assert conflicts["source_row"].to_list() == [3, 2]
    assert conflicts["message"][0].endswith("with a different correct")
    assert conflicts["message"][1].endswith("with a different response_time_ms")
    assert query(con, "SELECT correct FROM attempts WHERE uuid_local LIKE '%01'").item() is True


def test_later_file_conflicting_with_stored_row(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_jsonl(landing / "attempts" / "1.jsonl", [attempt(0)])
    ingest(con, landing)
    # a retry of the conflicting version is still a conflict with the first ingested row
    write_jsonl(landing / "attempts" / "2.jsonl", [attempt(0, correct=False)] * 2)
    files = ingest(con, landing)
    assert files.select("accepted", "duplicates", "rejected").row(0) == (0, 0, 2)


def test_incremental_run_reads_only_new_files(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    write_jsonl(landing / "attempts" / "day1.jsonl", [attempt(i) for i in range(3)])
    ingest(con, landing)
    write_jsonl(landing / "attempts" / "day2.jsonl", [attempt(i) for i in range(2, 6)])
    files = ingest(con, landing)
    assert files["path"].to_list() == [str(landing / "attempts" / "day2.jsonl")]
    assert files.select("accepted", "duplicates").row(0) == (3, 1)
    assert count(con, "attempts") == 6


def test_unreadable_file_is_recorded_and_others_load(
    con: duckdb.DuckDBPyConnection, landing: Path
) -> None:
    (landing / "attempts" / "broken.parquet").write_bytes(b"PAR1 not really")
    (landing / "attempts" / "broken.jsonl.gz").write_bytes(b"not gzip")
    (landing / "attempts" / "notes.txt").write_text("hello")
    write_jsonl(landing / "attempts" / "good.jsonl", [attempt(0)])
    files = ingest(con, landing).sort("path")
    assert files["status"].to_list() == ["failed", "failed", "loaded", "failed"]
    assert all("could not be read" in e for e in files["error"].drop_nulls())
    assert count(con, "attempts") == 1
    balance = query(
        con,
        "SELECT count(*) FROM ingested_files WHERE rows_read <> accepted + duplicates + rejected",
    )
    assert balance.item() == 0
