"""`course_stop_points`: where a course's learners stop (lms.md section 4's "where learners
stop"), one row per (course_id, lesson_id) at which a learner stopped.

A learner has stopped when they have not completed the course and withdrew, paused, or have
been idle for `IDLE_DAYS` days as of (their last activity before as of − 14 days); where they
stopped is their "continue here" lesson (`course_progress.current_lesson`). `share` is the
lesson's stopped learners over the course's, with its Wilson 95% interval."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from transforms.metrics.common import wilson

IDLE_DAYS = 14  # an unfinished learner with no activity for this long has stopped
STOP_COLUMNS = (
    "user_id",
    "course_id",
    "enrollment_status",
    "completed_at",
    "last_activity_at",
    "current_lesson",
)


def stopped_learners(course_progress: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """The rows of `course_progress` of learners who stopped (the module docstring)."""
    idle = pl.col("last_activity_at") < as_of - timedelta(days=IDLE_DAYS)
    return course_progress.filter(
        pl.col("completed_at").is_null()
        & (pl.col("enrollment_status").is_in(["withdrawn", "paused"]) | idle)
        & pl.col("current_lesson").is_not_null()
    )


def course_stop_points(course_progress: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """One row per (course_id, lesson_id) where a learner stopped: `stopped` (learners),
    `stopped_learners` (the course's), `share` with `share_low`, `share_high`."""
    stopped = stopped_learners(course_progress, as_of)
    return (
        stopped.group_by("course_id", pl.col("current_lesson").alias("lesson_id"))
        .agg(pl.len().cast(pl.Int32).alias("stopped"))
        .with_columns(pl.col("stopped").sum().over("course_id").alias("stopped_learners"))
        .with_columns(wilson("stopped", "stopped_learners", "share"))
        .sort("course_id", "lesson_id")
    )
