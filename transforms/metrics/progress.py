"""Progress: `user_language_progress`, the app's UsersToLanguages (at-risk learners are in
`risk.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from transforms.keys import LEARNER
from transforms.metrics.common import MATURE_DAYS, graded_non_first


def streaks(daily: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """(user_id, language): `current_streak` (consecutive study days ending on the as-of day,
    or the day before when the as-of day has none yet), `longest_streak`, `last_study_date`."""
    today = as_of.date()
    runs = (
        daily.select(*LEARNER, "day")
        .unique()
        .sort(*LEARNER, "day")
        .with_columns(
            ((pl.col("day") - pl.col("day").shift(1).over(LEARNER)).dt.total_days() != 1)
            .fill_null(True)
            .cum_sum()
            .over(LEARNER)
            .alias("_run")
        )
        .group_by(*LEARNER, "_run")
        .agg(pl.len().cast(pl.Int32).alias("_length"), pl.col("day").max().alias("_end"))
    )
    current = (
        pl.when(pl.col("_end") >= pl.lit(today - timedelta(days=1)))
        .then(pl.col("_length"))
        .otherwise(0)
    )
    return runs.group_by(LEARNER).agg(
        current.max().alias("current_streak"),
        pl.col("_length").max().alias("longest_streak"),
        pl.col("_end").max().alias("last_study_date"),
    )


def learned_words(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """(user_id, language, word_uid, learned): a word is learned when its card's last graded
    review passed."""
    return (
        reviews.sort("review_index")
        .group_by(*LEARNER, "word_uid")
        .agg((pl.col("quality").last() >= pass_quality).alias("learned"))
    )


def _position(cards: pl.DataFrame, current_words: pl.DataFrame) -> pl.DataFrame:
    """Per learner: where they are studying, the level and group of the furthest word, in the
    newest manifest's course order (level, then position), that they have attempted; and
    `levels_completed`, the levels of that manifest whose words are all learned."""
    course = current_words.select("language", "word_uid", "level", "group_uid", "position")
    seen = cards.select(*LEARNER, "word_uid", "_learned").join(course, on=["language", "word_uid"])
    furthest = (
        seen.sort(*LEARNER, "level", "position")
        .group_by(LEARNER)
        .agg(pl.col("level").last(), pl.col("group_uid").last().alias("group"))
    )
    level_sizes = course.group_by("language", "level").agg(pl.len().alias("_size"))
    completed = (
        seen.filter("_learned")
        .group_by(*LEARNER, "level")
        .agg(pl.len().alias("_learned_words"))
        .join(level_sizes, on=["language", "level"])
        .group_by(LEARNER)
        .agg(
            (pl.col("_learned_words") == pl.col("_size"))
            .sum()
            .cast(pl.Int64)
            .alias("levels_completed")
        )
    )
    return furthest.join(completed, on=LEARNER, how="left")


PROGRESS_COLUMNS: tuple[str, ...] = (
    *LEARNER,
    "level",
    "group",
    "levels_completed",
    "words_seen",
    "words_learned",
    "words_mature",
    "words_total",
    "percent_complete",
    "words_studied_today",
    "last_study_date",
    "current_streak",
    "longest_streak",
    "accuracy",
    "true_retention",
    "due_now",
)
AS_OF_COLUMNS: tuple[str, ...] = (
    "words_studied_today",
    "last_study_date",
    "current_streak",
    "longest_streak",
    "due_now",
)
HISTORY_COLUMNS = tuple(c for c in PROGRESS_COLUMNS if c not in AS_OF_COLUMNS)


def progress_history(
    word_progress: pl.DataFrame,
    reviews: pl.DataFrame,
    daily: pl.DataFrame,
    current_words: pl.DataFrame,
    pass_quality: int,
) -> pl.DataFrame:
    """The columns of `user_language_progress` that a learner's own history fixes, whatever the
    as-of time: one row per (user_id, language) with a card; the others are `progress_as_of`'s."""
    last_passed = learned_words(reviews, pass_quality).rename({"learned": "_learned"})
    cards = word_progress.join(last_passed, on=[*LEARNER, "word_uid"], how="left").with_columns(
        pl.col("_learned").fill_null(False)
    )
    activity = daily.group_by(LEARNER).agg(
        pl.col("correct").sum().alias("_correct"),
        pl.col("attempts").sum().alias("_attempts"),
    )
    graded = (
        graded_non_first(reviews, pass_quality)
        .group_by(LEARNER)
        .agg(pl.col("passed").mean().alias("true_retention"))
    )
    return history_columns(cards, activity, graded, current_words)


