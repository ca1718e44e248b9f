"""Accuracy tables: `accuracy_daily`, `accuracy_by_step`, `word_difficulty`."""

from __future__ import annotations

import polars as pl

from transforms.metrics.common import wilson

DAY = pl.col("attempted_at").dt.date().alias("day")


# `accuracy_by_step`'s columns after its keys (language, [cohort,] step_type), in order
ACCURACY_BY_STEP_COLUMNS = [
    "attempts",
    "correct",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "median_response_ms",
]
# `word_difficulty`'s columns after its keys (language, word_uid), in order
WORD_DIFFICULTY_COLUMNS = [
    "learners",
    "attempts",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "first_review_pass_rate",
    "first_review_pass_rate_low",
    "first_review_pass_rate_high",
    "lapse_rate",
    "lapse_rate_low",
    "lapse_rate_high",
    "mean_easiness",
]


def accuracy_daily(
    attempts: pl.DataFrame, reviews: pl.DataFrame, word_progress: pl.DataFrame
) -> pl.DataFrame:
    """One row per (user_id, language, day) with an attempt: attempts, correct, accuracy,
    graded reviews, distinct words studied, new words (first attempt ever that day) and the
    sum of response times (`study_ms`)."""
    keys = ["user_id", "language", "day"]
    daily = attempts.group_by("user_id", "language", DAY).agg(
        pl.len().cast(pl.Int64).alias("attempts"),
        pl.col("correct").sum().cast(pl.Int64).alias("correct"),
        pl.col("word_uid").n_unique().cast(pl.Int64).alias("words_studied"),
        pl.col("response_time_ms").sum().cast(pl.Int64).alias("study_ms"),
    )
    graded = reviews.group_by(
        "user_id", "language", pl.col("reviewed_at").dt.date().alias("day")
    ).agg(pl.len().cast(pl.Int64).alias("reviews"))
    new = word_progress.group_by(
        "user_id", "language", pl.col("first_attempted_at").dt.date().alias("day")
    ).agg(pl.len().cast(pl.Int64).alias("new_words"))
    return (
        daily.join(graded, on=keys, how="left")
        .join(new, on=keys, how="left")
        .select(
            *keys,
            "attempts",
            "correct",
            (pl.col("correct") / pl.col("attempts")).alias("accuracy"),
            pl.col("reviews").fill_null(0),
            "words_studied",
            pl.col("new_words").fill_null(0),
            "study_ms",
        )
        .sort(keys)
    )


def accuracy_by_step(attempts: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """One row per (language, *by, step_type): attempts, correct, accuracy with its Wilson
    interval, and the median response time. `by` are further columns of `attempts` (a
    learner's `cohort`)."""
    keys = ["language", *by, "step_type"]
    return (
        attempts.group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.col("correct").sum().cast(pl.Int64).alias("correct"),
            pl.col("response_time_ms").median().alias("median_response_ms"),
        )
        .with_columns(wilson("correct", "attempts", "accuracy"))
        .select(*keys, *ACCURACY_BY_STEP_COLUMNS)
        .sort(keys)
    )


def word_difficulty(
    attempts: pl.DataFrame, reviews: pl.DataFrame, word_progress: pl.DataFrame, pass_quality: int
) -> pl.DataFrame:
    """One row per (language, word_uid): learners, attempts, accuracy, first-review pass rate,
    lapse rate (lapses / reviews) and mean current easiness, proportions with Wilson intervals."""
    keys = ["language", "word_uid"]
    by_attempts = attempts.group_by(keys).agg(
        pl.col("user_id").n_unique().cast(pl.Int64).alias("learners"),
        pl.len().cast(pl.Int64).alias("attempts"),
        pl.col("correct").sum().cast(pl.Int64).alias("_correct"),
    )
    first = (
        reviews.filter(pl.col("review_index") == 1)
        .group_by(keys)
        .agg(
            pl.len().cast(pl.Int64).alias("_first_reviews"),
            (pl.col("quality") >= pass_quality).sum().cast(pl.Int64).alias("_first_passed"),
        )
    )
    state = word_progress.group_by(keys).agg(
        pl.col("lapses").sum().cast(pl.Int64).alias("_lapses"),
        pl.col("reviews").sum().cast(pl.Int64).alias("_reviews"),
        pl.col("easiness").mean().alias("mean_easiness"),
    )
    return (
        by_attempts.join(first, on=keys, how="left")
        .join(state, on=keys, how="left")
        .with_columns(pl.col("_first_reviews", "_first_passed", "_lapses", "_reviews").fill_null(0))
        .with_columns(
            *wilson("_correct", "attempts", "accuracy"),
            *wilson("_first_passed", "_first_reviews", "first_review_pass_rate"),
            # each lapse is a failed review, so lapses / reviews is a share
            *wilson("_lapses", "_reviews", "lapse_rate"),
        )
        .select(
            *keys,
            *WORD_DIFFICULTY_COLUMNS,
        )
        .sort(keys)
    )
