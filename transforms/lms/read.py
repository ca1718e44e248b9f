"""The LMS progress tables' inputs from the warehouse, language courses included."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from transforms.incremental import rows_for
from transforms.lms.language import (
    attempt_events,
    card_states,
    language_nodes,
    language_versions,
    learned_solves,
)
from transforms.lms.progress import LmsInputs
from transforms.lms.schema import ensure_lms_tables
from transforms.sm2.store import params_used
from transforms.warehouse import query, table_exists

# The event columns the derived tables read (not the ingestion's provenance: source_id, row).
EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "course_id",
    "type",
    "occurred_at",
    "node_id",
    "session_id",
    "platform",
    "duration_ms",
    "position",
    "tries",
    "time_spent_ms",
    "solved",
    "score",
    "max_score",
    "attempt_id",
    "correct",
    "response",
    "submission_id",
    "grader_id",
)
# The event columns the progress tables read (`build_lms_progress`): not the free text and
# provenance only the assessment tables use.
PROGRESS_EVENT_COLUMNS = tuple(
    c for c in EVENT_COLUMNS if c not in ("platform", "response", "submission_id", "grader_id")
)


def course_tree(
    con: duckdb.DuckDBPyConnection, languages: bool = True
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(versions, nodes) as `course_versions`/`course_nodes`; with `languages`, each
    language's manifest versions as a course too."""
    versions = query(con, "SELECT * FROM course_versions")
    nodes = query(con, "SELECT * FROM course_nodes")
    if languages:
        versions = pl.concat(
            [versions, language_versions(query(con, "SELECT * FROM manifest_versions"))],
            how="vertical_relaxed",
        )
        nodes = pl.concat(
            [nodes, language_nodes(query(con, "SELECT * FROM manifest_words"))],
            how="vertical_relaxed",
        )
    return versions, nodes


def read_lms_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    languages: bool = True,
    learners: pl.DataFrame | None = None,
    courses: pl.DataFrame | None = None,
    user_range: tuple[str, str] | None = None,
    columns: tuple[str, ...] = EVENT_COLUMNS,
) -> LmsInputs:
    """Course trees, events up to `as_of` and paths; with `languages`, each language's
    manifest versions as a course, its attempts as events and its learned words as solves.
    With `learners` (one column, `user_id`), only those learners' events, attempts and
    reviews: every per-learner table built from them is those learners' rows. With
    `user_range` (first, last), the same for the learners whose `user_id` lies between the two,
    both included: a filter the scan applies, cheaper than a join with a list of learners (a
    full build's groups are such runs). With `courses` (one column, `course_id`), only the
    events of those courses (the per-course tables). `columns`: the event columns read."""
    if learners is not None and user_range is not None:
        raise ValueError("read_lms_inputs: give `learners` or `user_range`, not both")
    ensure_lms_tables(con)
    versions, nodes = course_tree(con, languages)

    def read(select: str) -> pl.DataFrame:
        if user_range is not None:
            return query(con, f"{select} AND user_id BETWEEN ? AND ?", [as_of, *user_range])
        if learners is None:
            return query(con, select, [as_of])
        return rows_for(con, select, learners.select("user_id"), "USING (user_id)", [as_of])

    select = f"SELECT {', '.join(columns)} FROM lms_events WHERE occurred_at <= ?"
    if courses is None:
        events = read(select)
    else:
        keys = courses.select("course_id")
        events = rows_for(con, select, keys, "USING (course_id)", [as_of])
        if learners is not None:
            events = events.join(learners.select("user_id"), on="user_id", how="semi")
        if user_range is not None:
            events = events.filter(pl.col("user_id").is_between(*user_range))
    solves = cards = None
    if languages:
        attempts = read(
            "SELECT uuid_local, user_id, language, word_uid, correct, response_time_ms, "
            "attempted_at, session_id FROM attempts WHERE attempted_at <= ?"
        )
        events = pl.concat([events, attempt_events(attempts)], how="diagonal_relaxed")
        if table_exists(con, "reviews"):
            reviews = read(
                "SELECT user_id, language, word_uid, reviewed_at, quality, review_index, "
                "ef_after, interval_days, due_at FROM reviews WHERE reviewed_at <= ?"
            )
            solves = learned_solves(reviews, params_used(con).pass_quality)
            cards = card_states(reviews)
    return LmsInputs(
        versions=versions,
        nodes=nodes,
        events=events,
        paths=query(con, "SELECT * FROM learning_paths"),
        solves=solves.select("user_id", "item_id", "solved_at") if solves is not None else None,
        cards=cards,
    )
