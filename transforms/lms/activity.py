"""Per-event facts the progress tables share: time spent, solved items, quiz and assignment
scores, and when each lesson's completion rule first held (lms.md section 3)."""

from __future__ import annotations

import polars as pl

from transforms.lms.tree import is_lesson
from transforms.sessions import SESSION_GAP, with_sessions

SESSION_CAP_MS = int(SESSION_GAP.total_seconds() * 1000)
SOLVES_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "solved_at": pl.Datetime("us"),
}
USER = "user_id"


def timed_events(
    events: pl.DataFrame, attributes: pl.DataFrame, courses: list[str]
) -> pl.DataFrame:
    """The events progress counts, each with its node's `node_kind`, `lesson_id`, `module_id`
    and `time_ms`: course-level events of a course in force and events on a node of a version
    in force (orphans are left out). An event's time is its `durationMs`/`timeSpentMs`, else
    the gap to the learner's next event in the same session (the client's `sessionId`, or a
    new one after 30 idle minutes), capped at 30 minutes; 0 for a session's last event."""
    info = attributes.select("node_id", pl.col("kind").alias("node_kind"), "lesson_id", "module_id")
    known = (
        events.filter(pl.col("course_id").is_in(courses))
        .join(info, on="node_id", how="left")
        .filter(pl.col("node_id").is_null() | pl.col("node_kind").is_not_null())
    )
    sessions = with_sessions(known.lazy(), time="occurred_at", tiebreak="event_id").collect()
    ordered = sessions.sort(USER, "session_id", "occurred_at", "event_id")
    same_session = (pl.col(USER) == pl.col(USER).shift(-1)) & (
        pl.col("session_id") == pl.col("session_id").shift(-1)
    )
    gap = (pl.col("occurred_at").shift(-1) - pl.col("occurred_at")).dt.total_milliseconds()
    capped = pl.when(same_session).then(pl.min_horizontal(gap, SESSION_CAP_MS))
    measured = pl.coalesce("duration_ms", "time_spent_ms", capped)
    return ordered.with_columns(measured.fill_null(0).cast(pl.Int64).alias("time_ms"))


def event_solves(events: pl.DataFrame) -> pl.DataFrame:
    """(user_id, item_id, solved_at): the first solved attempt of a task, the first correct
    answer to a question."""
    solved = ((pl.col("type") == "task_attempted") & pl.col("solved")) | (
        (pl.col("type") == "question_answered") & pl.col("correct")
    )
    return (
        events.filter(solved.fill_null(False))
        .group_by(USER, pl.col("node_id").alias("item_id"))
        .agg(pl.col("occurred_at").min().alias("solved_at"))
    )


