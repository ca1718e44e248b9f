"""Competencies, badges and published events end to end on a small hand-written course, day by
day, with their asset checks.

Course sk101 v1 (Mar 1): module m1 = l1 (all_tasks_solved; t1, t2 both `logic`), q1 (quiz,
pass 50%; question a `logic`, question b no competency), a1 (an optional assignment due on the
enrollment day); competency `logic` declared with masteryThreshold 0.9. Fewer than 10
learners: BKT uses the defaults (prior 0.2, learn 0.15, slip 0.1, guess 0.2).

Day 1 (Mar 2): Ann enrolls, solves t1 (10:00) and t2 (10:05): l1 completed. Ben enrolls and
fails t1 (23:50). Day 2 (Mar 3): Ann takes q1: a right, b wrong, then a again right within
the attempt (the last answer counts), submits at 09:10, submits a1 at 09:20 (late); Ben fails
t1 again at 00:10.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.defs.lms import achievement_checks as checks
from pipelines.defs.resources import WarehouseResource
from tests.lms_build import build_lms_warehouse
from tests.registry_breaks import all_registry_breaks
from transforms.lms.achievements import ACHIEVEMENT_TABLES
from transforms.warehouse import connect, query

ANN = "00000000-0000-4000-8000-0000000000a1"
BEN = "00000000-0000-4000-8000-0000000000b1"
S = "sk101/m1/"
COURSE = {
    "course": "sk101",
    "title": "Skills",
    "version": 1,
    "publishedAt": "2026-03-01T00:00:00Z",
    "modules": [
        {
            "id": "sk101/m1",
            "title": "Logic",
            "lessons": [
                {
                    "id": S + "l1",
                    "kind": "lesson",
                    "completion": {"rule": "all_tasks_solved"},
                    "tasks": [
                        {"id": S + "l1/t1", "competencies": ["logic"]},
                        {"id": S + "l1/t2", "competencies": ["logic"]},
                    ],
                },
                {
                    "id": S + "q1",
                    "kind": "quiz",
                    "passPercent": 50,
                    "questions": [
                        {"id": S + "q1/a", "competencies": ["logic"], "options": 4},
                        {"id": S + "q1/b"},
                    ],
                },
                {"id": S + "a1", "kind": "assignment", "optional": True, "dueOffsetDays": 0},
            ],
        }
    ],
    "competencies": [{"id": "logic", "name": "Logic", "masteryThreshold": 0.9}],
}
BADGES = [
    {
        "code": "first-steps",
        "name": "First steps",
        "points": 5,
        "rule": {"type": "lessons_completed", "count": 1},
    },
    {
        "code": "logician",
        "name": "Logician",
        "points": 20,
        "rule": {"type": "competency_mastered", "competencyId": "logic"},
    },
    {"code": "quiz-ace", "name": "Quiz ace", "rule": {"type": "quiz_score", "minPercent": 50}},
    {"code": "streak-2", "name": "Two days", "rule": {"type": "streak", "days": 2}},
]
_n = 0


def ev(user: str, etype: str, at: str, node: str | None = None, **extra: object) -> dict:
    global _n
    _n += 1
    row = {
        "eventId": f"20000000-0000-4000-8000-{_n:012d}",
        "userId": user,
        "courseId": "sk101",
        "type": etype,
        "occurredAt": at,
        **({"nodeId": node} if node else {}),
        **extra,
    }
    return row


def task(user: str, at: str, node: str, solved: bool) -> dict:
    return ev(user, "task_attempted", at, node, tries=1, timeSpentMs=9000, solved=solved)


def answer(at: str, node: str, correct: bool) -> dict:
    score = int(correct)
    return ev(
        ANN, "question_answered", at, node, attemptId="x1", correct=correct,
        score=score, maxScore=1, timeSpentMs=5000,
    )  # fmt: skip


DAY1 = [
    ev(ANN, "enrolled", "2026-03-02T09:55:00Z"),
    task(ANN, "2026-03-02T10:00:00Z", S + "l1/t1", True),
    task(ANN, "2026-03-02T10:05:00Z", S + "l1/t2", True),
    ev(BEN, "enrolled", "2026-03-02T23:40:00Z"),
    task(BEN, "2026-03-02T23:50:00Z", S + "l1/t1", False),
]
DAY2 = [
    ev(ANN, "quiz_started", "2026-03-03T09:00:00Z", S + "q1", attemptId="x1"),
    answer("2026-03-03T09:01:00Z", S + "q1/a", True),
    answer("2026-03-03T09:02:00Z", S + "q1/b", False),
    answer("2026-03-03T09:03:00Z", S + "q1/a", True),
    ev(ANN, "quiz_submitted", "2026-03-03T09:10:00Z", S + "q1", attemptId="x1"),
    ev(ANN, "assignment_submitted", "2026-03-03T09:20:00Z", S + "a1", submissionId="s1"),
    task(BEN, "2026-03-03T00:10:00Z", S + "l1/t1", False),
]
END_DAY1, END_DAY2 = datetime(2026, 3, 3), datetime(2026, 3, 4, 12)


def run(
    con: duckdb.DuckDBPyConnection, landing: Path, as_of: datetime, run_id: str, outbox: Path
) -> pl.DataFrame:
    """What the nightly job does for these tables, as of `as_of`; returns the events published."""
    return build_lms_warehouse(con, landing, as_of, outbox, run_id)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("skills")
    landing = root / "landing"
    for sub in ("courses", "events", "badges"):
        (landing / sub).mkdir(parents=True)
    (landing / "courses" / "sk101.json").write_text(json.dumps(COURSE))
    (landing / "badges" / "rules.json").write_text(json.dumps(BADGES))
    (landing / "badges" / "broken.json").write_text("{")
    (landing / "events" / "day1.jsonl").write_text("\n".join(json.dumps(e) for e in DAY1))
    db = root / "w.duckdb"
    con = connect(db)
    outbox = root / "outbox"
    first = run(con, landing, END_DAY1, "run-1", outbox)
    rerun = run(con, landing, END_DAY1, "run-2", outbox)
    (landing / "events" / "day2.jsonl").write_text("\n".join(json.dumps(e) for e in DAY2))
    second = run(con, landing, END_DAY2, "run-3", outbox)
    out = {
        "db": db,
        "outbox": outbox,
        "first": first,
        "rerun": rerun,
        "second": second,
        **{
            t: query(con, f"SELECT * FROM {t}")
            for t in ("user_competencies", "competency_params", "user_badges", "learning_events")
        },
    }
    con.close()
    return out


def test_bkt_levels_by_hand(days: dict) -> None:
    uc = days["user_competencies"].sort("user_id")
    # Ann: right, right, right (question a's last answer in attempt x1) with the defaults:
    l1 = 0.6  # 0.18/0.34 + (1 − 0.18/0.34)·0.15
    k2 = l1 * 0.9 / (l1 * 0.9 + (1 - l1) * 0.2)  # 0.54/0.62
    l2 = k2 + (1 - k2) * 0.15  # 0.8903
    k3 = l2 * 0.9 / (l2 * 0.9 + (1 - l2) * 0.2)
    l3 = k3 + (1 - k3) * 0.15  # 0.9774 >= 0.9: acquired at the answer
    # Ben: wrong, wrong
    m1 = 0.2 * 0.1 / (0.2 * 0.1 + 0.8 * 0.8)
    m1 = m1 + (1 - m1) * 0.15
    m2 = m1 * 0.1 / (m1 * 0.1 + (1 - m1) * 0.8)
    m2 = m2 + (1 - m2) * 0.15
    rows = uc.select("user_id", "status", "acquired_at", "evidence", "correct").rows()
    assert rows == [
        (ANN, "mastered", datetime(2026, 3, 3, 9, 3), 3, 3),
        (BEN, "in_progress", None, 2, 0),
    ]
    assert uc["level"].to_list() == pytest.approx([100 * l3, 100 * m2])
    assert l2 < 0.9 <= l3
    params = days["competency_params"].row(0, named=True)
    assert (params["fitted"], params["prior"], params["mastery_threshold"]) == (False, 0.2, 0.9)


def test_badges_awarded_at_the_event_where_the_rule_held(days: dict) -> None:
    got = days["user_badges"].sort("user_id", "badge_code")
    assert got.select("user_id", "badge_code", "context", "awarded_at").rows() == [
        (ANN, "first-steps", None, datetime(2026, 3, 2, 10, 5)),  # l1: t2 solved
        (ANN, "logician", "logic", datetime(2026, 3, 3, 9, 3)),
        (ANN, "quiz-ace", None, datetime(2026, 3, 3, 9, 10)),  # 1 of 2 = 50%
        (ANN, "streak-2", None, datetime(2026, 3, 3, 9)),
        (BEN, "streak-2", None, datetime(2026, 3, 3, 0, 10)),  # Mar 2 23:50, Mar 3 00:10
    ]


def test_a_rerun_publishes_nothing_and_a_new_day_only_its_consequences(days: dict) -> None:
    first, rerun, second = days["first"], days["rerun"], days["second"]
    assert rerun.height == 0
    assert (days["outbox"] / "run-2.jsonl").read_text() == ""
    # day 1: l1 in progress and completed for Ann, in progress for Ben, Ann's first badge
    assert sorted(first["type"].to_list()) == ["AchievementEarned", *["ProgressUpdated"] * 3]
    assert first.filter(pl.col("occurred_at") >= END_DAY1).height == 0
    assert second.filter(pl.col("occurred_at") < END_DAY1).height == 0
    assert sorted(second["type"].to_list()) == sorted(
        [
            "ProgressUpdated",  # q1 in progress
            "ProgressUpdated",  # q1 completed (passed)
            "ModuleCompleted",
            "CourseCompleted",
            "QuizCompleted",
            "AssignmentSubmitted",  # a1, optional: late, due on enrollment day
            "ProgressUpdated",  # a1 in progress
            "ProgressUpdated",  # a1 completed (submitted)
            "CompetencyAcquired",
            "AchievementEarned",  # logician
            "AchievementEarned",  # quiz-ace
            "AchievementEarned",  # Ann's streak
            "AchievementEarned",  # Ben's streak
        ]
    )
    lines = (days["outbox"] / "run-3.jsonl").read_text().splitlines()
    assert [json.loads(line)["eventId"] for line in lines] == second["event_id"].to_list()
    assert days["learning_events"].height == first.height + second.height
    published = days["learning_events"]
    acquired = published.filter(pl.col("type") == "CompetencyAcquired")
    assert json.loads(acquired["payload"][0])["competencyId"] == "logic"
    submitted = json.loads(published.filter(type="AssignmentSubmitted")["payload"][0])
    assert (submitted["submissionId"], submitted["late"]) == ("s1", True)
    quiz = json.loads(published.filter(type="QuizCompleted")["payload"][0])
    assert (quiz["attemptId"], quiz["scorePercent"], quiz["passed"]) == ("x1", 50.0, True)


CUSTOM = (
    "user_competencies_consistent",
    "competency_params_are_probabilities",
    "user_badges_have_a_rule",
    "learning_events_well_formed",
)
CHECKS = {
    c.check_key.name: c
    for c in [*checks.registered_checks, *(getattr(checks, name) for name in CUSTOM)]
}
BREAKS: dict[str, list[str]] = {
    # the checks the registry declares (transforms/lms/achievements.py)
    **all_registry_breaks(ACHIEVEMENT_TABLES),
    "user_competencies_consistent": [
        "UPDATE user_competencies SET level = NULL",
        "UPDATE user_competencies SET acquired_at = NULL WHERE status = 'mastered'",
        "UPDATE user_competencies SET status = 'not_started' WHERE evidence > 0",
    ],
    "competency_params_are_probabilities": ["UPDATE competency_params SET guess = 0.7"],
    "user_badges_have_a_rule": ["DELETE FROM badge_rules WHERE badge_code = 'logician'"],
    "learning_events_well_formed": ["UPDATE learning_events SET payload = '[1]'"],
}


def test_every_check_has_breaks() -> None:
    assert set(CHECKS) == set(BREAKS)


@pytest.mark.parametrize(("name", "sql"), [(n, sql) for n, sqls in BREAKS.items() for sql in sqls])
def test_each_check_passes_then_fails_on_a_broken_table(
    days: dict, name: str, sql: str, tmp_path: Path
) -> None:
    check = CHECKS[name]
    db = tmp_path / "copy.duckdb"
    db.write_bytes(days["db"].read_bytes())
    warehouse = WarehouseResource(database=str(db))
    assert check(warehouse=warehouse).passed  # type: ignore[operator]
    con = connect(db)
    con.execute(sql)
    con.close()
    assert not check(warehouse=warehouse).passed  # type: ignore[operator]


def test_the_bad_rule_file_is_rejected(days: dict, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(days["db"].read_bytes())
    result = checks.no_rejected_badge_rules(warehouse=WarehouseResource(database=str(db)))
    assert not result.passed and result.metadata["problems"].value == 1
    con = connect(db)
    con.execute("DELETE FROM badge_rule_rejects")
    con.close()
    assert checks.no_rejected_badge_rules(warehouse=WarehouseResource(database=str(db))).passed
