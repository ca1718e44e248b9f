"""A small hand-written course-platform landing whose progress tables are computed by hand in
tests/test_lms_progress.py (the timeline is in that file's docstring)."""

from __future__ import annotations

import json
from pathlib import Path

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"
D = "00000000-0000-4000-8000-00000000000d"
AS_OF = "2026-02-10T00:00:00Z"


def _lesson(lid: str, rule: dict[str, object], tasks: list[str], **extra: object) -> dict:
    return {
        "id": lid,
        "kind": "lesson",
        "title": lid,
        "completion": rule,
        "tasks": [{"id": t, "maxPoints": 1} for t in tasks],
        **extra,
    }


P = "py101/"
L1 = _lesson(P + "m1/l1", {"rule": "viewed"}, [P + "m1/l1/t1"])
L2 = _lesson(P + "m1/l2", {"rule": "all_tasks_solved"}, [P + "m1/l2/t2", P + "m1/l2/t3"])
Q1 = {
    "id": P + "m1/q1",
    "kind": "quiz",
    "title": "Check 1",
    "passPercent": 60,
    "weight": 10,
    "completion": {"rule": "passed"},
    "questions": [
        {"id": P + "m1/q1/a", "maxPoints": 1, "options": 4, "competencies": ["arith"]},
        {"id": P + "m1/q1/b", "maxPoints": 1},
    ],
}
L3 = _lesson(P + "m2/l3", {"rule": "time", "seconds": 300}, [])
A1 = {
    "id": P + "m2/a1",
    "kind": "assignment",
    "title": "Calculator",
    "maxPoints": 100,
    "weight": 20,
    "dueOffsetDays": 14,
    "completion": {"rule": "graded", "minPercent": 40},
}
L4 = _lesson(P + "m2/l4", {"rule": "explicit"}, [], optional=True)
L5 = _lesson(P + "m1/l5", {"rule": "viewed"}, [])

PY101_V1 = {
    "course": "py101",
    "title": "Python basics",
    "version": 1,
    "publishedAt": "2026-01-01T00:00:00Z",
    "modules": [
        {"id": P + "m1", "title": "Values", "lessons": [L1, L2, Q1]},
        {"id": P + "m2", "title": "Programs", "lessons": [L3, A1, L4]},
    ],
}
# v2: l5 added to m1, l2 moved from m1 to m2, l3 removed.
PY101_V2 = {
    **PY101_V1,
    "version": 2,
    "publishedAt": "2026-02-01T00:00:00Z",
    "modules": [
        {"id": P + "m1", "title": "Values", "lessons": [L1, Q1, L5]},
        {"id": P + "m2", "title": "Programs", "lessons": [L2, A1, L4]},
    ],
}
DS201_V1 = {
    "course": "ds201",
    "title": "Data",
    "version": 1,
    "publishedAt": "2026-01-01T00:00:00Z",
    "modules": [
        {
            "id": "ds201/m1",
            "lessons": [
                _lesson("ds201/m1/l1", {"rule": "viewed"}, []),
                _lesson("ds201/m1/l2", {"rule": "explicit"}, []),
            ],
        }
    ],
}
PATH = {"path": "data-track", "title": "Data track", "courses": ["py101", "ds201"]}

_n = 0


def ev(user: str, course: str, etype: str, at: str, node: str | None = None, **f: object) -> dict:
    global _n
    _n += 1
    row: dict[str, object] = {
        "eventId": f"10000000-0000-4000-8000-{_n:012d}",
        "userId": user,
        "courseId": course,
        "type": etype,
        "occurredAt": at,
    }
    if node:
        row["nodeId"] = node
    row.update(f)
    return row


