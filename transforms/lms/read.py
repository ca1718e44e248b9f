"""The LMS progress tables' inputs from the warehouse, language courses included."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from transforms.lms.language import (
    attempt_events,
    language_nodes,
    language_versions,
    learned_solves,
)
from transforms.lms.progress import LmsInputs
from transforms.lms.schema import ensure_lms_tables
from transforms.sm2.store import params_used
from transforms.warehouse import query, table_exists


def read_lms_inputs(
    con: duckdb.DuckDBPyConnection, as_of: datetime, languages: bool = True
) -> LmsInputs:
    """Course trees, events up to `as_of` and paths; with `languages`, each language's
    manifest versions as a course, its attempts as events and its learned words as solves."""
    ensure_lms_tables(con)
    versions = query(con, "SELECT * FROM course_versions")
    nodes = query(con, "SELECT * FROM course_nodes")
    events = query(con, "SELECT * FROM lms_events WHERE occurred_at <= ?", [as_of])
    solves = None
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
            "attempted_at, session_id FROM attempts WHERE attempted_at <= ?",
            [as_of],
        )
        events = pl.concat([events, attempt_events(attempts)], how="diagonal_relaxed")
        if table_exists(con, "reviews"):
            reviews = query(
                con,
                "SELECT user_id, language, word_uid, reviewed_at, quality, review_index "
                "FROM reviews WHERE reviewed_at <= ?",
                [as_of],
            )
            solves = learned_solves(reviews, params_used(con).pass_quality)
    return LmsInputs(
        versions=versions,
        nodes=nodes,
        events=events,
        paths=query(con, "SELECT * FROM learning_paths"),
        solves=solves.select("user_id", "item_id", "solved_at") if solves is not None else None,
    )
