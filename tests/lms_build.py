"""Build every course-platform table of a landing the way the nightly job does (course trees,
events, progress, assessment, analytics, competencies, badges, published events), no Dagster."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from transforms.ingest.manifests import json_documents
from transforms.lms.achievements import (
    competency_tables,
    publish_learning_events,
    update_user_badges,
)
from transforms.lms.analytics import build_analytics_tables, read_analytics_parts
from transforms.lms.assessment import build_assessment_tables
from transforms.lms.badges import parse_badge_rules
from transforms.lms.courses import load_courses
from transforms.lms.ingest import ingest_events
from transforms.lms.progress import build_lms_progress
from transforms.lms.read import read_lms_inputs
from transforms.warehouse import replace_tables

INGESTED_AT = datetime(2030, 1, 1)


def build_lms_warehouse(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    as_of: datetime,
    outbox: Path,
    run_id: str = "test",
) -> pl.DataFrame:
    """Load and build everything as of `as_of`; returns the learning events this run published."""
    load_courses(con, json_documents(landing / "courses"))
    ingest_events(con, landing, INGESTED_AT)
    tables = build_lms_progress(read_lms_inputs(con, as_of), as_of)
    tables |= build_assessment_tables(read_lms_inputs(con, as_of, languages=False), as_of)
    replace_tables(con, tables)
    replace_tables(con, competency_tables(con, as_of))
    rules, rejects = parse_badge_rules(json_documents(landing / "badges"))
    replace_tables(con, {"badge_rules": rules, "badge_rule_rejects": rejects})
    update_user_badges(con, as_of)
    replace_tables(con, build_analytics_tables(read_analytics_parts(con, as_of)))
    return publish_learning_events(con, run_id, outbox)[0]
