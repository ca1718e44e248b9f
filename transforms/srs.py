"""The SRS tables, computed from attempts: `reviews`, `word_progress` and `due_forecast`.

Each function takes one batch of learners' full histories (a batch never splits a learner), so
the pipeline can process learners batch by batch with memory bounded by a batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from transforms.sm2 import SM2Params, replay, replay_leitner, select_reviews

CARD: list[str] = ["user_id", "language", "word_uid"]
FORECAST_DAYS = 30


def build_reviews(attempts: pl.DataFrame, params: SM2Params) -> pl.DataFrame:
    """One row per graded review: who, which word, its quality, SM-2's replay, and Leitner's box
    and predicted recall on the same review (`leitner_box`, `leitner_p_recall`)."""
    selected = (
        select_reviews(attempts, params)
        .select(
            *CARD,
            "uuid_local",
            "step_type",
            "correct",
            "response_time_ms",
            pl.col("attempted_at").alias("reviewed_at"),
            "quality",
        )
        .collect()
    )
    keyed = selected.with_columns(
        pl.concat_str(CARD, separator="\x1f").rank("dense").cast(pl.Int64).alias("card_id"),
        pl.col("uuid_local").alias("tiebreak"),
    )
    sm2 = replay(keyed, params)
    leitner = replay_leitner(
        keyed.select(
            "card_id",
            "reviewed_at",
            "tiebreak",
            (pl.col("quality") >= params.pass_quality).alias("passed"),
        ),
        target_recall=params.target_recall,
    )
    return sm2.with_columns(
        leitner["box_after"].alias("leitner_box"),
        leitner["p_recall"].alias("leitner_p_recall"),
    ).drop("card_id", "tiebreak")


def newest_manifest_words(
    manifest_words: pl.DataFrame, manifest_versions: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    """(language, word_uid, level, group_uid, position) of each language's newest version in
    force at `as_of` (or its first version, when none is published yet)."""
    in_force = (
        manifest_versions.with_columns((pl.col("published_at") <= as_of).alias("_published"))
        .sort("language", "_published", "version")
        .group_by("language")
        .agg(pl.col("version").last())
    )
    return manifest_words.join(in_force, on=["language", "version"]).select(
        "language", "word_uid", "level", "group_uid", "position"
    )


def build_word_progress(
    attempts: pl.DataFrame, reviews: pl.DataFrame, current_words: pl.DataFrame
) -> pl.DataFrame:
    """One row per card (user_id, language, word_uid): the app's `WordProgress` on SM-2."""
    ordered = attempts.sort(*CARD, "attempted_at", "uuid_local")
    streak_group = (~pl.col("correct")).cum_sum().over(CARD)
    from_attempts = (
        ordered.with_columns(streak_group.alias("_g"))
        .group_by(CARD)
        .agg(
            pl.len().cast(pl.Int32).alias("total_attempts"),
            pl.col("correct").sum().cast(pl.Int32).alias("correct_attempts"),
            (pl.col("correct") & (pl.col("_g") == pl.col("_g").max()))
            .sum()
            .cast(pl.Int32)
            .alias("consecutive_correct"),
            pl.col("attempted_at").min().alias("first_attempted_at"),
            pl.col("attempted_at").max().alias("last_attempted_at"),
        )
    )
    from_reviews = (
        reviews.sort(*CARD, "review_index")
        .group_by(CARD)
        .agg(
            pl.col("ef_after").last().alias("easiness"),
            pl.col("reps_after").last().alias("repetitions"),
            pl.col("interval_days").last(),
            pl.col("due_at").last().alias("next_review_at"),
            pl.col("lapses_after").last().alias("lapses"),
            pl.len().cast(pl.Int32).alias("reviews"),
            pl.col("leitner_box").last().alias("leitner_level"),
        )
    )
    current = current_words.select("language", "word_uid", pl.lit(True).alias("_current"))
    return (
        from_reviews.join(from_attempts, on=CARD, how="inner")
        .join(current, on=["language", "word_uid"], how="left")
        .select(
            *CARD,
            "easiness",
            "repetitions",
            "interval_days",
            "next_review_at",
            "lapses",
            "reviews",
            "total_attempts",
            "correct_attempts",
            pl.when(pl.col("total_attempts") > 0)
            .then(pl.col("correct_attempts") / pl.col("total_attempts"))
            .otherwise(0.0)
            .alias("accuracy_rate"),
            "consecutive_correct",
            "first_attempted_at",
            "last_attempted_at",
            "leitner_level",
            pl.col("_current").fill_null(False).alias("in_current_manifest"),
        )
        .sort(CARD)
    )


def build_due_forecast(
    word_progress: pl.DataFrame, as_of: datetime, days: int = FORECAST_DAYS
) -> pl.DataFrame:
    """One row per (user_id, language, day) with reviews due, for the `days` days from the as-of
    day; overdue reviews count on the as-of day. Days with nothing due have no row."""
    start = as_of.date()
    end = start + timedelta(days=days)
    return (
        word_progress.select(
            "user_id",
            "language",
            pl.max_horizontal(pl.col("next_review_at").dt.date(), pl.lit(start)).alias("day"),
            (pl.col("next_review_at") <= as_of).alias("_overdue"),
        )
        .filter(pl.col("day") < end)
        .group_by("user_id", "language", "day")
        .agg(
            pl.len().cast(pl.Int32).alias("due_reviews"),
            pl.col("_overdue").sum().cast(pl.Int32).alias("overdue_reviews"),
        )
        .sort("user_id", "language", "day")
    )
