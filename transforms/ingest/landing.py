"""Load a whole landing folder into the warehouse, as the ingestion assets do, without Dagster:
attempts, manifests, cohorts, course trees, learning paths and learning events. For tests and
benchmarks that need an ingested warehouse; the assets call the same loaders one by one."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from transforms.ingest.attempts import ingest_landing_files
from transforms.ingest.cohorts import read_cohorts
from transforms.ingest.manifests import json_documents, load_manifests
from transforms.lms.courses import load_courses, parse_paths
from transforms.lms.ingest import ingest_events
from transforms.warehouse import replace_table


def ingest_landing(con: duckdb.DuckDBPyConnection, landing: Path, ingested_at: datetime) -> None:
    """Every input of `landing` into `con`, stamped as ingested at `ingested_at`."""
    ingest_landing_files(con, landing / "attempts", ingested_at)
    load_manifests(con, json_documents(landing / "manifests"))
    replace_table(con, "cohorts", read_cohorts(landing / "cohorts")[0])
    load_courses(con, json_documents(landing / "courses"))
    replace_table(con, "learning_paths", parse_paths(json_documents(landing / "paths"))[0])
    ingest_events(con, landing, ingested_at)
