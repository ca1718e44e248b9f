"""`quiz_attempts`: one row per attempt at a quiz, from `quiz_started`, `question_answered` and
`quiz_submitted` events (lms.md section 3).

An attempt is completed once submitted; without a submit it is abandoned once 24 hours have
passed since its start as of the as-of time, else in progress. A question answered twice in one
attempt counts its last answer (by time, then event id); partial credit is the answer's `score`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

USER = "user_id"
ATTEMPT_KEY = [USER, "quiz_id", "attempt_id"]
ATTEMPT_STATUSES = ("completed", "abandoned", "in_progress")
ABANDON_AFTER = timedelta(hours=24)

ATTEMPT_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "course_id": pl.String(),
    "module_id": pl.String(),
    "quiz_id": pl.String(),
    "attempt_id": pl.String(),
    "attempt_number": pl.Int32(),
    "status": pl.String(),
    "started_at": pl.Datetime("us"),
    "completed_at": pl.Datetime("us"),
    "time_spent_s": pl.Float64(),
    "questions": pl.Int32(),
    "answered": pl.Int32(),
    "correct": pl.Int32(),
    "incorrect": pl.Int32(),
    "unanswered": pl.Int32(),
    "points": pl.Float64(),
    "max_points": pl.Float64(),
    "score_percent": pl.Float64(),
    "passed": pl.Boolean(),
}


def last_answers(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (user_id, quiz_id, attempt_id, question_id) answered: the last answer's
    `correct`, `score`, `max_score`, `response` and `answered_at` (ties by event id). `events`
    are timed events (with `lesson_id`, the quiz)."""
    return (
        events.filter((pl.col("type") == "question_answered") & pl.col("attempt_id").is_not_null())
        .sort("occurred_at", "event_id")
        .group_by(USER, pl.col("lesson_id").alias("quiz_id"), "attempt_id", "node_id")
        .agg(
            pl.col("course_id").last(),
            pl.col("correct").last(),
            pl.col("score").last(),
            pl.col("max_score").last(),
            pl.col("response").last(),
            pl.col("occurred_at").last().alias("answered_at"),
        )
        .rename({"node_id": "question_id"})
    )


