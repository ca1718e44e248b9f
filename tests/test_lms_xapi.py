"""xAPI statements as LMSs emit them (ADL verbs, cmi.interaction) mapped onto events."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb

from tests.lms_landing import PY101_V1, A
from transforms.lms.courses import load_courses
from transforms.lms.ingest import ingest_events
from transforms.lms.xapi import ADL_ACTIVITY, ADL_VERB, duration_ms, event_type, verb_map
from transforms.warehouse import query

LMS = "https://moodle.example.org"
COURSE = {
    "id": f"{LMS}/course/py101",
    "definition": {"type": "http://id.tincanapi.com/activitytype/lms/course"},
}
SITE = {"id": LMS, "definition": {"type": "http://id.tincanapi.com/activitytype/lms"}}
REGISTRATION = "a6d1b0c2-6f0e-4a8c-9b4e-2f0c3d7e8a91"


def statement(n: int, verb: str, obj: str, activity: str, **extra: object) -> dict:
    """A statement shaped like Moodle's logstore_xapi and Open edX's event-routing-backends."""
    st: dict[str, object] = {
        "id": f"30000000-0000-4000-8000-{n:012d}",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": A}},
        "verb": {"id": ADL_VERB + verb, "display": {"en": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{LMS}/xapi/activity/{obj}",
            "definition": {"type": activity, "name": {"en": obj}},
        },
        "timestamp": f"2026-01-05T10:{n:02d}:00.000Z",
        "version": "1.0.3",
        "context": {
            "platform": "Moodle",
            "registration": REGISTRATION,
            "contextActivities": {"grouping": [SITE, COURSE]},
        },
    }
    st.update(extra)
    return st


def test_mapping_table() -> None:
    table = verb_map()
    assert table.columns == ["verb_id", "activity_type", "event_type"]
    assert event_type(ADL_VERB + "answered", ADL_ACTIVITY + "cmi.interaction") == (
        "question_answered"
    )
    assert event_type(ADL_VERB + "completed", ADL_ACTIVITY + "assessment") == "quiz_submitted"
    assert event_type(ADL_VERB + "completed", ADL_ACTIVITY + "lesson") == "lesson_completed"
    assert event_type(ADL_VERB + "launched", ADL_ACTIVITY + "media") == "lesson_viewed"
    assert event_type(ADL_VERB + "answered", ADL_ACTIVITY + "lesson") is None
    assert duration_ms("PT1M30.5S") == "90500"
    assert duration_ms("P1DT1H") == str((86400 + 3600) * 1000)
    assert duration_ms("soon") == "soon"


def test_statements_map_onto_events(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load_courses(con, [("py101.json", json.dumps(PY101_V1))])
    course_object = {
        "objectType": "Activity",
        "id": f"{LMS}/course/py101",
        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
    }
    statements = [
        statement(1, "registered", "py101", ADL_ACTIVITY + "course", object=course_object),
        statement(
            2,
            "experienced",
            "py101/m1/l1",
            ADL_ACTIVITY + "lesson",
            result={"duration": "PT2M"},
        ),
        statement(3, "attempted", "py101/m1/q1", ADL_ACTIVITY + "assessment"),
        statement(
            4,
            "answered",
            "py101/m1/q1/a",
            ADL_ACTIVITY + "cmi.interaction",
            result={
                "success": True,
                "score": {"raw": 1, "min": 0, "max": 1, "scaled": 1.0},
                "response": "b",
                "duration": "PT12S",
            },
        ),
        statement(5, "completed", "py101/m1/q1", ADL_ACTIVITY + "assessment"),
        statement(6, "completed", "py101/m1/l1", ADL_ACTIVITY + "lesson"),
        # unmapped: a verb with no event, and a statement of an unknown course
        statement(7, "commented", "py101/m1/l1", ADL_ACTIVITY + "lesson"),
        statement(
            8,
            "experienced",
            "py999/m1/l1",
            ADL_ACTIVITY + "lesson",
            context={"contextActivities": {"grouping": [SITE]}},
        ),
    ]
    folder = tmp_path / "landing" / "xapi"
    folder.mkdir(parents=True)
    (folder / "lrs-export.jsonl").write_text("\n".join(json.dumps(s) for s in statements))
    stats = ingest_events(con, tmp_path / "landing", datetime(2026, 3, 1))
    assert stats.select("rows_read", "accepted", "rejected").row(0) == (8, 6, 2)
    events = query(
        con,
        "SELECT type, node_id, duration_ms, time_spent_ms, attempt_id, correct, score, "
        "max_score, platform FROM lms_events ORDER BY occurred_at",
    )
    assert events.rows() == [
        ("enrolled", None, None, None, None, None, None, None, "Moodle"),
        ("lesson_viewed", "py101/m1/l1", 120000, None, None, None, None, None, "Moodle"),
        ("quiz_started", "py101/m1/q1", None, None, REGISTRATION, None, None, None, "Moodle"),
        (
            "question_answered",
            "py101/m1/q1/a",
            None,
            12000,
            REGISTRATION,
            True,
            1.0,
            1.0,
            "Moodle",
        ),
        ("quiz_submitted", "py101/m1/q1", None, None, REGISTRATION, None, None, None, "Moodle"),
        ("lesson_completed", "py101/m1/l1", None, None, None, None, None, None, "Moodle"),
    ]
    assert query(con, "SELECT DISTINCT user_id, course_id FROM lms_events").rows() == [(A, "py101")]
    rejects = query(con, "SELECT source_row, reason FROM lms_event_rejects ORDER BY 1")
    assert rejects.rows() == [(7, "unmapped_statement"), (8, "unmapped_statement")]