def quiz_attempt_scores(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """(user_id, quiz_id, attempt_id) of every submitted quiz attempt: `submitted_at`,
    `points` (each question's last answer in the attempt), `score_percent` (of the quiz's
    max points, the sum of its questions')."""
    answers = (
        events.filter(pl.col("type") == "question_answered")
        .sort("occurred_at", "event_id")
        .group_by(USER, pl.col("lesson_id").alias("quiz_id"), "attempt_id", "node_id")
        .agg(pl.col("score").last())
        .group_by(USER, "quiz_id", "attempt_id")
        .agg(pl.col("score").sum().alias("points"))
    )
    submitted = (
        events.filter(pl.col("type") == "quiz_submitted")
        .group_by(USER, pl.col("node_id").alias("quiz_id"), "attempt_id")
        .agg(pl.col("occurred_at").min().alias("submitted_at"))
    )
    quiz_max = attributes.filter(pl.col("kind") == "quiz").select(
        pl.col("node_id").alias("quiz_id"), pl.col("max_points").alias("quiz_max_points")
    )
    return (
        submitted.join(answers, on=[USER, "quiz_id", "attempt_id"], how="left")
        .join(quiz_max, on="quiz_id", how="left")
        .with_columns(
            pl.col("points").fill_null(0.0),
            pl.when(pl.col("quiz_max_points") > 0)
            .then(pl.col("points").fill_null(0.0) / pl.col("quiz_max_points") * 100)
            .alias("score_percent"),
        )
    )


def assignment_grades(events: pl.DataFrame) -> pl.DataFrame:
    """(user_id, assignment_id, graded_at, score_percent) per `assignment_graded` event."""
    return events.filter(pl.col("type") == "assignment_graded").select(
        USER,
        pl.col("node_id").alias("assignment_id"),
        pl.col("occurred_at").alias("graded_at"),
        (pl.col("score") / pl.col("max_score") * 100).alias("score_percent"),
    )


def best_scores(quizzes: pl.DataFrame, grades: pl.DataFrame) -> pl.DataFrame:
    """(user_id, lesson_id, best_score_percent) over submitted quiz attempts and grades."""
    return (
        pl.concat(
            [
                quizzes.select(USER, pl.col("quiz_id").alias("lesson_id"), "score_percent"),
                grades.select(USER, pl.col("assignment_id").alias("lesson_id"), "score_percent"),
            ]
        )
        .group_by(USER, "lesson_id")
        .agg(pl.col("score_percent").max().alias("best_score_percent"))
    )


def lesson_items(nodes: pl.DataFrame, lessons: pl.DataFrame) -> pl.DataFrame:
    """The tasks and questions of each lesson in the version its attributes come from:
    (lesson_id, item_id, item_points)."""
    return (
        nodes.filter(pl.col("kind").is_in(["task", "question"]))
        .join(
            lessons.select(pl.col("node_id").alias("lesson_id"), "course_id", "version"),
            on=["lesson_id", "course_id", "version"],
        )
        .select(
            "lesson_id",
            pl.col("node_id").alias("item_id"),
            pl.col("max_points").alias("item_points"),
        )
    )


def _first(frame: pl.DataFrame, at: str) -> pl.DataFrame:
    return frame.group_by(USER, "lesson_id").agg(pl.col(at).min().alias("completed_at"))


def lesson_completions(
    events: pl.DataFrame,
    attributes: pl.DataFrame,
    items: pl.DataFrame,
    solves: pl.DataFrame,
    quizzes: pl.DataFrame,
    grades: pl.DataFrame,
) -> pl.DataFrame:
    """(user_id, lesson_id, completed_at): when the lesson's rule first held (lms.md: viewed,
    time, all_tasks_solved, explicit, passed, submitted, graded), or its first
    `lesson_completed` event, whichever came first. A lesson with no tasks under
    `all_tasks_solved` completes at its first view."""
    lessons = attributes.filter(is_lesson()).select(
        pl.col("node_id").alias("lesson_id"), "rule", "rule_seconds", "min_percent", "pass_percent"
    )
    on_lesson = events.filter(pl.col("node_id") == pl.col("lesson_id"))
    views = on_lesson.filter(pl.col("type") == "lesson_viewed").sort("occurred_at", "event_id")
    rule_of = lessons.select("lesson_id", "rule", "rule_seconds", "min_percent", "pass_percent")
    view_rules = views.join(rule_of, on="lesson_id")
    candidates = [
        _first(view_rules.filter(pl.col("rule") == "viewed"), "occurred_at"),
        _first(
            view_rules.filter(pl.col("rule") == "time")
            .sort(USER, "lesson_id", "occurred_at", "event_id")
            .filter(
                pl.col("time_ms").cum_sum().over(USER, "lesson_id") >= pl.col("rule_seconds") * 1000
            ),
            "occurred_at",
        ),
        _first(on_lesson.filter(pl.col("type") == "lesson_completed"), "occurred_at"),
        _first(
            on_lesson.filter(pl.col("type") == "assignment_submitted").join(
                rule_of.filter(pl.col("rule") == "submitted"), on="lesson_id"
            ),
            "occurred_at",
        ),
        _first(
            grades.rename({"assignment_id": "lesson_id"})
            .join(rule_of.filter(pl.col("rule") == "graded"), on="lesson_id")
            .filter(pl.col("score_percent") >= pl.col("min_percent")),
            "graded_at",
        ),
        _first(
            quizzes.rename({"quiz_id": "lesson_id"})
            .join(rule_of.filter(pl.col("rule") == "passed"), on="lesson_id")
            .filter(pl.col("score_percent") >= pl.col("pass_percent")),
            "submitted_at",
        ),
        _all_tasks_solved(view_rules, rule_of, items, solves),
    ]
    return pl.concat(candidates).group_by(USER, "lesson_id").agg(pl.col("completed_at").min())


def _all_tasks_solved(
    view_rules: pl.DataFrame, rule_of: pl.DataFrame, items: pl.DataFrame, solves: pl.DataFrame
) -> pl.DataFrame:
    lessons = rule_of.filter(pl.col("rule") == "all_tasks_solved").select("lesson_id")
    with_items = items.join(lessons, on="lesson_id")
    total = with_items.group_by("lesson_id").agg(pl.len().alias("_total"))
    done = (
        solves.join(with_items, on="item_id")
        .group_by(USER, "lesson_id")
        .agg(pl.len().alias("_done"), pl.col("solved_at").max().alias("completed_at"))
        .join(total, on="lesson_id")
        .filter(pl.col("_done") == pl.col("_total"))
        .select(USER, "lesson_id", "completed_at")
    )
    empty = lessons.join(total, on="lesson_id", how="anti")
    first_view = _first(view_rules.join(empty, on="lesson_id", how="semi"), "occurred_at")
    return pl.concat([done, first_view])
