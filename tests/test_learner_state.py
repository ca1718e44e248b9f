"""The nightly metrics run's stored per-learner and per-card state
(transforms/metrics/learner_state.py): advanced by a night, it equals the state built over the
whole history; and the card identities the touched learners' progress rests on."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms.keys import LEARNER
from transforms.metrics.common import graded_non_first
from transforms.metrics.learner_state import (
    advance_learner_state,
    learner_history_state,
    needs_earlier_days,
    streaks_from_state,
)
from transforms.metrics.nightly import _progress_history
from transforms.metrics.progress import learned_words, progress_history, streaks
from transforms.metrics.retention import cohort_retention, cohort_retention_moved_on
from transforms.sm2 import SM2Params, replay

DAY0 = date(2026, 1, 1)
# per learner: {day number: (attempts before the night, attempts the night adds)}
LEARNER_DAYS = st.dictionaries(
    st.integers(0, 40),
    st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda t: sum(t) > 0),
    min_size=1,
    max_size=25,
)


def _daily(days: dict[str, dict[int, tuple[int, int]]], night: bool) -> pl.DataFrame:
    """`accuracy_daily`'s columns the state reads: before the night (old attempts only) or
    after it (old + added); a day's correct attempts are half its attempts, rounded down."""
    rows = [
        (user, "es", DAY0 + timedelta(days=d), old + added * night)
        for user, by_day in days.items()
        for d, (old, added) in by_day.items()
        if old + added * night > 0
    ]
    frame = pl.DataFrame(
        rows,
        schema={"user_id": pl.String, "language": pl.String, "day": pl.Date, "n": pl.Int64},
        orient="row",
    )
    return frame.select(
        *LEARNER, "day", pl.col("n").alias("attempts"), (pl.col("n") // 2).alias("correct")
    )


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["u1", "u2", "u3"]), LEARNER_DAYS, min_size=1))
def test_a_night_advances_the_state_to_the_full_builds(
    days: dict[str, dict[int, tuple[int, int]]],
) -> None:
    before, after = _daily(days, night=False), _daily(days, night=True)
    # the first changed day per learner: a night rebuilds every day of theirs from it on
    touched = {
        u: min(d for d, (_, added) in by.items() if added)
        for u, by in days.items()
        if any(added for _, added in by.values())
    }
    if not touched:
        return
    from_day = pl.DataFrame(
        {
            "user_id": list(touched),
            "language": "es",
            "from_day": [datetime(2026, 1, 1) + timedelta(days=d) for d in touched.values()],
        }
    )
    since = pl.col("day") >= pl.col("from_day").cast(pl.Date)
    old_rows = before.join(from_day, on=LEARNER).filter(since).drop("from_day")
    new_rows = after.join(from_day, on=LEARNER).filter(since).drop("from_day")
    stored = learner_history_state(before)
    late = needs_earlier_days(stored, from_day)
    earlier = (
        before.join(late, on=LEARNER)
        .filter(pl.col("day") < pl.col("from_day").cast(pl.Date))
        .select(*LEARNER, "day")
    )
    stored_touched = stored.join(from_day, on=LEARNER, how="semi")
    advanced = advance_learner_state(stored_touched, from_day, old_rows, new_rows, earlier)
    state = pl.concat([stored.join(from_day, on=LEARNER, how="anti"), advanced]).sort(LEARNER)
    assert_frame_equal(state, learner_history_state(after))
    # and the streaks `user_language_progress` shows, on any as-of day after the last
    as_of = datetime.combine(DAY0 + timedelta(days=41), datetime.min.time())
    for moment in (as_of, as_of + timedelta(days=1), as_of + timedelta(days=5)):
        assert_frame_equal(
            streaks_from_state(state, moment).sort(LEARNER),
            streaks(after, moment).sort(LEARNER),
            check_dtypes=False,
        )


def test_state_by_hand() -> None:
    # days 1, 2, 3, 5, 6: runs of 3 and 2; the last run starts on day 5; 2 + 1 + 1 + 4 + 2
    # attempts, 1 + 0 + 0 + 2 + 1 correct
    daily = _daily({"u": {1: (2, 0), 2: (1, 0), 3: (1, 0), 5: (4, 0), 6: (2, 0)}}, night=False)
    state = learner_history_state(daily)
    assert state.row(0, named=True) == {
        "user_id": "u",
        "language": "es",
        "first_day": DAY0 + timedelta(days=1),
        "last_day": DAY0 + timedelta(days=6),
        "run_start": DAY0 + timedelta(days=5),
        "longest_streak": 3,
        "attempts": 10,
        "correct": 4,
    }
    # a night adding day 4 joins the runs: 1..6, six days; it adds 3 attempts (1 correct)
    old = daily.filter(pl.col("day") >= DAY0 + timedelta(days=4))
    new = pl.concat([_daily({"u": {4: (3, 0)}}, night=False), old])
    from_day = pl.DataFrame(
        {"user_id": ["u"], "language": ["es"], "from_day": [datetime(2026, 1, 5)]}
    )
    late = needs_earlier_days(state, from_day)
    assert late.height == 1  # day 4 is before the last run's first day (5): a late file
    earlier = daily.filter(pl.col("day") < DAY0 + timedelta(days=4)).select(*LEARNER, "day")
    advanced = advance_learner_state(state, from_day, old, new, earlier).row(0, named=True)
    assert (advanced["run_start"], advanced["longest_streak"]) == (DAY0 + timedelta(days=1), 6)
    assert (advanced["attempts"], advanced["correct"]) == (13, 5)


