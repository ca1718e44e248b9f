"""The warehouse side of competencies, badges and published events: read what each needs, as of
one moment (the pure computations are in `competencies`, `badges` and `published`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from transforms.lms.activity import USER
from transforms.lms.badges import (
    AWARD_SCHEMA,
    RULE_SCHEMA,
    BadgeFacts,
    evaluate_badges,
    merge_awards,
)
from transforms.lms.competencies import COMPETENCY_STATUSES, build_competencies
from transforms.lms.published import (
    PublishedInputs,
    candidate_events,
    new_events,
    write_outbox,
)
from transforms.lms.read import read_lms_inputs
from transforms.lms.schema import ensure_lms_tables
from transforms.lms.tree import current_nodes, node_attributes, versions_as_of
from transforms.registry import MetricTable
from transforms.warehouse import insert_frame, query, table_exists, transaction

# The tables of competencies, badges and published events: grain, key and checked ranges. Their
# steps write them (no builder): `course_competencies` comes with the course trees,
# `competency_params` and `user_competencies` from one fit (`competency_tables`), the badge
# rules from the `badges/` files, awards and published events are kept from run to run.
ACHIEVEMENT_TABLES: tuple[MetricTable[None], ...] = (
    MetricTable(
        "course_competencies",
        "One row per (course_id, version, competency_id) a course version declares.",
        None,
        key=("course_id", "version", "competency_id"),
    ),
    MetricTable(
        "competency_params",
        "One row per competency with evidence: its BKT parameters.",
        None,
        key=("competency_id",),
    ),
    MetricTable(
        "user_competencies",
        "One row per (user_id, competency_id) with evidence or enrolled.",
        None,
        key=(USER, "competency_id"),
        percents=("level",),
        statuses=COMPETENCY_STATUSES,
    ),
    MetricTable(
        "badge_rules", "One row per valid badge rule (badge_code).", None, key=("badge_code",)
    ),
    MetricTable(
        "badge_rule_rejects",
        "One row per rejected badge rule (source file, position in it).",
        None,
        key=("source", "item"),
    ),
    MetricTable(
        "user_badges",
        "One row per (user_id, badge_code, context): awarded at the event where the rule first "
        "held; kept for ever (never revoked, never twice).",
        None,
        key=(USER, "badge_code", "context"),
    ),
    MetricTable(
        "learning_events",
        "One row per published learning event (event_id): the outbox's ledger.",
        None,
        key=("event_id",),
    ),
)
GRAINS = {t.name: t.grain for t in ACHIEVEMENT_TABLES}

FACT_EVENT_COLUMNS = (
    USER,
    "course_id",
    "type",
    "occurred_at",
    "node_id",
    "tries",
    "time_spent_ms",
    "solved",
    "event_id",
)


def _table(con: duckdb.DuckDBPyConnection, sql: str, table: str, schema: dict) -> pl.DataFrame:
    """`sql` over `table`, or an empty frame of `schema` when the table is not built yet."""
    return query(con, sql) if table_exists(con, table) else pl.DataFrame(schema=schema)


def competency_tables(con: duckdb.DuckDBPyConnection, as_of: datetime) -> dict[str, pl.DataFrame]:
    """`competency_params` and `user_competencies` from the course events up to `as_of` and the
    `enrollments` table."""
    ensure_lms_tables(con)
    inputs = read_lms_inputs(con, as_of, languages=False)
    in_force = versions_as_of(inputs.versions, as_of)
    enrollments = _table(
        con,
        "SELECT user_id, course_id FROM enrollments",
        "enrollments",
        {USER: pl.String, "course_id": pl.String},
    )
    return build_competencies(
        inputs.events,
        node_attributes(inputs.nodes, in_force),
        current_nodes(inputs.nodes, in_force),
        query(con, "SELECT * FROM course_competencies"),
        in_force,
        enrollments,
        as_of,
    )


QUIZ_SCORE_SCHEMA: dict[str, pl.DataType] = {
    USER: pl.String(),
    "quiz_id": pl.String(),
    "submitted_at": pl.Datetime("us"),
    "score_percent": pl.Float64(),
}


def quiz_scores(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(user_id, quiz_id, submitted_at, score_percent) of every completed quiz attempt."""
    return _table(
        con,
        "SELECT user_id, quiz_id, completed_at AS submitted_at, score_percent "
        "FROM quiz_attempts WHERE status = 'completed'",
        "quiz_attempts",
        QUIZ_SCORE_SCHEMA,
    )


