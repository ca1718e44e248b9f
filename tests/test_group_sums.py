"""The group tables' partial sums (transforms/metrics/group_sums.py): a table published from
its sums equals the table built from the rows, and sums of two parts of a history, or the sums
of the whole minus one part, equal the sums of the rest."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms.keys import CARD, LEARNER
from transforms.metrics.accuracy import accuracy_by_step, word_difficulty
from transforms.metrics.group_sums import (
    HISTOGRAM,
    REVIEW_GROUP,
    REVIEW_SUM_COLUMNS,
    WORD,
    WORD_SUM_COLUMNS,
    accuracy_by_step_of,
    add_sums,
    attempt_counts,
    card_review_sums,
    card_word_sums,
    first_review_counts,
    forgetting_curve_of,
    histogram_median,
    minus,
    review_sums,
    step_response_counts,
    true_retention_of,
    word_difficulty_of,
    word_sums,
)
from transforms.metrics.retention import forgetting_curve, true_retention

START = datetime(2026, 3, 2)
PASS = 3


def _learners(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    user = rng.integers(0, 6, n)
    return user, np.where(user % 2 == 0, "es", "fr")


def _attempts(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    user, language = _learners(rng, n)
    return pl.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "language": language,
            "word_uid": [f"w{w}" for w in rng.integers(0, 4, n)],
            "step_type": rng.choice(["typing", "choice"], n),
            "correct": rng.random(n) < 0.7,
            # few distinct times, so ties and even counts reach the median
            "response_time_ms": rng.integers(1, 6, n) * 250,
        }
    )


def _reviews(seed: int, n: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    user, language = _learners(rng, n)
    return pl.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "language": language,
            "word_uid": [f"w{w}" for w in rng.integers(0, 4, n)],
            "reviewed_at": [START + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 40, n)],
            "quality": rng.integers(0, 6, n),
            "review_index": rng.integers(1, 5, n),
            "elapsed_days": rng.random(n) * 90,
            "interval_before": rng.random(n) * 40,
            "p_recall": rng.random(n),
        }
    )


def _cohorts(frame: pl.DataFrame) -> pl.DataFrame:
    """Learner u0..u5 in cohort "c0" or "c1" (u5 in none: a null cohort)."""
    learners = frame.select(LEARNER).unique()
    number = pl.col("user_id").str.slice(1).cast(pl.Int32)
    return learners.with_columns(
        pl.when(number < 5).then(pl.format("c{}", number % 2)).alias("cohort")
    )


def _split(frame: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    mask = np.random.default_rng(seed).random(frame.height) < 0.5
    return frame.filter(pl.Series(mask)), frame.filter(pl.Series(~mask))


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert_frame_equal(_sorted(got), _sorted(want.select(got.columns)), rel_tol=1e-12)


def test_median_from_a_histogram_by_hand() -> None:
    counts = pl.DataFrame(
        {
            "g": ["a", "a", "a", "b", "b", "b"],
            "response_time_ms": [100, 200, 400, 100, 300, 500],
            "attempts": [1, 2, 1, 1, 1, 1],
        }
    )
    # a: 100 200 200 400 -> n = 4, ranks 1 and 2 -> (200 + 200) / 2 = 200
    # b: 100 300 500 -> n = 3, rank 1 twice -> 300
    want = pl.DataFrame({"g": ["a", "b"], "median_response_ms": [200.0, 300.0]})
    assert_frame_equal(histogram_median(counts, ["g"]).sort("g"), want)
    # one more 500 in b: 100 300 500 500 -> ranks 1 and 2 -> (300 + 500) / 2 = 400
    more = counts.with_columns(
        pl.when(pl.col("response_time_ms") == 500)
        .then(2)
        .otherwise(pl.col("attempts"))
        .alias("attempts")
    )
    assert histogram_median(more, ["g"]).sort("g")["median_response_ms"].to_list() == [200.0, 400.0]


def test_word_sums_by_hand() -> None:
    counts = pl.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "language": ["es", "es"],
            "word_uid": ["w", "w"],
            "attempts": [3, 1],
            "correct": [2, 0],
        }
    )
    first = pl.DataFrame(
        {
            "user_id": ["u1"],
            "language": ["es"],
            "word_uid": ["w"],
            "quality": [4],
            "review_index": [1],
        }
    )
    state = pl.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "language": ["es", "es"],
            "word_uid": ["w", "w"],
            "lapses": [1, 0],
            "reviews": [4, 1],
            "easiness": [2.5, 2.1],
        }
    )
    row = word_sums(card_word_sums(counts, first_review_counts(first, PASS), state)).row(
        0, named=True
    )
    # 2 cards, both attempted; 3 + 1 attempts, 2 + 0 correct; one first review, passed (4 >= 3);
    # lapses 1 + 0 of reviews 4 + 1; easiness 2.5 + 2.1 = 4.6 over 2 cards
    assert row == {
        "language": "es",
        "word_uid": "w",
        "cards": 2,
        "learners": 2,
        "attempts": 4,
        "correct": 2,
        "first_reviews": 1,
        "first_passed": 1,
        "lapses": 1,
        "reviews": 5,
        "easiness_sum": 4.6,
        "easiness_cards": 2,
    }
    published = word_difficulty_of(
        word_sums(card_word_sums(counts, first_review_counts(first, PASS), state))
    )
    assert published["accuracy"][0] == 2 / 4 and published["lapse_rate"][0] == 1 / 5
    assert published["mean_easiness"][0] == 4.6 / 2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_accuracy_by_step_from_its_histogram(seed: int, n: int) -> None:
    attempts = _attempts(seed, n)
    cohorts = _cohorts(attempts)
    counts = step_response_counts(attempts, cohorts)
    with_cohort = attempts.join(cohorts, on=LEARNER, how="left")
    _same(accuracy_by_step_of(counts), accuracy_by_step(attempts))
    _same(
        accuracy_by_step_of(counts, by=("cohort",)), accuracy_by_step(with_cohort, by=("cohort",))
    )
    # a random split: the sums of the parts, and the whole minus a part
    first, second = _split(attempts, seed)
    parts = [step_response_counts(p, cohorts) for p in (first, second)]
    _same(add_sums(parts[0], parts[1], HISTOGRAM, "attempts"), counts)
    rest = add_sums(counts, minus(parts[1], ["attempts", "correct"]), HISTOGRAM, "attempts")
    _same(rest, parts[0].filter(pl.col("attempts") != 0))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_retention_tables_from_their_sums(seed: int, n: int) -> None:
    reviews = _reviews(seed, n)
    cohorts = _cohorts(reviews)
    cards = card_review_sums(reviews, PASS)
    sums = review_sums(cards, cohorts)
    with_cohort = reviews.join(cohorts, on=LEARNER, how="left")
    if sums.height:
        _same(true_retention_of(sums), true_retention(reviews, cohorts, PASS))
        _same(forgetting_curve_of(sums), forgetting_curve(reviews, PASS))
        _same(
            forgetting_curve_of(sums, by=("cohort",)),
            forgetting_curve(with_cohort, PASS, by=("cohort",)),
        )
    # cards replaced: their old contributions out, new ones in
    first, second = _split(reviews, seed + 1)
    old, new = card_review_sums(first, PASS), card_review_sums(second, PASS)
    start = review_sums(old, cohorts)
    delta = pl.concat(
        [review_sums(new, cohorts), minus(review_sums(old, cohorts), REVIEW_SUM_COLUMNS)]
    )
    _same(add_sums(start, delta, REVIEW_GROUP, "reviews"), review_sums(new, cohorts))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_word_difficulty_from_its_sums(seed: int, n: int) -> None:
    attempts, reviews = _attempts(seed, n), _reviews(seed, n)
    rng = np.random.default_rng(seed)
    cards = pl.concat([attempts.select(CARD), reviews.select(CARD)]).unique().sort(CARD)
    progress = cards.with_columns(
        pl.Series("lapses", rng.integers(0, 3, cards.height)),
        pl.Series("reviews", rng.integers(3, 6, cards.height)),
        pl.Series("easiness", rng.random(cards.height) + 1.3),
    )
    cards = card_word_sums(attempt_counts(attempts), first_review_counts(reviews, PASS), progress)
    _same(word_difficulty_of(word_sums(cards)), word_difficulty(attempts, reviews, progress, PASS))
    # a random half of the cards' contributions taken out, then added back
    first, _ = _split(cards, seed)
    rest = add_sums(word_sums(cards), minus(word_sums(first), WORD_SUM_COLUMNS), WORD, "cards")
    back = add_sums(rest, word_sums(first), WORD, "cards")
    _same(back, word_sums(cards))
