"""`reviews`, `word_progress` and `due_forecast` on a small hand-computed history."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from transforms.keys import CARD
from transforms.sm2 import SM2Params
from transforms.sm2.tables import (
    build_due_forecast,
    build_reviews,
    build_word_progress,
    newest_manifest_words,
    with_card_keys,
)

D0 = datetime(2026, 3, 2, 9, 0)


def _a(
    uuid: str,
    word: str,
    day: float,
    correct: bool,
    rt: int = 2000,
    user: str = "u1",
    language: str = "es",
) -> dict:
    return {
        "uuid_local": uuid,
        "user_id": user,
        "language": language,
        "word_uid": f"{language}:g:{word}",
        "step_type": "typing",
        "correct": correct,
        "response_time_ms": rt,
        "attempted_at": D0 + timedelta(days=day),
        "session_id": None,
    }


ATTEMPTS = pl.DataFrame(
    [
        # es:g:a — day 0: pass q5 then a practice miss; day 1: pass q4; day 7: fail
        _a("a1", "a", 0, True),
        _a("a2", "a", 0.01, False),
        _a("a3", "a", 1, True, 5000),
        _a("a4", "a", 7, False),
        # es:g:b — day 0 pass q3, then two correct practice attempts
        _a("b1", "b", 0, True, 20000),
        _a("b2", "b", 0.5, True),
        _a("b3", "b", 0.6, True),
        # the same learner in French
        _a("c1", "x", 2, True, language="fr"),
    ],
    schema_overrides={"session_id": pl.String},
)

WORDS = pl.DataFrame(
    {
        "language": ["es", "es", "es", "fr"],
        "version": [1, 2, 2, 1],
        "word_uid": ["es:g:a", "es:g:a", "es:g:c", "fr:g:x"],
        "level": [1, 1, 1, 1],
        "group_uid": ["g"] * 4,
        "position": [1, 1, 2, 1],
    }
)
VERSIONS = pl.DataFrame(
    {
        "language": ["es", "es", "fr"],
        "version": [1, 2, 1],
        "published_at": [D0 - timedelta(days=9), D0 + timedelta(days=3), D0 - timedelta(days=9)],
    }
)


def test_word_progress_by_hand() -> None:
    keyed = with_card_keys(ATTEMPTS)
    reviews = build_reviews(keyed, SM2Params())
    assert reviews.sort("uuid_local")["uuid_local"].to_list() == ["a1", "a3", "a4", "b1", "c1"]
    current = newest_manifest_words(WORDS, VERSIONS, D0 + timedelta(days=8))
    progress = build_word_progress(keyed, reviews, current)
    expected = pl.DataFrame(
        {
            "user_id": ["u1", "u1", "u1"],
            "language": ["es", "es", "fr"],
            "word_uid": ["es:g:a", "es:g:b", "fr:g:x"],
            # a: q5 (2.6) -> q4 (2.6) -> q1 (2.06); b: q3 (2.36); x: q5 (2.6)
            "easiness": [2.6 + 0.0 - 0.54, 2.5 - 0.14, 2.6],
            "repetitions": [0, 1, 1],
            "interval_days": [1.0, 1.0, 1.0],
            "next_review_at": [
                D0 + timedelta(days=8),
                D0 + timedelta(days=1),
                D0 + timedelta(days=3),
            ],
            "lapses": [1, 0, 0],
            "reviews": [3, 1, 1],
            "total_attempts": [4, 3, 1],
            "correct_attempts": [2, 3, 1],
            "accuracy_rate": [0.5, 1.0, 1.0],
            "consecutive_correct": [0, 3, 1],
            "first_attempted_at": [D0, D0, D0 + timedelta(days=2)],
            "last_attempted_at": [
                D0 + timedelta(days=7),
                D0 + timedelta(days=0.6),
                D0 + timedelta(days=2),
            ],
            "leitner_level": [1, 1, 1],
            # es version 2 (in force from day 3) dropped word b
            "in_current_manifest": [True, False, True],
        },
        schema_overrides={
            "repetitions": pl.Int32,
            "lapses": pl.Int32,
            "reviews": pl.Int32,
            "total_attempts": pl.Int32,
            "correct_attempts": pl.Int32,
            "consecutive_correct": pl.Int32,
            "leitner_level": pl.Int8,
        },
    )
    assert_frame_equal(progress, expected, check_dtypes=False, abs_tol=1e-9)


def test_due_forecast_counts_overdue_on_the_as_of_day() -> None:
    progress = pl.DataFrame(
        {
            "user_id": ["u1"] * 4,
            "language": ["es"] * 4,
            "next_review_at": [
                datetime(2026, 3, 1),
                datetime(2026, 3, 10, 8),
                datetime(2026, 3, 12),
                datetime(2026, 5, 1),
            ],
        }
    )
    out = build_due_forecast(progress, datetime(2026, 3, 10, 12))
    assert out.select("day", "due_reviews", "overdue_reviews").rows() == [
        (date(2026, 3, 10), 2, 2),
        (date(2026, 3, 12), 1, 0),
    ]


def _word_progress_by_grouping(
    attempts: pl.DataFrame, reviews: pl.DataFrame, current_words: pl.DataFrame
) -> pl.DataFrame:
    """The plain definition of `word_progress`: group each card's attempts and reviews."""
    by_card = (
        attempts.sort(*CARD, "attempted_at", "uuid_local")
        .group_by(CARD, maintain_order=True)
        .agg(
            pl.len().alias("total_attempts"),
            pl.col("correct").sum().alias("correct_attempts"),
            # trailing correct attempts: the card's attempts after its last miss
            pl.col("correct").reverse().cum_min().sum().alias("consecutive_correct"),
            pl.col("attempted_at").min().alias("first_attempted_at"),
            pl.col("attempted_at").max().alias("last_attempted_at"),
        )
    )
    last_review = (
        reviews.sort(*CARD, "reviewed_at", "uuid_local")
        .group_by(CARD, maintain_order=True)
        .agg(
            pl.col("ef_after").last().alias("easiness"),
            pl.col("reps_after").last().alias("repetitions"),
            pl.col("interval_days").last(),
            pl.col("due_at").last().alias("next_review_at"),
            pl.col("lapses_after").last().alias("lapses"),
            pl.len().alias("reviews"),
            pl.col("leitner_box").last().alias("leitner_level"),
        )
    )
    current = current_words.select("language", "word_uid").with_columns(
        pl.lit(True).alias("in_current_manifest")
    )
    return (
        last_review.join(by_card, on=CARD)
        .join(current, on=["language", "word_uid"], how="left")
        .with_columns(
            (pl.col("correct_attempts") / pl.col("total_attempts")).alias("accuracy_rate"),
            pl.col("in_current_manifest").fill_null(False),
        )
        .sort(CARD)
    )


@st.composite
def _histories(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(1, 60))
    rows = [
        _a(
            f"u{i:03d}",
            draw(st.sampled_from("abc")),
            draw(st.integers(0, 20)) / 4,  # quarter days: same-day and same-time attempts
            draw(st.booleans()),
            draw(st.sampled_from([1000, 4000, 20000])),
            user=draw(st.sampled_from(["u1", "u2"])),
            language=draw(st.sampled_from(["es", "fr"])),
        )
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema_overrides={"session_id": pl.String}).sample(
        fraction=1.0, shuffle=True, seed=draw(st.integers(0, 1000))
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_histories(), st.sampled_from(["day", "attempt"]))
def test_word_progress_equals_grouping_each_card(attempts: pl.DataFrame, review_unit: str) -> None:
    keyed = with_card_keys(attempts)
    reviews = build_reviews(keyed, SM2Params(review_unit=review_unit))
    current = newest_manifest_words(WORDS, VERSIONS, D0 + timedelta(days=8))
    progress = build_word_progress(keyed, reviews, current)
    expected = _word_progress_by_grouping(keyed, reviews, current).select(progress.columns)
    assert_frame_equal(progress, expected, check_dtypes=False)
