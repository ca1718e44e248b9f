"""learning_analytics by hand: two learners of one course over four ISO weeks (Mondays Jan 5,
12, 19, 26 2026). Each formula's arithmetic is written next to its expectation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.defs.lms import checks
from pipelines.defs.resources import WarehouseResource
from tests.registry_breaks import all_registry_breaks
from tests.test_lms_course_figures import (
    _badges_weekly,
    _completion_days,
    _continue_positions,
    _funnel,
    _lesson_time,
)
from transforms.lms.analytics import ANALYTICS_TABLES, learning_analytics
from transforms.lms.assessment_trends import assessment_trends
from transforms.lms.stops import STOP_COLUMNS, course_stop_points
from transforms.warehouse import connect, replace_table

U = "00000000-0000-4000-8000-0000000000a1"
V = "00000000-0000-4000-8000-0000000000a2"
C = "py101"

# (user, day of January, hour, node kind, minutes, session)
EVENTS = [
    (U, 5, 8, "lesson", 10, 1),  # W1: 10 lesson min, morning
    (U, 6, 14, "task", 20, 2),  # 20 task min, afternoon
    (U, 7, 20, "quiz", 30, 3),  # 30 quiz min, evening
    (U, 8, 2, "assignment", 5, 4),  # 5 min (total only), night
    *((U, d, 9, "lesson", 10, 4 + d) for d in (12, 13, 14, 15)),  # W2: 4 days x 10
    *((U, d, 9, "lesson", 5, 4 + d) for d in (19, 20, 21, 22)),  # W3: 4 days x 5
    (U, 26, 10, "question", 30, 40),  # W4: the quiz day, 30 min
    (U, 29, 10, "lesson", 10, 41),  # 10 min
    (V, 5, 9, "lesson", 30, 50),  # V: W1 30, W2 32, W3 80 minutes
    (V, 12, 9, "lesson", 32, 51),
    (V, 19, 9, "lesson", 80, 52),
]
# completed quiz attempts (user, day, hour, score %)
ATTEMPTS = [(U, 7, 20, 95.0), (U, 7, 21, 72.0), (U, 22, 10, 55.0), (U, 26, 11, 85.0)]


def _tables() -> pl.DataFrame:
    events = pl.DataFrame(
        [
            {
                "user_id": u,
                "course_id": C,
                "occurred_at": datetime(2026, 1, d, h),
                "node_kind": kind,
                "time_ms": minutes * 60_000,
                "session_key": s,
            }
            for u, d, h, kind, minutes, s in EVENTS
        ]
    )
    attempts = pl.DataFrame(
        [
            {
                "user_id": u,
                "course_id": C,
                "status": "completed",
                "completed_at": datetime(2026, 1, d, h),
                "score_percent": score,
            }
            for u, d, h, score in ATTEMPTS
        ]
        + [  # an abandoned attempt counts nowhere
            {
                "user_id": U,
                "course_id": C,
                "status": "abandoned",
                "completed_at": None,
                "score_percent": None,
            }
        ]
    )
    progress = pl.DataFrame(
        {
            "user_id": [U, V, "x", "y"],
            "course_id": [C] * 4,
            "percent_complete": [50.0, 50.0, 100.0, 0.0],
        }
    )
    return learning_analytics(events, attempts, progress)


def test_minutes_days_sessions_and_parts_of_day() -> None:
    rows = _tables().filter(pl.col("user_id") == U)
    assert rows["iso_week"].to_list() == ["2026-W02", "2026-W03", "2026-W04", "2026-W05"]
    assert rows["week_start"].to_list() == [date(2026, 1, d) for d in (5, 12, 19, 26)]
    w1 = rows.row(0, named=True)
    assert (w1["minutes_lessons"], w1["minutes_tasks"], w1["minutes_quizzes"]) == (10, 20, 30)
    assert w1["minutes_total"] == 65  # 10 + 20 + 30 + 5 (the assignment's)
    assert (w1["active_days"], w1["sessions"]) == (4, 4)
    assert w1["mean_session_minutes"] == pytest.approx(65 / 4)
    parts = (w1["minutes_night"], w1["minutes_morning"], w1["minutes_afternoon"])
    assert (*parts, w1["minutes_evening"]) == (5, 10, 20, 30)
    assert rows["minutes_quizzes"].to_list() == [30, 0, 0, 30]  # W4's question counts as quiz


def test_quiz_average_change_and_grades() -> None:
    rows = _tables().filter(pl.col("user_id") == U)
    assert rows["quiz_average"].to_list() == [(95 + 72) / 2, None, 55.0, 85.0]
    # W3 has no previous week's average (W2 had no quiz); W4: 85 - 55 = 30
    assert rows["quiz_average_change"].to_list() == [None, None, None, 30.0]
    grades = rows.select("grade_a", "grade_b", "grade_c", "grade_d", "grade_f").rows()
    assert grades == [(1, 0, 1, 0, 0), (0, 0, 0, 0, 0), (0, 0, 0, 0, 1), (0, 1, 0, 0, 0)]


def test_engagement_trend_consistency_and_cramming() -> None:
    table = _tables()
    u = table.filter(pl.col("user_id") == U)
    # W1: one week only -> null. W2: 65, 40 -> slope -25, |-25| > 10% of 52.5 -> decreasing.
    # W3: 65, 40, 20 at x -2..0: slope = ((-1)(23.33) + (1)(-21.67)) / 2 = -22.5 -> decreasing.
    # W4: 65, 40, 20, 40: slope = -47.5 / 5 = -9.5, |-9.5| > 4.125 -> decreasing.
    assert u["engagement_trend"].to_list() == [None, "decreasing", "decreasing", "decreasing"]
    v = table.filter(pl.col("user_id") == V)
    # V W2: 30, 32 -> slope 2 <= 10% of 31 = 3.1 -> stable; W3: 30, 32, 80 -> slope
    # ((-1)(-17.33) + (1)(32.67)) / 2 = 25 > 4.73 -> increasing
    assert v["engagement_trend"].to_list() == [None, "stable", "increasing"]
    # 4 active days in W1, W2 and W3 -> W3 consistent; W4 had 2 days; W1, W2 lack 3 weeks
    assert u["consistent_schedule"].to_list() == [False, False, True, False]
    # W1: quiz on Jan 7 -> Jan 6 and 7 count: (20 + 30) / 65 = 0.77 >= 0.6. W2: no quiz near.
    # W3: quiz Jan 22 -> Jan 21 and 22: 10 / 20 = 0.5 < 0.6. W4: quiz Jan 26: 30 / 40 = 0.75.
    assert u["cramming"].to_list() == [True, False, False, True]


def test_percentile_rank_of_percent_complete() -> None:
    table = _tables()
    # 4 enrolled: 0, 50, 50, 100. U: 1 below + half of 2 equal = 2 of 4 -> 50
    assert set(table["percentile_rank"].to_list()) == {50.0}
    assert table.select("user_id", "course_id", "iso_week").is_unique().all()


STOP_AS_OF = datetime(2026, 3, 1)


def _stop_points() -> pl.DataFrame:
    """Six learners of py101 as of Mar 1: a withdrew and b paused at l1, c idle 20 days at l2
    (stopped); d active 2 days ago at l2, e completed, f withdrew with no lesson to continue
    (not stopped)."""
    day = timedelta(days=1)
    rows = [
        ("a", "withdrawn", None, STOP_AS_OF - day, "l1"),
        ("b", "paused", None, STOP_AS_OF - day, "l1"),
        ("c", "active", None, STOP_AS_OF - 20 * day, "l2"),
        ("d", "active", None, STOP_AS_OF - 2 * day, "l2"),
        ("e", "withdrawn", STOP_AS_OF - day, STOP_AS_OF - day, "l2"),
        ("f", "withdrawn", None, STOP_AS_OF - day, None),
    ]
    progress = pl.DataFrame(
        [(u, C, s, done, last, lesson) for u, s, done, last, lesson in rows],
        schema=list(STOP_COLUMNS),
        orient="row",
    )
    return course_stop_points(progress, STOP_AS_OF)


def test_course_stop_points_by_hand() -> None:
    table = _stop_points()
    # 3 stopped: 2 at l1 (2/3), 1 at l2 (1/3)
    assert table.select("lesson_id", "stopped", "stopped_learners").rows() == [
        ("l1", 2, 3),
        ("l2", 1, 3),
    ]
    assert table["share"].to_list() == pytest.approx([2 / 3, 1 / 3])
    assert (table["share_low"] < table["share"]).all() and (
        table["share"] < table["share_high"]
    ).all()


def _trends() -> pl.DataFrame:
    """a: quizzes 50, 60 (Jan 1, 2) and an assignment 80 (Jan 3); b: 80, 80.5 and a quiz
    without a score; c: 90, 70, 50, 40."""
    rows = [
        ("a", 1, "quiz", 50.0), ("a", 2, "quiz", 60.0), ("a", 3, "assignment", 80.0),
        ("b", 1, "quiz", 80.0), ("b", 2, "quiz", 80.5), ("b", 3, "quiz", None),
        *(("c", d, "quiz", s) for d, s in ((1, 90.0), (2, 70.0), (3, 50.0), (4, 40.0))),
    ]  # fmt: skip
    listed = pl.DataFrame(
        [(u, datetime(2026, 1, d), kind, f"{u}{d}", score, None) for u, d, kind, score in rows],
        schema={"user_id": pl.String, "at": pl.Datetime, "kind": pl.String, "item": pl.String,
                "score_percent": pl.Float64, "passed": pl.Boolean},
        orient="row",
    )  # fmt: skip
    return assessment_trends(listed)


def test_assessment_trends_by_hand() -> None:
    table = _trends()
    # a: slope of 50, 60, 80 = 15/assessment > 1: improving, mean 190/3; b: two scores (the
    # third has none): too few; c: slope −17: declining, mean 62.5
    assert table.select("user_id", "assessments", "assessment_trend").rows() == [
        ("a", 3, "improving"),
        ("b", 3, None),
        ("c", 4, "declining"),
    ]
    assert table["mean_assessment_percent"].to_list() == pytest.approx([190 / 3, 80.25, 62.5])


# Each learning_analytics check, with SQL that breaks what it checks.
ANALYTICS_BREAKS: dict[str, list[str]] = {
    **all_registry_breaks(ANALYTICS_TABLES),
    "learning_analytics_consistent": [
        "UPDATE learning_analytics SET minutes_lessons = minutes_total + 1",
        "UPDATE learning_analytics SET active_days = 8",
        "UPDATE learning_analytics SET engagement_trend = 'up'",
    ],
}
CHECKS = {
    c.check_key.name: c for c in [*checks.analytics_checks, checks.learning_analytics_consistent]
}
TABLES = {
    "learning_analytics": _tables,
    "course_stop_points": _stop_points,
    "assessment_trends": _trends,
    "course_funnel": _funnel,
    "course_completion_days": _completion_days,
    "course_lesson_time": _lesson_time,
    "course_continue_positions": _continue_positions,
    "course_badges_weekly": _badges_weekly,
}


def test_every_analytics_check_has_breaks() -> None:
    assert set(CHECKS) == set(ANALYTICS_BREAKS)


@pytest.mark.parametrize(
    ("name", "sql"), [(n, sql) for n, sqls in ANALYTICS_BREAKS.items() for sql in sqls]
)
def test_each_analytics_check_passes_then_fails(name: str, sql: str, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    con = connect(db)
    for table, build in TABLES.items():
        replace_table(con, table, build())
    con.close()
    check = CHECKS[name]
    warehouse = WarehouseResource(database=str(db))
    assert check(warehouse=warehouse).passed  # type: ignore[operator]
    con = connect(db)
    con.execute(sql)
    con.close()
    assert not check(warehouse=warehouse).passed  # type: ignore[operator]
