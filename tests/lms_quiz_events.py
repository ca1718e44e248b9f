"""Quiz events on the py101 tree of tests/lms_landing.py, for the assessment-table tests."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl

from tests.lms_landing import write_landing
from transforms.ingest.manifests import json_documents
from transforms.lms.courses import load_courses
from transforms.lms.progress import LmsInputs
from transforms.lms.read import read_lms_inputs
from transforms.warehouse import connect

Q1 = "py101/m1/q1"
QA, QB = Q1 + "/a", Q1 + "/b"


def tree_inputs(root: Path, extra: list[dict] | None = None) -> LmsInputs:
    """The course trees of tests/lms_landing.py (and `extra` course documents; no events) as
    progress inputs."""
    landing = write_landing(root / "landing")
    for doc in extra or []:
        (landing / "courses" / f"{doc['course']}.json").write_text(json.dumps(doc))
    con = connect(root / "tree.duckdb")
    load_courses(con, json_documents(landing / "courses"))
    inputs = read_lms_inputs(con, datetime(2026, 2, 10), languages=False)
    con.close()
    return inputs


def event_frame(template: pl.DataFrame, rows: list[dict]) -> pl.DataFrame:
    """`rows` (event_id, user_id, type, occurred_at, node_id and any other lms_events column)
    as an lms_events frame; course py101 unless given."""
    filled = [{"course_id": "py101", **row} for row in rows]
    frame = pl.DataFrame(filled, infer_schema_length=None)
    return pl.concat([template.clear(), frame], how="diagonal_relaxed").cast(
        template.schema  # type: ignore[arg-type]
    )


def question(
    n: int,
    user: str,
    at: datetime,
    node: str,
    attempt: str,
    score: float,
    correct: bool,
    max_score: float = 1.0,
) -> dict:
    return {
        "event_id": f"q{n:03d}",
        "user_id": user,
        "type": "question_answered",
        "occurred_at": at,
        "node_id": node,
        "attempt_id": attempt,
        "score": score,
        "max_score": max_score,
        "correct": correct,
        "time_spent_ms": 10_000,
    }


def quiz_event(n: int, user: str, at: datetime, kind: str, attempt: str, quiz: str = Q1) -> dict:
    return {
        "event_id": f"q{n:03d}",
        "user_id": user,
        "type": kind,
        "occurred_at": at,
        "node_id": quiz,
        "attempt_id": attempt,
    }
