"""The recompute's learner batches: whole learners, nothing lost, the same in any number."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.as_of import NO_ATTEMPTS_AS_OF, describe_as_of, resolve_as_of
from transforms.sm2 import SM2Params
from transforms.sm2.store import read_batch, recompute_srs
from transforms.sm2.tables import learner_parts
from transforms.warehouse import query

AS_OF = datetime(2026, 6, 1)


def _fill(con: duckdb.DuckDBPyConnection, attempts: int, learners: int) -> None:
    """`attempts` attempts by `learners` learners on 12 words, some after `AS_OF`."""
    con.execute(
        """
        INSERT INTO attempts BY NAME
        SELECT uuid()::VARCHAR AS uuid_local, 'user-' || (i % ?) AS user_id,
               ['es', 'fr'][1 + i % 2] AS language, 'w' || (i * 7 % 12) AS word_uid,
               'typing' AS step_type, i % 5 <> 0 AS correct, 1000 + i % 9000 AS response_time_ms,
               TIMESTAMP '2026-01-01' + to_hours(i % 4000) AS attempted_at,
               'bench' AS source_id, i AS source_row
        FROM range(?) t(i)
        """,
        [learners, attempts],
    )


def test_recompute_is_the_same_in_any_number_of_batches_and_workers(
    con: duckdb.DuckDBPyConnection,
) -> None:
    _fill(con, 800, learners=31)

    def tables(batches: int, workers: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        summary = recompute_srs(con, SM2Params(), AS_OF, batches, workers)
        assert summary.batches == batches
        return (
            query(con, "SELECT * FROM reviews ORDER BY uuid_local"),
            query(con, "SELECT * FROM word_progress ORDER BY user_id, language, word_uid"),
        )

    one = tables(1, workers=1)
    for batches, workers in [(7, 1), (1, 3), (7, 3)]:
        for got, want in zip(tables(batches, workers), one, strict=True):
            assert_frame_equal(got, want)
    assert one[0]["reviewed_at"].max() <= AS_OF


def test_batches_split_learners_by_hash_and_lose_nothing(con: duckdb.DuckDBPyConnection) -> None:
    _fill(con, 600, learners=23)
    batches = [read_batch(con, AS_OF, 5, b) for b in range(5)]
    users = [set(b["user_id"]) for b in batches]
    assert sum(len(u) for u in users) == len(set().union(*users)) == 23
    total = con.execute("SELECT count(*) FROM attempts WHERE attempted_at <= ?", [AS_OF]).fetchall()
    assert sum(b.height for b in batches) == total[0][0]


@pytest.mark.parametrize("parts", [0, 1, 2, 3, 50])
def test_learner_parts_keep_learners_whole(con: duckdb.DuckDBPyConnection, parts: int) -> None:
    _fill(con, 300, learners=9)
    batch = read_batch(con, AS_OF, 1, 0)
    pieces = learner_parts(batch, parts)
    assert 1 <= len(pieces) <= min(max(parts, 1), 9)
    assert_frame_equal(pl.concat(pieces).drop("card_key"), batch)
    owners = [set(piece["user_id"]) for piece in pieces]
    assert sum(len(o) for o in owners) == 9  # no learner in two pieces
    assert all(piece["card_key"].min() == 1 for piece in pieces)


def test_no_attempts_are_one_empty_part(con: duckdb.DuckDBPyConnection) -> None:
    (only,) = learner_parts(read_batch(con, AS_OF, 1, 0), 2)
    assert only.height == 0 and "card_key" in only.columns


def test_as_of_is_the_setting_else_the_latest_attempt_else_the_epoch(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert resolve_as_of(con, None) == NO_ATTEMPTS_AS_OF  # no attempts: the job still runs
    assert describe_as_of(NO_ATTEMPTS_AS_OF) == "no attempts yet"
    _fill(con, 10, learners=2)
    assert resolve_as_of(con, None) == datetime(2026, 1, 1, 9)
    assert resolve_as_of(con, AS_OF) == AS_OF
    assert describe_as_of(AS_OF) == "2026-06-01 00:00:00"
