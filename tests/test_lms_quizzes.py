"""quiz_attempts on hand-written events, as of 2026-02-10 00:00, over py101's quiz q1 of
tests/lms_landing.py (questions a and b, 1 point each, passPercent 60, max 2 points).

Alice: attempt "k9" Jan 3 10:00 — a right, b wrong then b right (the last answer counts),
submitted 10:05: 2/2 = 100%, passed, 300 s. Attempt "k1" Jan 4 10:00 — a half right (partial
credit 0.5, not correct), b unanswered, submitted 10:02: 0.5/2 = 25%, not passed, 120 s. By start
time k9 is her attempt 1 although its id sorts after k1.
Bob: "y1" Feb 8 12:00, a right at 12:01, never submitted: 36 h before the as-of time, so
abandoned (60 s). "y2" Feb 9 12:00, nothing else: 12 h, so in progress (0 s, 2 unanswered).
Carol: "z1" has no quiz_started: it starts at her first answer (Jan 5 08:00, b right), submitted
08:10: 1/2 = 50% < 60, not passed, 600 s.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from pipelines.defs.resources import WarehouseResource
from tests.lms_landing import A, B, C
from tests.lms_quiz_events import QA, QB, event_frame, question, quiz_event, tree_inputs
from tests.registry_breaks import all_registry_breaks
from transforms.lms.assessment import ASSESSMENT_TABLES, build_assessment_tables
from transforms.lms.progress import LmsInputs
from transforms.warehouse import connect, replace_table

AS_OF = datetime(2026, 2, 10)


def d(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> LmsInputs:
    return tree_inputs(tmp_path_factory.mktemp("quiz"))


def attempt_events(template: pl.DataFrame) -> pl.DataFrame:
    return event_frame(
        template,
        [
            quiz_event(1, A, d(3, 10), "quiz_started", "k9"),
            question(2, A, d(3, 10, 1), QA, "k9", 1.0, True),
            question(3, A, d(3, 10, 2), QB, "k9", 0.0, False),
            question(4, A, d(3, 10, 3), QB, "k9", 1.0, True),
            quiz_event(5, A, d(3, 10, 5), "quiz_submitted", "k9"),
            quiz_event(6, A, d(4, 10), "quiz_started", "k1"),
            question(7, A, d(4, 10, 1), QA, "k1", 0.5, False),
            quiz_event(8, A, d(4, 10, 2), "quiz_submitted", "k1"),
            quiz_event(9, B, d(8, 12, month=2), "quiz_started", "y1"),
            question(10, B, d(8, 12, 1, month=2), QA, "y1", 1.0, True),
            quiz_event(11, B, d(9, 12, month=2), "quiz_started", "y2"),
            question(12, C, d(5, 8), QB, "z1", 1.0, True),
            quiz_event(13, C, d(5, 8, 10), "quiz_submitted", "z1"),
        ],
    )


def test_quiz_attempts_by_hand(tree: LmsInputs) -> None:
    inputs = LmsInputs(tree.versions, tree.nodes, attempt_events(tree.events), tree.paths)
    got = build_assessment_tables(inputs, AS_OF)["quiz_attempts"]
    cols = [
        "user_id",
        "attempt_id",
        "attempt_number",
        "status",
        "started_at",
        "completed_at",
        "time_spent_s",
        "questions",
        "answered",
        "correct",
        "incorrect",
        "unanswered",
        "points",
        "score_percent",
        "passed",
    ]
    feb = 2
    assert got.select(cols).rows() == [
        (A, "k9", 1, "completed", d(3, 10), d(3, 10, 5), 300.0, 2, 2, 2, 0, 0, 2.0, 100.0, True),
        (A, "k1", 2, "completed", d(4, 10), d(4, 10, 2), 120.0, 2, 1, 0, 1, 1, 0.5, 25.0, False),
        (B, "y1", 1, "abandoned", d(8, 12, month=feb), None, 60.0, 2, 1, 1, 0, 1, 1.0, 50.0, False),
        (B, "y2", 2, "in_progress", d(9, 12, month=feb), None, 0.0, 2, 0, 0, 0, 2, 0.0, 0.0, False),
        (C, "z1", 1, "completed", d(5, 8), d(5, 8, 10), 600.0, 2, 1, 1, 0, 1, 1.0, 50.0, False),
    ]
    assert set(got["quiz_id"]) == {"py101/m1/q1"} and set(got["module_id"]) == {"py101/m1"}
    assert set(got["max_points"]) == {2.0}


def test_abandonment_is_judged_as_of(tree: LmsInputs) -> None:
    """Bob's y1 was still in progress 23 h after its start."""
    inputs = LmsInputs(tree.versions, tree.nodes, attempt_events(tree.events), tree.paths)
    got = build_assessment_tables(inputs, d(9, 11, month=2))["quiz_attempts"]
    assert got.filter(attempt_id="y1")["status"].to_list() == ["in_progress"]
    assert got.filter(attempt_id="y2").is_empty()  # started after the as-of time


