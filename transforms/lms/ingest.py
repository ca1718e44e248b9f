"""Load the course-platform landing: course trees, learning paths, events and xAPI exports."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb
import polars as pl

from transforms.ingest.attempts import ingest_landing_files
from transforms.lms.events import event_record
from transforms.lms.schema import ensure_lms_tables
from transforms.lms.xapi import read_xapi_file
from transforms.warehouse import query


def node_kinds(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(node_id, kind) of every loaded node, the kind of its newest version."""
    return query(
        con,
        "SELECT node_id, arg_max(kind, version) AS kind FROM course_nodes GROUP BY node_id",
    )


def ingest_events(
    con: duckdb.DuckDBPyConnection, landing: Path, ingested_at: datetime
) -> pl.DataFrame:
    """Ingest new files of `events/` and `xapi/` (after the course trees, whose nodes validate
    the events); returns their `lms_ingested_files` rows."""
    ensure_lms_tables(con)
    kinds = node_kinds(con)
    courses = [
        str(r[0]) for r in con.execute("SELECT DISTINCT course_id FROM course_versions").fetchall()
    ]
    native = ingest_landing_files(con, landing / "events", ingested_at, record=event_record(kinds))
    statements = ingest_landing_files(
        con,
        landing / "xapi",
        ingested_at,
        record=event_record(kinds, read=partial(read_xapi_file, courses=courses)),
    )
    frames = [f for f in (native, statements) if f.height]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