QUALITIES = st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=8), min_size=1, max_size=6)


@settings(max_examples=60, deadline=None)
@given(QUALITIES, st.lists(st.booleans(), min_size=6, max_size=6))
def test_cards_give_the_reviews_history_columns(
    cards: list[list[int]], in_course: list[bool]
) -> None:
    """`user_language_progress`'s history columns from a learner's cards (repetitions, reviews,
    lapses) and first reviews equal those from every review: a card is learned when SM-2 left
    its repetitions above 0, and its passed non-first reviews are reviews - 1 - lapses + (its
    first failed)."""
    params = SM2Params()
    rows = [
        (f"w{c}", datetime(2026, 1, 1) + timedelta(days=2 * i), q)
        for c, qualities in enumerate(cards)
        for i, q in enumerate(qualities)
    ]
    raw = pl.DataFrame(
        rows,
        schema={"card_id": pl.String, "reviewed_at": pl.Datetime("us"), "quality": pl.Int64},
        orient="row",
    )
    out = replay(raw, params)
    reviews = out.select(
        pl.lit("u").alias("user_id"),
        pl.lit("es").alias("language"),
        pl.col("card_id").alias("word_uid"),
        "reviewed_at",
        "quality",
        "review_index",
        "interval_before",
    )
    last = out.sort("review_index").group_by("card_id").agg(pl.all().last())
    word_progress = last.select(
        pl.lit("u").alias("user_id"),
        pl.lit("es").alias("language"),
        pl.col("card_id").alias("word_uid"),
        "interval_days",
        pl.col("reps_after").alias("repetitions"),
        pl.col("review_index").alias("reviews"),
        pl.col("lapses_after").alias("lapses"),
    )
    first = reviews.filter(pl.col("review_index") == 1).select(
        *LEARNER, "word_uid", (pl.col("quality") >= params.pass_quality).alias("first_passed")
    )
    words = pl.DataFrame(
        {
            "language": "es",
            "word_uid": [f"w{c}" for c in range(6) if in_course[c]] or ["none"],
            "level": 1,
            "group_uid": "g",
            "position": range(sum(in_course) or 1),
        }
    )
    daily = pl.DataFrame({"user_id": ["u"], "language": ["es"], "correct": [3], "attempts": [4]})
    state = daily.with_columns()
    expected = progress_history(word_progress, reviews, daily, words, params.pass_quality)
    got = _progress_history(word_progress, first, state, words)
    assert_frame_equal(got, expected, check_dtypes=False)
    # the two identities, card by card
    learned = learned_words(reviews, params.pass_quality)
    assert_frame_equal(
        learned.sort("word_uid").select("learned"),
        word_progress.sort("word_uid").select((pl.col("repetitions") > 0).alias("learned")),
    )
    passed = graded_non_first(reviews, params.pass_quality)["passed"].sum()
    identity = word_progress.join(first, on=[*LEARNER, "word_uid"]).select(
        (pl.col("reviews") - 1 - pl.col("lapses") + (~pl.col("first_passed")).cast(pl.Int64)).sum()
    )
    assert identity.item() == passed


def test_cohort_retention_moves_on_from_stored_counts_by_hand() -> None:
    """A cohort of A (first day Mon 5 Jan) and B (Tue 6 Jan), stored as of 19 Jan: A active in
    weeks 0 and 1, B in week 0 only. The night adds B on 20 Jan, B's week (20 - 6) // 7 = 2:
    week 2 gains one active learner, and B now has activity in weeks 1 and 2 or later (B's
    last week went from 0 to 2), so on-or-after gains one in weeks 1 and 2."""
    learners = pl.DataFrame(
        {
            "user_id": ["A", "B"],
            "language": "es",
            "cohort": "c",
            "first_day": [date(2026, 1, 5), date(2026, 1, 6)],
        }
    )
    old = pl.DataFrame(
        {
            "user_id": ["A", "A", "B"],
            "language": "es",
            "day": [date(2026, 1, 5), date(2026, 1, 13), date(2026, 1, 6)],
        }
    )
    new = pl.concat(
        [old, pl.DataFrame({"user_id": ["B"], "language": "es", "day": [date(2026, 1, 20)]})]
    )
    stored = cohort_retention(old, learners, datetime(2026, 1, 19, 12))
    changes = pl.DataFrame(
        {
            "language": "es",
            "cohort": "c",
            "week_offset": [2, 1, 2],
            "active": [1, 0, 0],
            "on_or_after": [0, 1, 1],
        }
    )
    as_of = datetime(2026, 1, 21, 12)
    moved_on = cohort_retention_moved_on(stored, learners, changes, as_of)
    # weeks 0..2 ((21 - 5) // 7 = 2): active 2, 1, 0 + 1 of 2; on or after: stored 2, 1
    # (A), 0 (A's last week is 1), plus B in weeks 1 and 2: 2, 2, 1
    assert moved_on["active_learners"].to_list() == [2, 1, 1]
    assert moved_on["retention_on_or_after"].to_list() == [1.0, 1.0, 0.5]
    assert moved_on["retention"].to_list() == [1.0, 0.5, 0.5]
    assert_frame_equal(moved_on, cohort_retention(new, learners, as_of))
