"""assignment_submissions on hand-written events, as of 2026-02-10, over py101's a1 of
tests/lms_landing.py (dueOffsetDays 14, 100 points) and course "as" (assignment as/m1/a, dueAt
2026-01-15 00:00).

Alice enrolls in py101 Jan 2 09:00 (a1 due Jan 16 09:00): s1 submitted Jan 6 12:00, graded 80
Jan 8 12:00: on time, 48 h to grade. Bob enrolls Jan 5 10:00 (due Jan 19 10:00): s2 submitted Jan
20 10:00 (late), graded 60 Jan 21 16:00 then regraded 70 Jan 22: score 70 (the latest), graded_at
the first grade, 30 h; s3 submitted Jan 23, never graded. Carol has no enrolled event: her first
event (Jan 10 00:00) starts the 14 days, and s4 on Jan 24 00:00 is exactly on time (late means
after). Dan submits d1 to "as" one second after its dueAt (late); d2 is graded with no submit.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from tests.lms_landing import A, B, C, D
from tests.lms_quiz_events import event_frame, tree_inputs
from transforms.lms.assessment import build_assessment_tables
from transforms.lms.progress import LmsInputs

A1 = "py101/m2/a1"
AS_COURSE = {
    "course": "as",
    "title": "Assignments",
    "version": 1,
    "publishedAt": "2026-01-01T00:00:00Z",
    "modules": [
        {
            "id": "as/m1",
            "lessons": [
                {
                    "id": "as/m1/a",
                    "kind": "assignment",
                    "title": "Essay",
                    "dueAt": "2026-01-15T00:00:00Z",
                    "completion": {"rule": "submitted"},
                }
            ],
        }
    ],
}
_n = 0


def ev(user: str, kind: str, at: datetime, node: str | None = None, **more: object) -> dict:
    global _n
    _n += 1
    course = "as" if node and node.startswith("as/") else "py101"
    return {
        "event_id": f"s{_n:03d}",
        "user_id": user,
        "course_id": course,
        "type": kind,
        "occurred_at": at,
        "node_id": node,
        **more,
    }


def grade(user: str, at: datetime, sub: str, score: float, node: str = A1) -> dict:
    return ev(user, "assignment_graded", at, node, submission_id=sub, score=score, max_score=100.0)


def submit(user: str, at: datetime, sub: str, node: str = A1) -> dict:
    return ev(user, "assignment_submitted", at, node, submission_id=sub)


def rows() -> list[dict]:
    return [
        ev(A, "enrolled", datetime(2026, 1, 2, 9)),
        submit(A, datetime(2026, 1, 6, 12), "s1"),
        grade(A, datetime(2026, 1, 8, 12), "s1", 80),
        ev(B, "enrolled", datetime(2026, 1, 5, 10)),
        submit(B, datetime(2026, 1, 20, 10), "s2"),
        grade(B, datetime(2026, 1, 21, 16), "s2", 60),
        grade(B, datetime(2026, 1, 22), "s2", 70),
        submit(B, datetime(2026, 1, 23), "s3"),
        ev(C, "lesson_viewed", datetime(2026, 1, 10), "py101/m1/l1"),
        submit(C, datetime(2026, 1, 24), "s4"),
        submit(D, datetime(2026, 1, 15, 0, 0, 1), "d1", "as/m1/a"),
        grade(D, datetime(2026, 1, 16), "d2", 50, "as/m1/a"),
    ]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    tree = tree_inputs(tmp_path_factory.mktemp("assign"), [AS_COURSE])
    events = event_frame(tree.events, rows())
    inputs = LmsInputs(tree.versions, tree.nodes, events, tree.paths)
    return build_assessment_tables(inputs, datetime(2026, 2, 10))["assignment_submissions"]


def test_assignment_submissions_by_hand(submissions: pl.DataFrame) -> None:
    cols = [
        "user_id",
        "submission_id",
        "status",
        "due_at",
        "late",
        "score_percent",
        "grades",
        "hours_to_grade",
    ]
    due_a, due_b, due_c = datetime(2026, 1, 16, 9), datetime(2026, 1, 19, 10), datetime(2026, 1, 24)
    due_as = datetime(2026, 1, 15)
    assert submissions.select(cols).rows() == [
        (A, "s1", "graded", due_a, False, 80.0, 1, 48.0),
        (B, "s2", "graded", due_b, True, 70.0, 2, 30.0),  # Jan 21 16:00 − Jan 20 10:00
        (B, "s3", "submitted", due_b, True, None, 0, None),
        (C, "s4", "submitted", due_c, False, None, 0, None),
        (D, "d1", "submitted", due_as, True, None, 0, None),
        (D, "d2", "graded", due_as, None, 50.0, 1, None),
    ]
    s2 = submissions.filter(submission_id="s2").to_dicts()[0]
    assert (s2["submitted_at"], s2["graded_at"]) == (
        datetime(2026, 1, 20, 10),
        datetime(2026, 1, 21, 16),
    )
    assert set(submissions["module_id"]) == {"py101/m2", "as/m1"}