def history_columns(
    cards: pl.DataFrame,
    activity: pl.DataFrame,
    graded: pl.DataFrame,
    current_words: pl.DataFrame,
) -> pl.DataFrame:
    """`progress_history` from its parts: `cards` (user_id, language, word_uid, interval_days,
    `_learned`: the last review passed), `activity` (user_id, language, `_correct`,
    `_attempts` over all days) and `graded` (user_id, language, `true_retention` over graded
    non-first reviews, absent without any)."""
    in_course = cards.join(
        current_words.select("language", "word_uid"), on=["language", "word_uid"], how="semi"
    )
    totals = current_words.group_by("language").agg(pl.len().cast(pl.Int64).alias("words_total"))
    counts = in_course.group_by(LEARNER).agg(
        pl.len().cast(pl.Int64).alias("words_seen"),
        pl.col("_learned").sum().cast(pl.Int64).alias("words_learned"),
        (pl.col("_learned") & (pl.col("interval_days") >= MATURE_DAYS))
        .sum()
        .cast(pl.Int64)
        .alias("words_mature"),
    )
    return (
        cards.select(LEARNER)
        .unique()
        .join(counts, on=LEARNER, how="left")
        .join(totals, on="language", how="left")
        .join(_position(cards, current_words), on=LEARNER, how="left")
        .join(activity, on=LEARNER, how="left")
        .join(graded, on=LEARNER, how="left")
        .with_columns(
            pl.col(
                "words_seen", "words_learned", "words_mature", "words_total", "levels_completed"
            ).fill_null(0)
        )
        .with_columns(
            pl.when(pl.col("words_total") > 0)
            .then(pl.col("words_learned") / pl.col("words_total") * 100)
            .otherwise(0.0)
            .alias("percent_complete"),
            (pl.col("_correct") / pl.col("_attempts")).alias("accuracy"),
        )
        .select(HISTORY_COLUMNS)
    )


def due_counts(next_reviews: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """(user_id, language, due_now): per learner with a card, the cards whose `next_review_at`
    has come by `as_of` (`next_reviews`: user_id, language, next_review_at)."""
    return next_reviews.group_by(LEARNER).agg(
        (pl.col("next_review_at") <= as_of).sum().cast(pl.Int64).alias("due_now")
    )


def progress_as_of(
    next_reviews: pl.DataFrame,
    daily: pl.DataFrame,
    as_of: datetime,
    due: pl.DataFrame | None = None,
    streak: pl.DataFrame | None = None,
    today: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The columns of `user_language_progress` that move with the as-of time (AS_OF_COLUMNS),
    one row per (user_id, language) with a card, from the cards' `next_review_at`
    (`next_reviews`: user_id, language, next_review_at) and `accuracy_daily`: cheap inputs, so
    a nightly run recomputes them for every learner. `due` (`due_counts`), `streak`
    (`streaks`) and `today` (user_id, language, words_studied_today) are used instead when the
    caller has them."""
    due = due_counts(next_reviews, as_of) if due is None else due
    today = (
        today
        if today is not None
        else daily.group_by(LEARNER).agg(
            pl.col("words_studied")
            .filter(pl.col("day") == as_of.date())
            .sum()
            .cast(pl.Int64)
            .alias("words_studied_today"),
        )
    )
    return (
        due.join(today, on=LEARNER, how="left")
        .join(streaks(daily, as_of) if streak is None else streak, on=LEARNER, how="left")
        .select(*LEARNER, *AS_OF_COLUMNS)
    )


def join_progress(history: pl.DataFrame, as_of_part: pl.DataFrame) -> pl.DataFrame:
    """`user_language_progress` from its two parts."""
    return history.join(as_of_part, on=LEARNER, how="left").select(PROGRESS_COLUMNS).sort(LEARNER)


def user_language_progress(
    word_progress: pl.DataFrame,
    reviews: pl.DataFrame,
    daily: pl.DataFrame,
    current_words: pl.DataFrame,
    as_of: datetime,
    pass_quality: int,
) -> pl.DataFrame:
    """One row per (user_id, language). `level`, `group`: the learner's current position (the
    furthest word attempted in the newest manifest's course order); `levels_completed`: levels
    whose words are all learned. Word counts are over the newest manifest's words in force as
    of (words dropped from the course no longer count toward progress); a word is learned when
    its card's last review passed, mature when its interval is >= 21 days."""
    return join_progress(
        progress_history(word_progress, reviews, daily, current_words, pass_quality),
        progress_as_of(word_progress.select(*LEARNER, "next_review_at"), daily, as_of),
    )
