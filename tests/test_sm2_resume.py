"""The nightly SM-2 update resumes a card from its stored state when all its new attempts come
after its last stored one, and replays its whole history otherwise (transforms/sm2/store.py):
either way the tables are a full recompute's."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.warehouse_tables import deliver_attempts
from transforms.as_of import resolve_as_of
from transforms.keys import CARD
from transforms.sm2 import SM2Params
from transforms.sm2.store import SrsSummary, update_srs
from transforms.sm2.tables import LAST_REVIEWED_AT, last_reviewed_at
from transforms.warehouse import connect, query

START = datetime(2026, 3, 2)


def _rows(attempts: list[tuple[str, str, int, bool, int]], prefix: str) -> pl.DataFrame:
    """Attempts (user, word, minutes after START, correct, response ms), uuids in list order."""
    n = len(attempts)
    return pl.DataFrame(
        {
            "uuid_local": [f"{prefix}{i:04d}" for i in range(n)],
            "user_id": [a[0] for a in attempts],
            "language": ["es"] * n,
            "word_uid": [a[1] for a in attempts],
            "step_type": ["typing"] * n,
            "correct": [a[3] for a in attempts],
            "response_time_ms": [a[4] for a in attempts],
            "attempted_at": [START + timedelta(minutes=a[2]) for a in attempts],
            "source_row": list(range(n)),
        },
        schema_overrides={"response_time_ms": pl.Int32},
    )


def _tables(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    reviews = query(con, "SELECT * FROM reviews ORDER BY uuid_local")
    progress = query(con, "SELECT * FROM word_progress ORDER BY user_id, language, word_uid")
    return reviews, progress


def _nightly_vs_full(
    folder: Path, stored: pl.DataFrame, new: pl.DataFrame, params: SM2Params
) -> SrsSummary:
    """Deliver `stored`, run; deliver `new`, run (the nightly update); compare with one full
    recompute over both. Returns the nightly run's summary."""
    nightly = connect(folder / "nightly.duckdb")
    deliver_attempts(nightly, "stored", stored)
    assert update_srs(nightly, params, resolve_as_of(nightly, None), batches=1).mode == "full"
    deliver_attempts(nightly, "new", new)
    summary = update_srs(nightly, params, resolve_as_of(nightly, None), batches=1)
    assert summary.mode == "incremental"
    whole = connect(folder / "whole.duckdb")
    deliver_attempts(whole, "everything", pl.concat([stored, new]))
    update_srs(whole, params, resolve_as_of(whole, None), batches=1)
    for got, want in zip(_tables(nightly), _tables(whole), strict=True):
        assert_frame_equal(got, want)
    # the resume's last review times, derived from `word_progress`, are the reviews' own
    derived = (
        query(whole, "SELECT * FROM word_progress")
        .select(*CARD, last_reviewed_at())
        .filter(pl.col(LAST_REVIEWED_AT).is_not_null())
        .sort(CARD)
    )
    last = query(
        whole,
        f"SELECT {', '.join(CARD)}, max(reviewed_at) AS {LAST_REVIEWED_AT} FROM reviews "
        "GROUP BY ALL ORDER BY ALL",
    )
    assert_frame_equal(derived, last)
    nightly.close()
    whole.close()
    return summary


DAY = 24 * 60


def test_last_reviewed_at_subtracts_the_kernels_due_interval() -> None:
    """next_review_at = last review + rint(interval_days x 86,400,000,000) µs: 2.5 days is
    216,000,000,000 µs, so 2026-03-10 12:00 - 2.5 d = 2026-03-08 00:00; 1/3 day is
    28,800,000,000.000004 µs, rounded to 28,800,000,000 (8 h): 09:00 - 8 h = 01:00; a card
    without a review (no next_review_at) has none."""
    progress = pl.DataFrame(
        {
            "next_review_at": [datetime(2026, 3, 10, 12), datetime(2026, 3, 2, 9), None],
            "interval_days": [2.5, 1 / 3, None],
        }
    )
    assert progress.select(last_reviewed_at())[LAST_REVIEWED_AT].to_list() == [
        datetime(2026, 3, 8),
        datetime(2026, 3, 2, 1),
        None,
    ]


