"""The per-course figures of the educators' course pages (issue 12), each a table the page
only draws (issue 11: reports read their inputs and draw):

- `course_funnel`: enrolled, started, each module completed, course completed;
- `course_completion_days`: enrollments and completions per day, with running totals;
- `course_lesson_time`: median minutes spent on each lesson;
- `course_continue_positions`: where active learners will "continue here";
- `course_badges_weekly`: awards to the course's enrolled learners per ISO week and badge.

Counts only, every course included: the page leaves out courses with fewer than
`reports.privacy.MIN_COHORT` enrolled learners (the pages' privacy rule stays with the pages).
"""

from __future__ import annotations

import polars as pl

FUNNEL_STAGES = ("enrolled", "started", "module_completed", "course_completed")
SERIES = ("enrolled", "completed")  # course_completion_days.series: the enrollments' column


def course_funnel(
    enrollments: pl.DataFrame, course_progress: pl.DataFrame, module_progress: pl.DataFrame
) -> pl.DataFrame:
    """One row per (course_id, stage, module_id): `learners` at the stage. Stages: `enrolled`
    (enrollments), `started` (course_progress with `started_at`), `module_completed` (one row
    per module with a completion; module_progress `status` completed), `course_completed`
    (enrollments with `completed_at`); `module_id` is null but on module stages; `enrolled`
    the course's enrolled learners on every row (no stage holds more)."""
    count = pl.len().cast(pl.Int32).alias("learners")
    module = pl.lit(None, pl.String).alias("module_id")

    def stage(frame: pl.DataFrame, name: str) -> pl.DataFrame:
        return (
            frame.group_by("course_id")
            .agg(count)
            .select("course_id", pl.lit(name).alias("stage"), module, "learners")
        )

    modules = (
        module_progress.filter(status="completed")
        .group_by("course_id", "module_id")
        .agg(count)
        .select("course_id", pl.lit("module_completed").alias("stage"), "module_id", "learners")
    )
    order = pl.col("stage").replace_strict(FUNNEL_STAGES, range(len(FUNNEL_STAGES)))
    funnel = pl.concat(
        [
            stage(enrollments, "enrolled"),
            stage(course_progress.filter(pl.col("started_at").is_not_null()), "started"),
            modules,
            stage(enrollments.filter(pl.col("completed_at").is_not_null()), "course_completed"),
        ]
    )
    enrolled = enrollments.group_by("course_id").agg(pl.len().cast(pl.Int32).alias("enrolled"))
    return funnel.join(enrolled, on="course_id", how="left").sort("course_id", order, "module_id")


def course_completion_days(enrollments: pl.DataFrame) -> pl.DataFrame:
    """One row per (course_id, series, day) with an event: `series` `enrolled` (by
    `enrolled_at`) or `completed` (by `completed_at`), `learners` that day and `total` up to
    and including it."""
    return (
        pl.concat(
            [
                enrollments.filter(pl.col(f"{series}_at").is_not_null()).select(
                    "course_id",
                    pl.lit(series).alias("series"),
                    pl.col(f"{series}_at").dt.date().alias("day"),
                )
                for series in SERIES
            ]
        )
        .group_by("course_id", "series", "day")
        .agg(pl.len().cast(pl.Int32).alias("learners"))
        .sort("course_id", "series", "day")
        .with_columns(pl.col("learners").cum_sum().over("course_id", "series").alias("total"))
    )


def course_lesson_time(lesson_progress: pl.DataFrame) -> pl.DataFrame:
    """One row per (course_id, lesson_id) some learner spent time on: `minutes`, the median of
    the learners' `time_spent_s` / 60 over those with time spent, and `learners` (those)."""
    return (
        lesson_progress.filter(pl.col("time_spent_s") > 0)
        .group_by("course_id", "lesson_id")
        .agg(
            (pl.col("time_spent_s").median() / 60).alias("minutes"),
            pl.len().cast(pl.Int32).alias("learners"),
        )
        .sort("course_id", "lesson_id")
    )


def course_continue_positions(course_progress: pl.DataFrame) -> pl.DataFrame:
    """One row per (course_id, lesson_id) at which an active learner who has not completed the
    course will "continue here" (`current_lesson`): `learners`, and `active_learners` (the
    course's, those over all its lessons)."""
    return (
        course_progress.filter(
            pl.col("completed_at").is_null()
            & (pl.col("enrollment_status") == "active")
            & pl.col("current_lesson").is_not_null()
        )
        .group_by("course_id", pl.col("current_lesson").alias("lesson_id"))
        .agg(pl.len().cast(pl.Int32).alias("learners"))
        .with_columns(pl.col("learners").sum().over("course_id").alias("active_learners"))
        .sort("course_id", "lesson_id")
    )


def course_badges_weekly(enrollments: pl.DataFrame, badges: pl.DataFrame) -> pl.DataFrame:
    """One row per (course_id, week, badge_code) with an award to a learner enrolled in the
    course (any badge, wherever earned): `week` the Monday of the award's ISO week, `name`,
    `awards`. `badges` are user_badges rows (user_id, awarded_at, badge_code, name)."""
    return (
        badges.join(enrollments.select("user_id", "course_id"), on="user_id")
        .with_columns(pl.col("awarded_at").dt.truncate("1w").dt.date().alias("week"))
        .group_by("course_id", "week", "badge_code", "name")
        .agg(pl.len().cast(pl.Int32).alias("awards"))
        .sort("course_id", "week", "badge_code")
    )