def badge_facts(con: duckdb.DuckDBPyConnection, as_of: datetime) -> BadgeFacts:
    """What the badge rules read, as of `as_of` (the language app's attempts and learned words
    included)."""
    inputs = read_lms_inputs(con, as_of)
    events = inputs.events.select(FACT_EVENT_COLUMNS)
    words = (
        inputs.solves
        if inputs.solves is not None
        else pl.DataFrame(schema={USER: pl.String, "item_id": pl.String, "solved_at": pl.Datetime})
    )
    return BadgeFacts(
        events=events,
        modules=query(con, "SELECT user_id, module_id, completed_at FROM module_progress"),
        courses=query(con, "SELECT user_id, course_id, completed_at FROM enrollments"),
        lessons=query(con, "SELECT user_id, lesson_id, completed_at FROM lesson_progress"),
        quizzes=quiz_scores(con),
        competencies=query(
            con, "SELECT user_id, competency_id, acquired_at FROM user_competencies"
        ),
        words=words,
    )


def stored_badges(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    ensure_lms_tables(con)
    return query(con, "SELECT * FROM user_badges").cast(AWARD_SCHEMA)  # type: ignore[arg-type]


def published_inputs(con: duckdb.DuckDBPyConnection) -> PublishedInputs:
    """The tables whose changes `learning_events` publishes."""
    quiz_schema = {
        USER: pl.String,
        "course_id": pl.String,
        "quiz_id": pl.String,
        "attempt_id": pl.String,
        "completed_at": pl.Datetime("us"),
        "score_percent": pl.Float64,
        "passed": pl.Boolean,
    }
    quizzes = _table(
        con,
        "SELECT user_id, course_id, quiz_id, attempt_id, completed_at, score_percent, passed "
        "FROM quiz_attempts WHERE status = 'completed'",
        "quiz_attempts",
        quiz_schema,
    )
    submissions = _table(
        con,
        "SELECT user_id, course_id, assignment_id, submission_id, submitted_at, late "
        "FROM assignment_submissions",
        "assignment_submissions",
        {
            USER: pl.String,
            "course_id": pl.String,
            "assignment_id": pl.String,
            "submission_id": pl.String,
            "submitted_at": pl.Datetime("us"),
            "late": pl.Boolean,
        },
    )
    return PublishedInputs(
        lessons=query(con, "SELECT * FROM lesson_progress"),
        modules=query(con, "SELECT * FROM module_progress"),
        enrollments=query(con, "SELECT * FROM enrollments"),
        quiz_attempts=quizzes,
        submissions=submissions,
        badges=query(con, "SELECT * FROM user_badges"),
        competencies=query(con, "SELECT * FROM user_competencies"),
    )


def update_user_badges(con: duckdb.DuckDBPyConnection, as_of: datetime) -> tuple[pl.DataFrame, int]:
    """Evaluate the active badge rules on the history up to `as_of`, keep every award stored
    before, store the union as `user_badges`; returns it and how many awards are new."""
    ensure_lms_tables(con)
    rules = _table(con, "SELECT * FROM badge_rules", "badge_rules", RULE_SCHEMA)
    computed = evaluate_badges(rules, badge_facts(con, as_of))
    previous = stored_badges(con)
    awards = merge_awards(previous, computed)
    with transaction(con):
        con.execute("DELETE FROM user_badges")
        insert_frame(con, "user_badges", awards)
    return awards, awards.height - previous.height


def publish_learning_events(
    con: duckdb.DuckDBPyConnection, run_id: str, outbox: Path
) -> tuple[pl.DataFrame, Path]:
    """The events the tables make true that no earlier run published: written to
    `outbox/<run>.jsonl` first, then recorded in `learning_events` (a retried run finds its
    own events again and rewrites the same file). Returns them and the file."""
    ensure_lms_tables(con)
    candidates = candidate_events(published_inputs(con))
    published = query(con, "SELECT event_id, first_published_run FROM learning_events")
    fresh = new_events(candidates, published, run_id)
    path = write_outbox(outbox, run_id, fresh)
    with transaction(con):
        con.execute("DELETE FROM learning_events WHERE first_published_run = ?", [run_id])
        insert_frame(con, "learning_events", fresh)
    return fresh, path
