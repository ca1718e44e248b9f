"""Course trees and learning events: every reject reason, idempotency, conservation."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.lms_landing import DS201_V1, PY101_V1, PY101_V2, A, write_landing
from transforms.ingest.manifests import json_documents
from transforms.lms.courses import REASONS as COURSE_REASONS
from transforms.lms.courses import load_courses, parse_paths
from transforms.lms.events import REASONS as EVENT_REASONS
from transforms.lms.ingest import ingest_events
from transforms.warehouse import query, scalar

NOW = datetime(2026, 3, 1)


def _docs(*docs: object) -> list[tuple[str, str]]:
    return [
        (f"doc{i}.json", d if isinstance(d, str) else json.dumps(d)) for i, d in enumerate(docs)
    ]


def _with(doc: dict, path: list[object], value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return out


def test_versioned_tree_keeps_moved_and_removed_lessons(con: duckdb.DuckDBPyConnection) -> None:
    result = load_courses(con, _docs(PY101_V1, PY101_V2, DS201_V1))
    assert sorted(result.loaded) == [("ds201", 1), ("py101", 1), ("py101", 2)]
    nodes = query(
        con,
        "SELECT version, node_id, kind, module_id, position FROM course_nodes "
        "WHERE node_id IN ('py101/m1/l2', 'py101/m2/l3', 'py101/m1/l5') ORDER BY version, node_id",
    )
    assert nodes.rows() == [
        (1, "py101/m1/l2", "lesson", "py101/m1", 4),
        (1, "py101/m2/l3", "lesson", "py101/m2", 11),
        (2, "py101/m1/l2", "lesson", "py101/m2", 9),  # moved to m2
        (2, "py101/m1/l5", "lesson", "py101/m1", 7),  # added; l3 removed
    ]
    until = scalar(
        con, "SELECT in_force_until FROM course_versions WHERE version = 1 AND course_id = 'py101'"
    )
    assert until == datetime(2026, 2, 1)
    quiz = query(
        con,
        "SELECT max_points, pass_percent, rule, weight FROM course_nodes "
        "WHERE node_id = 'py101/m1/q1' AND version = 1",
    )
    assert quiz.rows() == [(2.0, 60.0, "passed", 10.0)]
    # loading again adds nothing
    assert load_courses(con, _docs(PY101_V1, PY101_V2)).loaded == []


BAD_COURSES = {
    "malformed_json": '{"course": "x", ',
    "invalid_structure": {**PY101_V1, "version": "one"},
    "invalid_kind": _with(PY101_V1, ["modules", 0, "lessons", 0, "kind"], "video"),
    "invalid_rule": _with(PY101_V1, ["modules", 0, "lessons", 0, "completion"], {"rule": "time"}),
    "duplicate_node_id": _with(PY101_V1, ["modules", 1, "id"], "py101/m1"),
    "node_outside_course": _with(PY101_V1, ["modules", 0, "lessons", 0, "id"], "ds201/x"),
    "version_conflict": {**PY101_V1, "title": "Other content"},
    "version_out_of_order": {**PY101_V1, "version": 3, "publishedAt": "2025-12-01T00:00:00Z"},
}


@pytest.mark.parametrize("reason", sorted(BAD_COURSES))
def test_each_course_reject_reason(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    assert reason in COURSE_REASONS
    load_courses(con, _docs(PY101_V1))
    before = query(con, "SELECT * FROM course_nodes ORDER BY node_id")
    result = load_courses(con, _docs(BAD_COURSES[reason]))
    assert result.loaded == []
    assert result.rejected["reason"].to_list() == [reason]
    assert result.rejected["message"][0]
    assert_frame_equal(query(con, "SELECT * FROM course_nodes ORDER BY node_id"), before)


def test_bad_path_is_rejected_and_others_kept() -> None:
    paths, rejects = parse_paths(
        _docs({"path": "p", "courses": ["a", "b"]}, {"path": "q", "courses": "a"}, "nope")
    )
    assert paths.select("path_id", "position", "course_id").rows() == [("p", 1, "a"), ("p", 2, "b")]
    assert rejects["reason"].to_list() == ["invalid_structure", "malformed_json"]


def _event(n: int, etype: str = "lesson_viewed", **f: object) -> dict:
    row: dict[str, object] = {
        "eventId": f"20000000-0000-4000-8000-{n:012d}",
        "userId": A,
        "courseId": "py101",
        "type": etype,
        "occurredAt": "2026-01-05T10:00:00Z",
        "nodeId": "py101/m1/l1",
    }
    row.update(f)
    return {k: v for k, v in row.items() if v is not None}


TASK = {"nodeId": "py101/m1/l1/t1", "tries": 1, "timeSpentMs": 1000, "solved": True}
DIRTY = {
    "missing_field": _event(1, userId=None),
    "invalid_uuid": _event(2, userId="not-a-uuid"),
    "unknown_type": _event(3, "lesson_liked"),
    "invalid_value": _event(4, "task_attempted", **{**TASK, "tries": 0}),
    "time_out_of_range": _event(5, "task_attempted", **{**TASK, "timeSpentMs": 3_600_001}),
    "score_out_of_range": _event(
        6, "assignment_graded", nodeId="py101/m2/a1", submissionId="s", score=101, maxScore=100
    ),
    "invalid_timestamp": _event(7, occurredAt="yesterday"),
    "timestamp_too_early": _event(8, occurredAt="1999-12-31T23:59:59Z"),
    "timestamp_in_future": _event(9, occurredAt="2026-03-02T00:00:00Z"),
    "node_course_mismatch": _event(10, nodeId="ds201/m1/l1"),
    "wrong_node_kind": _event(11, "task_attempted", **{**TASK, "nodeId": "py101/m1/l1"}),
}


def test_each_event_reject_reason(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load_courses(con, _docs(PY101_V1, DS201_V1))
    landing = tmp_path / "landing"
    (landing / "events").mkdir(parents=True)
    good = [_event(100), _event(101, "task_attempted", **TASK)]
    duplicate = _event(100)
    conflict = _event(101, "task_attempted", **{**TASK, "solved": False})
    missing_per_type = _event(102, "task_attempted", nodeId="py101/m1/l1/t1")
    orphan = _event(103, nodeId="py101/m9/l9")
    rows = [*good, *DIRTY.values(), duplicate, conflict, missing_per_type, orphan]
    text = "\n".join(json.dumps(r) for r in rows) + "\n{not json\n[1]\n"
    (landing / "events" / "e.jsonl").write_text(text)
    stats = ingest_events(con, landing, NOW)
    assert stats.select("rows_read", "accepted", "duplicates", "rejected").row(0) == (
        len(rows) + 2,
        3,
        1,
        len(DIRTY) + 4,
    )
    reasons = query(con, "SELECT reason, count(*) AS n FROM lms_event_rejects GROUP BY 1")
    got = dict(reasons.rows())
    expected = {r: 1 for r in DIRTY} | {"unparseable_row": 2, "conflicting_duplicate": 1}
    expected["missing_field"] += 1
    assert got == expected
    assert set(got) <= set(EVENT_REASONS)
    message = scalar(con, "SELECT message FROM lms_event_rejects WHERE source_row = 16")
    assert (
        message
        == "missing field(s) required for a task_attempted event: tries, time_spent_ms, solved"
    )
    # idempotent: the same bytes again, under another name, add nothing
    (landing / "events" / "copy.jsonl").write_bytes((landing / "events" / "e.jsonl").read_bytes())
    assert ingest_events(con, landing, NOW).height == 0
    assert scalar(con, "SELECT count(*) FROM lms_events") == 3


def test_every_format_loads_the_same_events(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load_courses(con, _docs(PY101_V1))
    rows = [_event(i, "task_attempted", **TASK) for i in range(1, 4)]
    frame = pl.DataFrame(rows)
    folder = tmp_path / "landing" / "events"
    folder.mkdir(parents=True)
    lines = "\n".join(json.dumps(r) for r in rows)
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(lines.encode()))
    frame.with_columns(pl.col("eventId").str.replace("^2", "3")).write_csv(folder / "b.csv")
    frame.with_columns(pl.col("eventId").str.replace("^2", "4")).write_parquet(folder / "c.parquet")
    stats = ingest_events(con, tmp_path / "landing", NOW)
    assert stats["accepted"].to_list() == [3, 3, 3]
    typed = query(con, "SELECT DISTINCT tries, time_spent_ms, solved, occurred_at FROM lms_events")
    assert typed.rows() == [(1, 1000, True, datetime(2026, 1, 5, 10))]


def test_orphan_events_are_counted(tmp_path: Path) -> None:
    from pipelines.defs.lms.checks import orphan_events
    from pipelines.defs.resources import WarehouseResource
    from transforms.warehouse import connect

    landing = write_landing(tmp_path / "landing")
    db = tmp_path / "w.duckdb"
    con = connect(db)
    load_courses(con, json_documents(landing / "courses"))
    ingest_events(con, landing, NOW)
    con.close()
    result = orphan_events(warehouse=WarehouseResource(database=str(db)))
    assert not result.passed
    assert result.metadata["problems"].value == 1