def events() -> list[dict]:
    global _n
    _n = 0
    py, ds = "py101", "ds201"
    return [
        # Alice: completes every required lesson of py101 v1, then enrolls in ds201.
        ev(A, py, "enrolled", "2026-01-02T09:00:00Z"),
        ev(A, py, "lesson_viewed", "2026-01-02T09:01:00Z", P + "m1/l1", durationMs=60000),
        ev(
            A,
            py,
            "task_attempted",
            "2026-01-02T09:05:00Z",
            P + "m1/l2/t2",
            tries=1,
            timeSpentMs=20000,
            solved=True,
        ),
        ev(
            A,
            py,
            "task_attempted",
            "2026-01-02T09:06:00Z",
            P + "m1/l2/t3",
            tries=2,
            timeSpentMs=40000,
            solved=True,
        ),
        ev(A, py, "quiz_started", "2026-01-03T10:00:00Z", P + "m1/q1", attemptId="qa1"),
        ev(
            A,
            py,
            "question_answered",
            "2026-01-03T10:01:00Z",
            P + "m1/q1/a",
            attemptId="qa1",
            correct=True,
            score=1,
            maxScore=1,
            timeSpentMs=10000,
        ),
        ev(
            A,
            py,
            "question_answered",
            "2026-01-03T10:02:00Z",
            P + "m1/q1/b",
            attemptId="qa1",
            correct=False,
            score=0,
            maxScore=1,
            timeSpentMs=10000,
        ),
        ev(A, py, "quiz_submitted", "2026-01-03T10:03:00Z", P + "m1/q1", attemptId="qa1"),
        ev(A, py, "quiz_started", "2026-01-03T10:10:00Z", P + "m1/q1", attemptId="qa2"),
        ev(
            A,
            py,
            "question_answered",
            "2026-01-03T10:11:00Z",
            P + "m1/q1/a",
            attemptId="qa2",
            correct=True,
            score=1,
            maxScore=1,
            timeSpentMs=10000,
        ),
        ev(
            A,
            py,
            "question_answered",
            "2026-01-03T10:12:00Z",
            P + "m1/q1/b",
            attemptId="qa2",
            correct=True,
            score=1,
            maxScore=1,
            timeSpentMs=10000,
        ),
        ev(A, py, "quiz_submitted", "2026-01-03T10:13:00Z", P + "m1/q1", attemptId="qa2"),
        ev(A, py, "lesson_viewed", "2026-01-04T08:00:00Z", P + "m2/l3", durationMs=200000),
        ev(A, py, "lesson_viewed", "2026-01-05T08:00:00Z", P + "m2/l3", durationMs=150000),
        ev(A, py, "assignment_submitted", "2026-01-06T12:00:00Z", P + "m2/a1", submissionId="s1"),
        ev(
            A,
            py,
            "assignment_graded",
            "2026-01-08T12:00:00Z",
            P + "m2/a1",
            submissionId="s1",
            score=80,
            maxScore=100,
        ),
        ev(A, ds, "enrolled", "2026-01-10T09:00:00Z"),
        ev(A, ds, "lesson_viewed", "2026-01-10T09:05:00Z", "ds201/m1/l1"),
        # Bob: views l1, fails t2 then solves it, fails t3, pauses.
        ev(B, py, "enrolled", "2026-01-05T10:00:00Z"),
        ev(B, py, "lesson_viewed", "2026-01-05T10:01:00Z", P + "m1/l1"),
        ev(
            B,
            py,
            "task_attempted",
            "2026-01-05T10:03:00Z",
            P + "m1/l2/t2",
            tries=1,
            timeSpentMs=30000,
            solved=False,
        ),
        ev(
            B,
            py,
            "task_attempted",
            "2026-01-06T10:00:00Z",
            P + "m1/l2/t2",
            tries=1,
            timeSpentMs=10000,
            solved=True,
        ),
        ev(
            B,
            py,
            "task_attempted",
            "2026-01-06T10:02:00Z",
            P + "m1/l2/t3",
            tries=1,
            timeSpentMs=50000,
            solved=False,
        ),
        ev(B, py, "paused", "2026-01-07T09:00:00Z"),
        # Carol: views l1, fails t1, withdraws.
        ev(C, py, "enrolled", "2026-01-03T08:00:00Z"),
        ev(C, py, "lesson_viewed", "2026-01-03T08:01:00Z", P + "m1/l1"),
        ev(
            C,
            py,
            "task_attempted",
            "2026-01-03T08:02:00Z",
            P + "m1/l1/t1",
            tries=1,
            timeSpentMs=5000,
            solved=False,
        ),
        ev(C, py, "unenrolled", "2026-01-04T08:00:00Z"),
        # Dan: enrolls in ds201, views an orphan node of py101, later views ds201's l1.
        ev(D, ds, "enrolled", "2026-01-20T12:00:00Z"),
        ev(D, py, "lesson_viewed", "2026-01-21T12:00:00Z", P + "m9/l9"),
        ev(D, ds, "lesson_viewed", "2026-02-01T10:00:00Z", "ds201/m1/l1"),
    ]


def write_landing(root: Path) -> Path:
    """Write the landing under `root`; returns it."""
    for folder in ("courses", "events", "paths"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, doc in (("py101-v1", PY101_V1), ("py101-v2", PY101_V2), ("ds201-v1", DS201_V1)):
        (root / "courses" / f"{name}.json").write_text(json.dumps(doc))
    (root / "paths" / "data-track.json").write_text(json.dumps(PATH))
    lines = "\n".join(json.dumps(e) for e in events())
    (root / "events" / "events.jsonl").write_text(lines + "\n")
    return root
