"""`assessment_trends`: per learner, their course-platform assessments (completed quiz attempts
and graded assignments) in time order, their mean score and its trend (the performance page's
summary).

The trend is `improving` / `steady` / `declining`: the least-squares slope of the last
`TREND_WINDOW` scores (0..100) against their order, beyond ±`TREND_POINTS` per assessment;
null with fewer than 3 scores."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from transforms.warehouse import query, table_exists

TREND_WINDOW = 10  # the trend is read over the learner's last 10 assessments
TREND_POINTS = 1.0  # percentage points per assessment: above it improving, below − it declining
# A learner's assessments, `{users}` a condition on user_id ("true": every learner)
QUIZ_ASSESSMENTS = (
    "SELECT user_id, completed_at AS at, 'quiz' AS kind, quiz_id AS item, score_percent, passed "
    "FROM quiz_attempts WHERE status = 'completed' AND {users}"
)
GRADED_ASSIGNMENTS = (
    "SELECT user_id, occurred_at AS at, 'assignment' AS kind, node_id AS item, "
    "score / max_score * 100 AS score_percent, NULL::BOOLEAN AS passed "
    "FROM lms_events WHERE type = 'assignment_graded' AND {users}"
)


def assessment_trend(scores: list[float]) -> str | None:
    """The trend of `scores` in time order (the module docstring)."""
    recent = scores[-TREND_WINDOW:]
    if len(recent) < 3:
        return None
    slope = float(np.polyfit(np.arange(len(recent)), np.asarray(recent, dtype=float), 1)[0])
    if slope > TREND_POINTS:
        return "improving"
    if slope < -TREND_POINTS:
        return "declining"
    return "steady"


def read_assessments(con: duckdb.DuckDBPyConnection, users: str = "true") -> pl.DataFrame:
    """(user_id, at, kind, item, score_percent, passed): the completed quiz attempts
    (`quiz_attempts`, when built) and graded assignments (`lms_events`) of the learners
    `users` selects, in time order (then by item)."""
    grades = query(con, GRADED_ASSIGNMENTS.format(users=users))
    quizzes = (
        query(con, QUIZ_ASSESSMENTS.format(users=users))
        if table_exists(con, "quiz_attempts")
        else grades.clear()
    )
    if not (quizzes.height or grades.height):
        return grades.sort("at", "item")
    both = pl.concat([f for f in (quizzes, grades) if f.height], how="vertical_relaxed")
    return both.sort("at", "item")


def assessment_trends(listed: pl.DataFrame) -> pl.DataFrame:
    """One row per user_id with an assessment (`listed`: `read_assessments`): `assessments`,
    `mean_assessment_percent` (of the scores given) and `assessment_trend`."""
    if listed.is_empty():
        return pl.DataFrame(
            schema={
                "user_id": pl.String,
                "assessments": pl.Int32,
                "mean_assessment_percent": pl.Float64,
                "assessment_trend": pl.String,
            }
        )
    score = pl.col("score_percent").cast(pl.Float64)
    return (
        listed.group_by("user_id", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int32).alias("assessments"),
            score.mean().alias("mean_assessment_percent"),
            score.drop_nulls().alias("_scores"),
        )
        .with_columns(
            pl.col("_scores")
            .map_elements(lambda s: assessment_trend(s.to_list()), return_dtype=pl.String)
            .alias("assessment_trend")
        )
        .drop("_scores")
        .sort("user_id")
    )
