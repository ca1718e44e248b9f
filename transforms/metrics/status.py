"""`learner_status`: is each learner active, lapsing or gone, as of a day (metrics.md)."""

from __future__ import annotations

from datetime import date

import polars as pl

ACTIVE_DAYS = 7  # activity within the last 7 days (idle 0..6 days): active
CHURN_DAYS = 28  # idle 7..28 days: lapsing; more than 28: churned
STATUSES = ("active", "lapsing", "churned")


def language_course(language: pl.Expr) -> pl.Expr:
    """The course id of a language app's course: `lang:<code>`."""
    return pl.lit("lang:") + language


def learner_status(activity_days: pl.DataFrame, as_of_day: date) -> pl.DataFrame:
    """One row per (user_id, course) with activity on or before `as_of_day`.

    `activity_days` has `user_id`, `course` and `day` (a Date; any number of rows per day).
    `status` is `active` when the last activity is within the last 7 days (idle 0 to 6 days),
    `lapsing` when it was 7 to 28 days ago (metrics.md says 8–28, leaving day 7 in neither; it
    counts as lapsing here), `churned` when longer; with
    `last_active_day` and `idle_days` = as-of day − last active day."""
    idle = (pl.lit(as_of_day) - pl.col("last_active_day")).dt.total_days().cast(pl.Int32)
    return (
        activity_days.filter(pl.col("day") <= as_of_day)
        .group_by("user_id", "course")
        .agg(pl.col("day").max().alias("last_active_day"))
        .with_columns(idle.alias("idle_days"))
        .with_columns(
            pl.when(pl.col("idle_days") < ACTIVE_DAYS)
            .then(pl.lit("active"))
            .when(pl.col("idle_days") <= CHURN_DAYS)
            .then(pl.lit("lapsing"))
            .otherwise(pl.lit("churned"))
            .alias("status")
        )
        .select("user_id", "course", "status", "last_active_day", "idle_days")
        .sort("user_id", "course")
    )
