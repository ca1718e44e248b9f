"""`assignment_submissions`: one row per submission of an assignment (lms.md section 3)."""

from __future__ import annotations

import polars as pl

from transforms.lms.progress import ENROLLED_AT

USER = "user_id"
SUBMISSION_KEY = [USER, "assignment_id", "submission_id"]
SUBMISSION_STATUSES = ("submitted", "graded")

SUBMISSION_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "course_id": pl.String(),
    "module_id": pl.String(),
    "assignment_id": pl.String(),
    "submission_id": pl.String(),
    "status": pl.String(),
    "submitted_at": pl.Datetime("us"),
    "due_at": pl.Datetime("us"),
    "late": pl.Boolean(),
    "graded_at": pl.Datetime("us"),
    "score_percent": pl.Float64(),
    "grades": pl.Int32(),
    "hours_to_grade": pl.Float64(),
}


def assignment_submissions(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """One row per (user_id, assignment_id, submission_id) with an `assignment_submitted` or
    `assignment_graded` event. `submitted_at`: the first submit; `due_at`: the assignment's
    `dueAt`, else its `dueOffsetDays` after the learner's enrollment in the course (the first
    `enrolled` event, else the first event, as `enrollments.enrolled_at`), null with neither;
    `late`: submitted after `due_at` (false without a deadline, null without a submit);
    `graded_at`: the first grade; `score_percent`: the latest grade's score / max score × 100
    (a regrade replaces it); `grades` counts them; `hours_to_grade` = graded_at − submitted_at.
    `events` are timed events (`transforms.lms.activity.timed_events`)."""
    kinds = ["assignment_submitted", "assignment_graded"]
    work = events.filter(pl.col("type").is_in(kinds) & pl.col("submission_id").is_not_null()).sort(
        "occurred_at", "event_id"
    )
    if work.is_empty():
        return pl.DataFrame(schema=SUBMISSION_SCHEMA)
    submit, grade = (pl.col("type") == kind for kind in kinds)
    percent = pl.when(pl.col("max_score") > 0).then(pl.col("score") / pl.col("max_score") * 100)
    rows = work.group_by(USER, pl.col("node_id").alias("assignment_id"), "submission_id").agg(
        pl.col("course_id").first(),
        pl.col("occurred_at").filter(submit).min().alias("submitted_at"),
        pl.col("occurred_at").filter(grade).min().alias("graded_at"),
        percent.filter(grade).last().alias("score_percent"),
        grade.sum().cast(pl.Int32).alias("grades"),
    )
    enrolled = events.group_by(USER, "course_id").agg(ENROLLED_AT.alias("_enrolled_at"))
    info = attributes.filter(pl.col("kind") == "assignment").select(
        pl.col("node_id").alias("assignment_id"), "module_id", "due_at", "due_offset_days"
    )
    offset_due = pl.col("_enrolled_at") + pl.duration(days=pl.col("due_offset_days"))
    return (
        rows.join(info, on="assignment_id", how="left")
        .join(enrolled, on=[USER, "course_id"], how="left")
        .with_columns(pl.coalesce(pl.col("due_at"), offset_due).alias("due_at"))
        .select(
            USER,
            "course_id",
            "module_id",
            "assignment_id",
            "submission_id",
            pl.when(pl.col("grades") > 0)
            .then(pl.lit("graded"))
            .otherwise(pl.lit("submitted"))
            .alias("status"),
            "submitted_at",
            "due_at",
            pl.when(pl.col("submitted_at").is_not_null())
            .then((pl.col("submitted_at") > pl.col("due_at")).fill_null(False))
            .alias("late"),
            "graded_at",
            "score_percent",
            "grades",
            (
                (pl.col("graded_at") - pl.col("submitted_at")).dt.total_seconds(fractional=True)
                / 3600
            ).alias("hours_to_grade"),
        )
        .sort(SUBMISSION_KEY)
        .cast(SUBMISSION_SCHEMA)  # type: ignore[arg-type]
    )
