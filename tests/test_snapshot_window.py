"""A snapshot Monday a night adds reads a window of days and the cards' state, not whole
histories (transforms/metrics/nightly.py `_new_snapshot`): its overdue counts and current
streaks equal the ones from every review and every day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

import duckdb
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms.keys import LEARNER
from transforms.metrics.learner_state import learner_history_state
from transforms.metrics.nightly import RECENT_REACH_DAYS, DaysOf, _overdue_at, _streaks_on
from transforms.metrics.progress import streaks
from transforms.metrics.risk import KEYS, overdue_at, overdue_spells
from transforms.warehouse import replace_table

T0 = datetime(2026, 1, 1)
# per card: its reviews' (hours after the previous review, hours from the review to its due
# date); SM-2 gives every review a due date
CARD_REVIEWS = st.lists(
    st.tuples(st.integers(1, 24 * 20), st.integers(0, 24 * 20)), min_size=1, max_size=6
)
MICROS_PER_DAY = 86_400_000_000


def _reviews(cards: dict[tuple[str, str], list[tuple[int, int]]]) -> pl.DataFrame:
    """Reviews as the kernel writes them: `interval_days` in days, the due date `rint` of it in
    microseconds after the review, and from the second review on `elapsed_days` (the time since
    the previous review) and `interval_before` (the previous review's interval)."""
    rows = []
    for (user, word), reviews in cards.items():
        at = T0
        before: float | None = None
        for index, (gap, due) in enumerate(reviews, start=1):
            at += timedelta(hours=gap)
            interval = due / 24
            due_at = at + timedelta(microseconds=round(interval * MICROS_PER_DAY))
            elapsed = None if index == 1 else gap / 24
            rows.append((user, "es", word, at, index, elapsed, before, interval, due_at))
            before = interval
    return pl.DataFrame(
        rows,
        schema={
            "user_id": pl.String,
            "language": pl.String,
            "word_uid": pl.String,
            "reviewed_at": pl.Datetime("us"),
            "review_index": pl.Int32,
            "elapsed_days": pl.Float64,
            "interval_before": pl.Float64,
            "interval_days": pl.Float64,
            "due_at": pl.Datetime("us"),
        },
        orient="row",
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cards=st.dictionaries(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from(["a", "b", "c"])),
        CARD_REVIEWS,
        min_size=1,
    ),
    moment_hours=st.integers(0, 24 * 100),
)
def test_overdue_from_the_cards_state_equals_the_spells(
    tmp_path: Path, cards: dict[tuple[str, str], list[tuple[int, int]]], moment_hours: int
) -> None:
    reviews = _reviews(cards)
    # word_progress: each card's due date is its last review's
    progress = (
        reviews.sort("review_index")
        .group_by("user_id", "language", "word_uid")
        .agg(pl.col("due_at").last().alias("next_review_at"))
    )
    moment = T0 + timedelta(hours=moment_hours)
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        replace_table(con, "reviews", reviews)
        replace_table(con, "word_progress", progress)
        got = _overdue_at(con, moment)
    expected = overdue_at(overdue_spells(reviews), moment)
    assert_frame_equal(got.sort(KEYS), expected.sort(KEYS), check_dtypes=False)


class _Days:
    """What `_streaks_on` asks of `DaysOf`: every learner's state, and a learner's days."""

    def __init__(self, daily: pl.DataFrame) -> None:
        self.daily = daily
        self.state = learner_history_state(daily)

    def of_learners(self, learners: pl.DataFrame) -> pl.DataFrame:
        return self.daily.join(learners.select(LEARNER).unique(), on=LEARNER, how="semi")


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.dictionaries(
        st.sampled_from(["u1", "u2", "u3", "u4"]),
        st.lists(st.integers(0, 150), max_size=4),  # the days a learner did not study
        min_size=1,
    ),
    day_number=st.integers(60, 150),
)
def test_streaks_from_a_window_and_the_state_equal_the_whole_days(
    gaps: dict[str, list[int]], day_number: int
) -> None:
    """Long runs (up to 150 days) cross the 63-day window: the stored last run, or (a gap
    since) the learner's whole days, give their start."""
    rows = [
        (user, "es", date(2026, 1, 1) + timedelta(days=d), 1, 1)
        for user, skipped in gaps.items()
        for d in range(151)
        if d not in skipped
    ]
    daily = pl.DataFrame(
        rows,
        schema={
            "user_id": pl.String,
            "language": pl.String,
            "day": pl.Date,
            "attempts": pl.Int64,
            "correct": pl.Int64,
        },
        orient="row",
    )
    day = date(2026, 1, 1) + timedelta(days=day_number)
    start = day - timedelta(days=RECENT_REACH_DAYS)
    window = daily.filter((pl.col("day") > start) & (pl.col("day") <= day))
    got = _streaks_on(cast(DaysOf, _Days(daily)), window, day, start)
    expected = streaks(
        daily.filter(pl.col("day") <= day), datetime.combine(day, datetime.min.time())
    )
    assert_frame_equal(
        got.filter(pl.col("current_streak") > 0).sort(LEARNER),
        expected.select(*LEARNER, "current_streak")
        .filter(pl.col("current_streak") > 0)
        .sort(LEARNER),
        check_dtypes=False,
    )
