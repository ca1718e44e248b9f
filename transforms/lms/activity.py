"""Per-event facts the progress tables share: time spent, solved items, quiz and assignment
scores, and when each lesson's completion rule first held (lms.md section 3)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from transforms.lms.tree import is_lesson
from transforms.sessions import SESSION_GAP, session_starts

SESSION_CAP_MS = int(SESSION_GAP.total_seconds() * 1000)
SOLVES_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "solved_at": pl.Datetime("us"),
}
USER = "user_id"


def id_key(column: str, dtype: pl.DataType) -> pl.Expr:
    """An integer per distinct value of an id column: the physical code of an Enum (in the
    Enum's order) or of the column cast to a Categorical."""
    col = pl.col(column)
    return (col if isinstance(dtype, pl.Enum) else col.cast(pl.Categorical)).to_physical()


def row_order(
    frame: pl.DataFrame, keys: list[str], tiebreak: Callable[[pl.Series], pl.Series]
) -> pl.Series:
    """The row indices of `frame` ordered by the integer or time columns `keys`, then by the
    tiebreak for rows equal on every key (`tiebreak(rows)`: the tiebreak values of those rows
    of `frame`, asked for the tied rows only, so a string tiebreak is never copied whole).
    The sort compares integers only: the leading keys (non-negative integer codes, as `id_key`
    gives) packed into one integer when their ranges' product fits, then a stable sort per
    key, the last key first (cheaper than one sort on several keys, and nearly free on a key
    already in order, as time usually is); the few tied rows are then ordered among
    themselves on the tiebreak, in place."""
    ordered = frame.select(keys).with_row_index("_row")
    *leading, last = keys
    if len(leading) > 1:
        spans = [int(v) + 1 if v is not None else 1 for v in frame.select(leading).max().row(0)]
        if math.prod(spans) < 2**63:
            packed = pl.lit(0, dtype=pl.UInt64)
            for key, span in zip(leading, spans, strict=True):
                packed = packed * span + pl.col(key).cast(pl.UInt64)
            ordered = ordered.select("_row", packed.alias("_packed"), last)
            keys = ["_packed", last]
    for key in reversed(keys):
        ordered = ordered.sort(key, maintain_order=True)
    same_as_previous = pl.all_horizontal(
        (pl.col(k) == pl.col(k).shift(1)).fill_null(False) for k in keys
    )
    tied = ordered.with_row_index("_at").filter(
        same_as_previous | same_as_previous.shift(-1).fill_null(False)
    )
    rows = ordered["_row"]
    if tied.height:
        fixed = tied.with_columns(tiebreak(tied["_row"]).alias("_tiebreak"))
        rows = rows.scatter(tied["_at"], fixed.sort(*keys, "_tiebreak")["_row"])
    return rows


def timed_events(
    events: pl.DataFrame, attributes: pl.DataFrame, courses: list[str] | pl.Series
) -> pl.DataFrame:
    """The events progress counts, each with its node's `node_kind`, `lesson_id`, `module_id`,
    its `session_key` and `time_ms`: course-level events of a course in force and events on a
    node of a version in force (orphans are left out). Sessions are the client's `sessionId`,
    else a new one after 30 idle minutes (`transforms.sessions`); `session_key` numbers them
    (one integer per session of a learner). An event's time is its `durationMs`/
    `timeSpentMs`, else the gap to the learner's next event in the same session (by time,
    then event id), capped at 30 minutes; 0 for a session's last event. Rows keep their input
    order: only the keys sessions need are sorted, as integers (`row_order`; with `user_id`
    an Enum, as `build_lms_progress` passes it, no string is compared)."""
    node = pl.col("node_id").replace_strict(
        attributes["node_id"], pl.int_range(attributes.height, eager=True), default=None
    )
    looked_up = (("kind", "node_kind"), ("lesson_id", "lesson_id"), ("module_id", "module_id"))
    known = (
        events.lazy()
        .filter(pl.col("course_id").is_in(pl.Series(courses).implode()))
        .with_columns(node.alias("_node"))
        .filter(pl.col("node_id").is_null() | pl.col("_node").is_not_null())
        .with_columns(pl.lit(attributes[a]).gather(pl.col("_node")).alias(b) for a, b in looked_up)
        .drop("_node")
        .collect()
    )
    at = pl.col("occurred_at")
    keys = known.select(
        id_key(USER, known.schema[USER]).alias("_user"), "occurred_at", "session_id"
    ).with_row_index("_row")
    event_ids = known["event_id"]

    def event_id_of(part: pl.DataFrame) -> Callable[[pl.Series], pl.Series]:
        return lambda rows: event_ids.gather(part["_row"].gather(rows))

    def gap_ms(last: pl.Expr) -> pl.Expr:
        """The gap to the next event of the session, capped; 0 after its last (no time)."""
        gap = (at.shift(-1) - at).dt.total_milliseconds().clip(upper_bound=SESSION_CAP_MS)
        return pl.when(~last).then(gap).fill_null(0).alias("_gap")

    # without a client session: sessions follow each learner's events in time order
    derived = keys.filter(pl.col("session_id").is_null())
    starts = session_starts("occurred_at", user="_user")
    order = row_order(derived, ["_user", "occurred_at"], event_id_of(derived))
    derived = derived[order].select(
        "_row",
        starts.cum_sum().cast(pl.Int64).alias("session_key"),
        gap_ms(starts.shift(-1).fill_null(True)),
    )
    client = keys.filter(pl.col("session_id").is_not_null()).with_columns(
        pl.col("session_id").cast(pl.Categorical).to_physical().alias("_session")
    )
    new_session = pl.any_horizontal(pl.col(c) != pl.col(c).shift(1) for c in ("_user", "_session"))
    new_session = new_session.fill_null(True)
    numbered = derived["session_key"].max() or 0
    order = row_order(client, ["_user", "_session", "occurred_at"], event_id_of(client))
    client = client[order].select(
        "_row",
        (new_session.cum_sum().cast(pl.Int64) + numbered).alias("session_key"),
        gap_ms(new_session.shift(-1).fill_null(True)),
    )
    # each part's values back in the events' row order, by position (no sort)
    session_key = np.zeros(known.height, dtype=np.int64)
    gap = np.zeros(known.height, dtype=np.int64)
    for part in (derived, client):
        rows = part["_row"].to_numpy()
        session_key[rows] = part["session_key"].to_numpy()
        gap[rows] = part["_gap"].to_numpy()
    # no duration of its own: the gap (0 for a session's last event)
    measured = pl.coalesce("duration_ms", "time_spent_ms", pl.lit(pl.Series(gap)))
    return known.with_columns(
        pl.Series("session_key", session_key), measured.cast(pl.Int64).alias("time_ms")
    )


def event_solves(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """(user_id, item_id, solved_at): the first solved attempt of a task, the first correct
    answer to a question."""
    solved = ((pl.col("type") == "task_attempted") & pl.col("solved")) | (
        (pl.col("type") == "question_answered") & pl.col("correct")
    )
    return (
        events.lazy()
        .filter(solved.fill_null(False))
        .group_by(USER, pl.col("node_id").alias("item_id"))
        .agg(pl.col("occurred_at").min().alias("solved_at"))
        .collect()
    )


def quiz_attempt_scores(events: pl.DataFrame, attributes: pl.DataFrame) -> pl.DataFrame:
    """(user_id, quiz_id, attempt_id) of every submitted quiz attempt: `submitted_at`,
    `points` (each question's last answer in the attempt), `score_percent` (of the quiz's
    max points, the sum of its questions')."""
    answers = (
        events.lazy()
        .filter(pl.col("type") == "question_answered")
        .group_by(USER, pl.col("lesson_id").alias("quiz_id"), "attempt_id", "node_id")
        .agg(pl.col("score").sort_by("occurred_at", "event_id").last())
        .group_by(USER, "quiz_id", "attempt_id")
        .agg(pl.col("score").sum().alias("points"))
    )
    submitted = (
        events.lazy()
        .filter(pl.col("type") == "quiz_submitted")
        .group_by(USER, pl.col("node_id").alias("quiz_id"), "attempt_id")
        .agg(pl.col("occurred_at").min().alias("submitted_at"))
    )
    quiz_max = (
        attributes.lazy()
        .filter(pl.col("kind") == "quiz")
        .select(pl.col("node_id").alias("quiz_id"), pl.col("max_points").alias("quiz_max_points"))
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
        .collect()
    )


def assignment_grades(events: pl.DataFrame) -> pl.DataFrame:
    """(user_id, assignment_id, graded_at, score_percent) per `assignment_graded` event."""
    return (
        events.lazy()
        .filter(pl.col("type") == "assignment_graded")
        .select(
            USER,
            pl.col("node_id").alias("assignment_id"),
            pl.col("occurred_at").alias("graded_at"),
            (pl.col("score") / pl.col("max_score") * 100).alias("score_percent"),
        )
        .collect()
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
    on_lesson = (
        events.lazy()
        .filter(pl.col("node_id") == pl.col("lesson_id"))
        .select(USER, "lesson_id", "type", "occurred_at", "event_id", "time_ms")
        .collect()
    )
    views = on_lesson.filter(pl.col("type") == "lesson_viewed")
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
