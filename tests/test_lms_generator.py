"""The generator's course-platform landing: deterministic, realistic enough, dirty on purpose."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing
from transforms.ingest.manifests import json_documents
from transforms.lms.courses import load_courses
from transforms.lms.events import REASONS
from transforms.lms.ingest import ingest_events
from transforms.lms.progress import build_lms_progress
from transforms.lms.read import read_lms_inputs
from transforms.warehouse import query

CONFIG = LmsGeneratorConfig(learners=40, days=40, start=datetime(2026, 7, 1))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    generate_lms_landing(tmp_path / "a", CONFIG)
    generate_lms_landing(tmp_path / "b", CONFIG)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a == b
    assert {k.split("/")[0] for k in a} == {"badges", "courses", "paths", "events", "xapi"}
    assert any(k.endswith(".csv.gz") for k in a) and any(k.endswith(".parquet") for k in a)


def test_landing_loads_with_every_reject_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = generate_lms_landing(tmp_path, CONFIG)
    loaded = load_courses(con, json_documents(tmp_path / "courses"))
    assert len(loaded.loaded) == 6  # 3 courses x 2 versions
    assert sorted(loaded.rejected["reason"]) == ["malformed_json", "version_conflict"]
    stats = ingest_events(con, tmp_path, datetime(2027, 1, 1))
    assert int(stats["rows_read"].sum()) == result.events_written + result.statements_written + 16
    reasons = set(query(con, "SELECT DISTINCT reason FROM lms_event_rejects")["reason"])
    assert reasons == set(REASONS)  # every reject reason of lms.md, xAPI's included
    as_of = datetime(2026, 8, 10)
    tables = build_lms_progress(read_lms_inputs(con, as_of), as_of)
    statuses = set(tables["enrollments"]["status"])
    assert {"active", "completed", "withdrawn"} <= statuses
    assert tables["task_queue"].height > 0
    moved = query(
        con,
        "SELECT count(DISTINCT module_id) AS n FROM course_nodes WHERE node_id = 'py101/m3/l1'",
    )
    assert moved["n"][0] == 2  # the lesson moved from module 3 to module 2 in version 2
