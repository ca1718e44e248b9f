"""The LMS input tables (DDL): course trees, learning paths, events and their bookkeeping.

The progress tables are derived (replaced whole on every run), so only the tables that
accumulate across runs are declared here. Timestamps are naive UTC, as everywhere.
"""

from __future__ import annotations

import duckdb

from transforms.warehouse import is_read_only, ledger_ddl, rejects_ddl

LMS_DDL: tuple[str, ...] = (
    # One row per (course_id, version).
    """CREATE TABLE IF NOT EXISTS course_versions (
        course_id VARCHAR NOT NULL, version INTEGER NOT NULL, title VARCHAR,
        published_at TIMESTAMP NOT NULL, in_force_until TIMESTAMP, node_count INTEGER NOT NULL,
        content_hash VARCHAR NOT NULL, source VARCHAR NOT NULL,
        PRIMARY KEY (course_id, version))""",
    # One row per (course_id, version, node_id).
    """CREATE TABLE IF NOT EXISTS course_nodes (
        course_id VARCHAR NOT NULL, version INTEGER NOT NULL, node_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL, parent_id VARCHAR, module_id VARCHAR, lesson_id VARCHAR,
        position INTEGER NOT NULL, title VARCHAR, max_points DOUBLE, weight DOUBLE,
        rule VARCHAR, rule_seconds DOUBLE, min_percent DOUBLE, pass_percent DOUBLE,
        optional BOOLEAN NOT NULL, due_at TIMESTAMP, due_offset_days INTEGER, options INTEGER,
        competencies VARCHAR[], PRIMARY KEY (course_id, version, node_id))""",
    # One row per (course_id, version, competency_id): the competencies a version declares.
    """CREATE TABLE IF NOT EXISTS course_competencies (
        course_id VARCHAR NOT NULL, version INTEGER NOT NULL, competency_id VARCHAR NOT NULL,
        name VARCHAR, mastery_threshold DOUBLE NOT NULL,
        PRIMARY KEY (course_id, version, competency_id))""",
    # One row per rejected course or path document, by content hash.
    """CREATE TABLE IF NOT EXISTS course_rejects (
        content_hash VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, course_id VARCHAR,
        version INTEGER, reason VARCHAR NOT NULL, message VARCHAR NOT NULL)""",
    # One row per (path_id, position): the courses of a learning path in order.
    """CREATE TABLE IF NOT EXISTS learning_paths (
        path_id VARCHAR NOT NULL, position INTEGER NOT NULL, course_id VARCHAR NOT NULL,
        title VARCHAR, source VARCHAR NOT NULL, PRIMARY KEY (path_id, position))""",
    # One row per accepted learning event (event_id).
    """CREATE TABLE IF NOT EXISTS lms_events (
        event_id VARCHAR NOT NULL, user_id VARCHAR NOT NULL, course_id VARCHAR NOT NULL,
        type VARCHAR NOT NULL, occurred_at TIMESTAMP NOT NULL, node_id VARCHAR,
        session_id VARCHAR, platform VARCHAR, duration_ms BIGINT, position BIGINT,
        tries INTEGER, time_spent_ms BIGINT, solved BOOLEAN, score DOUBLE, max_score DOUBLE,
        attempt_id VARCHAR, correct BOOLEAN, response VARCHAR, submission_id VARCHAR,
        grader_id VARCHAR, source_id VARCHAR NOT NULL, source_row BIGINT NOT NULL,
        bucket SMALLINT)""",
    # One row per rejected event row or xAPI statement.
    rejects_ddl("lms_event_rejects"),
    # One row per (user_id, badge_code, context): an award, kept for ever (never revoked).
    """CREATE TABLE IF NOT EXISTS user_badges (
        user_id VARCHAR NOT NULL, badge_code VARCHAR NOT NULL, context VARCHAR,
        awarded_at TIMESTAMP NOT NULL, name VARCHAR, points DOUBLE)""",
    # One row per published learning event (event_id): the outbox's ledger.
    """CREATE TABLE IF NOT EXISTS learning_events (
        event_id VARCHAR PRIMARY KEY, type VARCHAR NOT NULL, user_id VARCHAR NOT NULL,
        course_id VARCHAR, occurred_at TIMESTAMP NOT NULL, payload VARCHAR NOT NULL,
        first_published_run VARCHAR NOT NULL)""",
    # One row per ingested event source (a file by content hash): the events' ledger, with
    # the columns of `ingested_files`.
    ledger_ddl("lms_ingested_files"),
)


def ensure_lms_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the missing LMS tables; nothing on a read-only connection (a reader of a
    warehouse its writer keeps: the sharded run's progress steps)."""
    from transforms.buckets import migrate_bucket_column

    if is_read_only(con):
        return
    for ddl in LMS_DDL:
        con.execute(ddl)
    migrate_bucket_column(con, "lms_events")  # a warehouse from before buckets
