"""The LMS progress tables' inputs from the warehouse, language courses included."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import duckdb
import polars as pl

from transforms.lms.language import (
    attempt_events,
    card_states,
    language_nodes,
    language_versions,
    learned_solves,
)
from transforms.lms.progress import LmsInputs
from transforms.lms.schema import ensure_lms_tables
from transforms.lms.tasks import TASK_MEDIAN
from transforms.sm2.store import params_used
from transforms.warehouse import query, registered, table_exists

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


def read_lms_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    languages: bool = True,
    learners: pl.DataFrame | None = None,
) -> LmsInputs:
    """Course trees, events up to `as_of` and paths; with `languages`, each language's
    manifest versions as a course, its attempts as events and its learned words as solves.
    With `learners` (one column, `user_id`), only those learners' events, attempts and
    reviews, and what the tables take from every learner (the tasks' median attempt times):
    every progress table is keyed by learner, so their rows come out the same (the
    warehouse's tables exist: it may be opened read-only)."""
    if learners is None:
        ensure_lms_tables(con)
        return _read(con, as_of, languages, "")
    with registered(con, "_lms_learners", learners.select("user_id")):
        inputs = _read(con, as_of, languages, " SEMI JOIN _lms_learners USING (user_id)")
    medians = query(
        con,
        f"SELECT node_id, quantile_cont(time_spent_ms, 0.5) AS {TASK_MEDIAN} FROM lms_events "
        "WHERE type = 'task_attempted' AND occurred_at <= ? GROUP BY node_id",
        [as_of],
    )
    return replace(inputs, task_medians=medians)


def _read(con: duckdb.DuckDBPyConnection, as_of: datetime, languages: bool, only: str) -> LmsInputs:
    """`read_lms_inputs`, its per-learner reads restricted by `only` (a join clause)."""
    versions = query(con, "SELECT * FROM course_versions")
    nodes = query(con, "SELECT * FROM course_nodes")
    events = query(
        con,
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM lms_events{only} WHERE occurred_at <= ?",
        [as_of],
    )
    solves = cards = None
    if languages:
        versions = pl.concat(
            [versions, language_versions(query(con, "SELECT * FROM manifest_versions"))],
            how="vertical_relaxed",
        )
        nodes = pl.concat(
            [nodes, language_nodes(query(con, "SELECT * FROM manifest_words"))],
            how="vertical_relaxed",
        )
        attempts = query(
            con,
            "SELECT uuid_local, user_id, language, word_uid, correct, response_time_ms, "
            f"attempted_at, session_id FROM attempts{only} WHERE attempted_at <= ?",
            [as_of],
        )
        events = pl.concat([events, attempt_events(attempts)], how="diagonal_relaxed")
        if table_exists(con, "reviews"):
            reviews = query(
                con,
                "SELECT user_id, language, word_uid, reviewed_at, quality, review_index, "
                f"ef_after, interval_days, due_at FROM reviews{only} WHERE reviewed_at <= ?",
                [as_of],
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