def test_no_quiz_events_give_an_empty_table(tree: LmsInputs) -> None:
    got = build_assessment_tables(tree, AS_OF)["quiz_attempts"]
    assert got.is_empty() and "score_percent" in got.columns


# Every assessment check, with SQL that breaks what it checks (tests/test_checks.py reads this).
ASSESSMENT_BREAKS: dict[str, list[str]] = {
    # the checks the registry declares (transforms/lms/assessment.py)
    **all_registry_breaks(ASSESSMENT_TABLES),
    "quiz_attempts_consistent": [
        "UPDATE quiz_attempts SET unanswered = unanswered + 1",
        "UPDATE quiz_attempts SET correct = correct + 1, incorrect = incorrect - 1 "
        "WHERE attempt_id = 'z1'",
        "UPDATE quiz_attempts SET completed_at = NULL WHERE attempt_id = 'k9'",
        "UPDATE quiz_attempts SET attempt_number = 3 WHERE attempt_id = 'k9'",
    ],
    "quiz_stats_counts_and_ranges": [
        "UPDATE quiz_stats SET n = n + 1 WHERE basis = 'all'",
        "DELETE FROM quiz_stats WHERE basis = 'first'",
        "UPDATE quiz_attempts SET status = 'abandoned' WHERE attempt_id = 'z1'",
        "UPDATE quiz_stats SET basis = 'best' WHERE basis = 'highest'",
        "UPDATE quiz_stats SET cronbach_alpha = 1.5",
    ],
    "quiz_item_stats_ranges": [
        "UPDATE quiz_item_stats SET discrimination_index = -101",
        "UPDATE quiz_item_stats SET unanswered = unanswered + 1",
        "UPDATE quiz_item_stats SET flags = 'hard'",
    ],
    "assignment_submissions_consistent": [
        "UPDATE assignment_submissions SET status = 'submitted' WHERE submission_id = 's1'",
        "UPDATE assignment_submissions SET graded_at = NULL WHERE submission_id = 's1'",
        "UPDATE assignment_submissions SET late = NULL WHERE submission_id = 's3'",
        "UPDATE assignment_submissions SET hours_to_grade = 1 WHERE submission_id = 's1'",
    ],
    "task_stats_rates_within_intervals": [
        "UPDATE task_stats SET first_try_solve_rate = 1.2",
        "UPDATE task_stats SET eventual_solve_rate_low = eventual_solve_rate + 0.01",
    ],
}


def assessment_checks() -> dict[str, object]:
    from pipelines.defs.lms import assessment_checks as module

    found = {c.check_key.name: c for c in module.registered_checks}
    for name, value in vars(module).items():
        if isinstance(value, dg.AssetChecksDefinition) and name not in found:
            found[value.check_key.name] = value
    return found


@pytest.fixture(scope="module")
def warehouse_file(tree: LmsInputs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.test_lms_assignments import rows as assignment_rows

    py101 = [row for row in assignment_rows() if row["course_id"] == "py101"]
    events = pl.concat([attempt_events(tree.events), event_frame(tree.events, py101)])
    tables = build_assessment_tables(
        LmsInputs(tree.versions, tree.nodes, events, tree.paths), AS_OF
    )
    db = tmp_path_factory.mktemp("checks") / "warehouse.duckdb"
    con = connect(db)
    for name, frame in tables.items():
        replace_table(con, name, frame)
    con.close()
    return db


def test_every_assessment_check_has_breaks() -> None:
    assert set(assessment_checks()) == set(ASSESSMENT_BREAKS)


@pytest.mark.parametrize(
    ("name", "sql"), [(n, s) for n, sqls in ASSESSMENT_BREAKS.items() for s in sqls]
)
def test_each_assessment_check_passes_then_fails(
    warehouse_file: Path, name: str, sql: str, tmp_path: Path
) -> None:
    check = assessment_checks()[name]
    db = tmp_path / "copy.duckdb"
    db.write_bytes(warehouse_file.read_bytes())
    assert check(warehouse=WarehouseResource(database=str(db))).passed  # type: ignore[operator]
    con = connect(db)
    con.execute(sql)
    con.close()
    assert not check(warehouse=WarehouseResource(database=str(db))).passed  # type: ignore[operator]