def test_which_cards_resume_and_which_replay(tmp_path: Path) -> None:
    """u1/w1 resumes on a later day (a new review); u1/w2 resumes with a same-day attempt after
    its last one (practice: no new review); u1/w3 is new (resumes from the start); u1/w4 gets
    a late attempt before its last stored one (replayed); u1/w5, untouched, is left alone."""
    stored = _rows(
        [
            ("u1", "w1", 0, True, 2000),
            ("u1", "w1", DAY + 60, True, 5000),
            ("u1", "w2", 2 * DAY + 60, False, 5000),
            ("u1", "w4", 60, True, 2000),
            ("u1", "w4", 3 * DAY, True, 2000),
            ("u1", "w5", 3 * DAY + 60, True, 2000),
        ],
        "a",
    )
    new = _rows(
        [
            ("u1", "w1", 3 * DAY + 120, True, 2000),
            ("u1", "w2", 2 * DAY + 120, True, 2000),
            ("u1", "w3", 3 * DAY + 180, True, 2000),
            ("u1", "w4", DAY + 60, False, 2000),
        ],
        "b",
    )
    summary = _nightly_vs_full(tmp_path, stored, new, SM2Params())
    assert (summary.cards_resumed, summary.cards_replayed) == (3, 1)
    con = connect(tmp_path / "nightly.duckdb")
    w1 = query(con, "SELECT * FROM reviews WHERE word_uid = 'w1' ORDER BY reviewed_at")
    # the third review continues the stored two: q 5 after q 5, q 4 -> intervals 1, 6, then
    # ceil(6 x EF before it) with EF 2.5 + 0.1 (q 5) + 0.0 (q 4) = 2.6: ceil(15.6) = 16
    assert w1["review_index"].to_list() == [1, 2, 3]
    assert w1["interval_days"].to_list() == [1.0, 6.0, 16.0]
    # elapsed from the second review (day 1, 01:00) to the third (day 3, 02:00): 2 + 1/24 days
    assert abs(w1["elapsed_days"][2] - (2 + 1 / 24)) < 1e-12
    w2 = query(con, "SELECT * FROM word_progress WHERE word_uid = 'w2'")
    # one review (the failure), two attempts of which the last correct
    assert w2.select("reviews", "total_attempts", "correct_attempts", "consecutive_correct").row(
        0
    ) == (1, 2, 1, 1)
    con.close()


ATTEMPT = st.tuples(
    st.sampled_from(["u1", "u2"]),
    st.sampled_from(["w1", "w2", "w3"]),
    st.integers(0, 6 * DAY),
    st.booleans(),
    st.sampled_from([1000, 5000, 20000]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attempts=st.lists(ATTEMPT, min_size=1, max_size=30),
    late=st.lists(st.booleans(), min_size=30, max_size=30),
    cut=st.integers(0, 6 * DAY),
    review_unit=st.sampled_from(["day", "attempt", "session"]),
)
def test_resume_or_replay_equals_a_full_recompute(
    attempts: list[tuple[str, str, int, bool, int]],
    late: list[bool],
    cut: int,
    review_unit: str,
) -> None:
    """Random histories split at a time `cut` (often in the middle of a day) into the stored
    attempts and the new ones, some attempts before the cut held back to arrive late."""
    rows = _rows(attempts, "a").with_columns(pl.Series("late", late[: len(attempts)]))
    before = pl.col("attempted_at") <= START + timedelta(minutes=cut)
    stored = rows.filter(before & ~pl.col("late")).drop("late")
    new = rows.filter(~before | pl.col("late")).drop("late")
    if stored.height == 0 or new.height == 0:
        return
    params = SM2Params(review_unit=review_unit)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as folder:
        summary = _nightly_vs_full(Path(folder), stored, new, params)
    changed = new.select("user_id", "word_uid").unique().height
    if review_unit != "session":
        assert summary.cards_resumed is not None and summary.cards_replayed is not None
        assert summary.cards_resumed + summary.cards_replayed == changed
