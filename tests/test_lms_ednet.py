"""The EdNet KT4 adapter: real TOEIC learners' actions as learning events of one course."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from landing.adapters.ednet import DEFAULT_SOURCE, course_tree, to_events, write_landing
from transforms.as_of import resolve_as_of
from transforms.ingest.manifests import json_documents
from transforms.lms.courses import load_courses, parse_course
from transforms.lms.ingest import ingest_events
from transforms.lms.progress import build_lms_progress
from transforms.lms.read import read_lms_inputs

QUESTIONS = pl.DataFrame(
    {
        "question_id": ["q1", "q2", "q3"],
        "bundle_id": ["b1", "b1", "b2"],
        "correct_answer": ["a", "b", "c"],
        "part": [1, 1, 2],
    }
)
LECTURES = pl.DataFrame({"lecture_id": ["l1"], "part": [-1]})


def test_tree_and_actions_by_hand() -> None:
    tree = parse_course(json.dumps(course_tree(QUESTIONS, LECTURES)), "x")
    assert tree.nodes.select("node_id", "kind").rows() == [
        ("toeic/p0", "module"),
        ("toeic/p0/l1", "lesson"),
        ("toeic/p1", "module"),
        ("toeic/p1/b1", "quiz"),
        ("toeic/p1/b1/q1", "question"),
        ("toeic/p1/b1/q2", "question"),
        ("toeic/p2", "module"),
        ("toeic/p2/b2", "quiz"),
        ("toeic/p2/b2/q3", "question"),
    ]
    log = pl.DataFrame(
        {
            "timestamp": [1000, 5000, 9000, 12000, 13000, 20000, 30000],
            "action_type": [
                "enter",
                "respond",
                "respond",
                "respond",
                "submit",
                "play_audio",
                "enter",
            ],
            "item_id": ["b1", "q1", "q2", "q2", "b1", "b2", "l1"],
            "user_answer": [None, "a", "b", "d", None, None, None],
            "platform": ["mobile"] * 7,
        }
    )
    events = to_events("u1", log, QUESTIONS, LECTURES)
    got = [(e["type"], e.get("nodeId"), e.get("correct"), e.get("timeSpentMs")) for e in events]
    assert got == [
        ("enrolled", None, None, None),
        ("quiz_started", "toeic/p1/b1", None, None),
        ("question_answered", "toeic/p1/b1/q1", True, 4000),
        ("question_answered", "toeic/p1/b1/q2", True, 4000),
        ("question_answered", "toeic/p1/b1/q2", False, 3000),  # the answer changed: last counts
        ("quiz_submitted", "toeic/p1/b1", None, None),
        ("lesson_viewed", "toeic/p0/l1", None, None),
    ]
    assert len({e["attemptId"] for e in events if "attemptId" in e}) == 1


def test_real_sample_loads_and_progresses(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    learners, written = write_landing(DEFAULT_SOURCE, tmp_path)
    assert learners == 9
    assert load_courses(con, json_documents(tmp_path / "courses")).loaded == [("toeic", 1)]
    stats = ingest_events(con, tmp_path, datetime(2027, 1, 1))
    assert stats.select("rows_read", "accepted", "rejected").row(0) == (written, written, 0)
    as_of = resolve_as_of(con, None)
    tables = build_lms_progress(read_lms_inputs(con, as_of), as_of)
    assert tables["course_progress"].height == 9
    assert tables["lesson_progress"].filter(status="completed").height > 0