def quiz_questions(nodes: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """(quiz_id, question_id, question_points, options, question_position) of each quiz's
    questions in the version its attributes come from (the newest in force)."""
    quizzes = attributes.filter(pl.col("kind") == "quiz").select(
        pl.col("node_id").alias("quiz_id"), "course_id", "version"
    )
    return (
        nodes.filter(pl.col("kind") == "question")
        .join(quizzes, left_on=["lesson_id", "course_id", "version"], right_on=quizzes.columns)
        .select(
            pl.col("lesson_id").alias("quiz_id"),
            pl.col("node_id").alias("question_id"),
            pl.col("max_points").alias("question_points"),
            "options",
            pl.col("position").alias("question_position"),
        )
    )


def quiz_attempts(
    events: pl.DataFrame,
    attributes: pl.DataFrame,
    questions: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """One row per (user_id, quiz_id, attempt_id) with any event of the attempt.

    `events` are timed events (`transforms.lms.activity.timed_events`), `attributes` the node
    attributes in force, `questions` from `quiz_questions`. `attempt_number` counts a learner's
    attempts at the quiz by start time (then attempt id) from 1; `started_at` is the first
    `quiz_started` (else the attempt's first event); `completed_at` the first `quiz_submitted`.
    `time_spent_s` = (completed_at, else the attempt's last event) − started_at, as Moodle's
    time taken. `questions` = the quiz's questions in its newest version in force plus any other
    question answered in the attempt; `answered` counts questions with an answer (the last one
    counts), `correct`/`incorrect` by that answer's `correct`, `unanswered` = questions −
    answered; `points` = Σ last scores (partial credit), `max_points` = the quiz's max points,
    `score_percent` = points / max_points × 100, `passed` = completed with score_percent ≥ the
    quiz's passPercent (null when the quiz has none)."""
    on_quiz = events.filter(
        pl.col("type").is_in(["quiz_started", "question_answered", "quiz_submitted"])
        & pl.col("attempt_id").is_not_null()
        & (pl.col("lesson_id").is_not_null())
    ).with_columns(pl.col("lesson_id").alias("quiz_id"))
    if on_quiz.is_empty():
        return pl.DataFrame(schema=ATTEMPT_SCHEMA)
    started = pl.col("type") == "quiz_started"
    submitted = pl.col("type") == "quiz_submitted"
    spans = on_quiz.group_by(ATTEMPT_KEY).agg(
        pl.col("course_id").first(),
        pl.coalesce(pl.col("occurred_at").filter(started).min(), pl.col("occurred_at").min()).alias(
            "started_at"
        ),
        pl.col("occurred_at").filter(submitted).min().alias("completed_at"),
        pl.col("occurred_at").max().alias("_last_at"),
    )
    answers = last_answers(on_quiz)
    per_attempt = answers.group_by(ATTEMPT_KEY).agg(
        pl.len().cast(pl.Int32).alias("answered"),
        pl.col("correct").fill_null(False).sum().cast(pl.Int32).alias("correct"),
        pl.col("score").fill_null(0.0).sum().alias("points"),
        pl.col("question_id"),
    )
    quiz_info = attributes.filter(pl.col("kind") == "quiz").select(
        pl.col("node_id").alias("quiz_id"),
        "module_id",
        pl.col("max_points").alias("max_points"),
        "pass_percent",
    )
    listed = questions.group_by("quiz_id").agg(pl.col("question_id").alias("_listed"))
    status = (
        pl.when(pl.col("completed_at").is_not_null())
        .then(pl.lit("completed"))
        .when(pl.lit(as_of) - pl.col("started_at") >= ABANDON_AFTER)
        .then(pl.lit("abandoned"))
        .otherwise(pl.lit("in_progress"))
    )
    n_questions = (
        pl.concat_list(
            pl.col("_listed").fill_null(pl.lit([], dtype=pl.List(pl.String))),
            pl.col("question_id").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .list.unique()
        .list.len()
        .cast(pl.Int32)
    )
    score = pl.when(pl.col("max_points") > 0).then(pl.col("points") / pl.col("max_points") * 100)
    return (
        spans.join(per_attempt, on=ATTEMPT_KEY, how="left")
        .join(quiz_info, on="quiz_id", how="left")
        .join(listed, on="quiz_id", how="left")
        .with_columns(
            pl.col("answered").fill_null(0),
            pl.col("correct").fill_null(0),
            pl.col("points").fill_null(0.0),
            n_questions.alias("questions"),
            status.alias("status"),
        )
        .sort(USER, "quiz_id", "started_at", "attempt_id")
        .with_columns(
            pl.int_range(1, pl.len() + 1)
            .over(USER, "quiz_id")
            .cast(pl.Int32)
            .alias("attempt_number"),
            score.alias("score_percent"),
        )
        .select(
            USER,
            "course_id",
            "module_id",
            "quiz_id",
            "attempt_id",
            "attempt_number",
            "status",
            "started_at",
            "completed_at",
            (
                (pl.coalesce("completed_at", "_last_at") - pl.col("started_at")).dt.total_seconds(
                    fractional=True
                )
            ).alias("time_spent_s"),
            "questions",
            "answered",
            "correct",
            (pl.col("answered") - pl.col("correct")).alias("incorrect"),
            (pl.col("questions") - pl.col("answered")).alias("unanswered"),
            "points",
            "max_points",
            "score_percent",
            pl.when(pl.col("pass_percent").is_not_null())
            .then(
                (pl.col("status") == "completed")
                & (pl.col("score_percent").fill_null(0.0) >= pl.col("pass_percent"))
            )
            .alias("passed"),
        )
        .cast(ATTEMPT_SCHEMA)  # type: ignore[arg-type]
    )
