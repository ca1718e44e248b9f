"""The course pages' figure tables (`transforms/lms/course_figures.py`) by hand: five learners
of py101 (a..e) and one of ds201 (f). The arithmetic is written next to each expectation; the
check-breaking tests of these tables are in tests/test_lms_analytics.py (`TABLES`)."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from transforms.lms.course_figures import (
    course_badges_weekly,
    course_completion_days,
    course_continue_positions,
    course_funnel,
    course_lesson_time,
)

D = datetime(2026, 3, 2)  # a Monday

# (user, course, enrolled_at, completed_at)
ENROLLMENTS = pl.DataFrame(
    [
        ("a", "py101", datetime(2026, 3, 2, 9), datetime(2026, 3, 4, 10)),
        ("b", "py101", datetime(2026, 3, 2, 17), None),
        ("c", "py101", datetime(2026, 3, 3, 8), datetime(2026, 3, 4, 20)),
        ("d", "py101", datetime(2026, 3, 5, 8), None),
        ("e", "py101", datetime(2026, 3, 5, 9), None),
        ("f", "ds201", datetime(2026, 3, 2, 9), None),
    ],
    schema={"user_id": pl.String, "course_id": pl.String, "enrolled_at": pl.Datetime,
            "completed_at": pl.Datetime},
    orient="row",
)  # fmt: skip


def _course_progress() -> pl.DataFrame:
    """a, c completed; b active at l2, d active at l1, e paused at l1; f active at m1."""
    rows = [
        ("a", "py101", D, datetime(2026, 3, 4), "completed", "l3"),
        ("b", "py101", D, None, "active", "l2"),
        ("c", "py101", D, datetime(2026, 3, 4), "completed", "l3"),
        ("d", "py101", D, None, "active", "l1"),
        ("e", "py101", None, None, "paused", "l1"),
        ("f", "ds201", None, None, "active", "m1"),
    ]
    return pl.DataFrame(
        rows,
        schema={"user_id": pl.String, "course_id": pl.String, "started_at": pl.Datetime,
                "completed_at": pl.Datetime, "enrollment_status": pl.String,
                "current_lesson": pl.String},
        orient="row",
    )  # fmt: skip


def _funnel() -> pl.DataFrame:
    modules = pl.DataFrame(
        [
            ("py101", "m1", "completed"), ("py101", "m1", "completed"),
            ("py101", "m1", "completed"), ("py101", "m2", "completed"),
            ("py101", "m2", "in_progress"), ("ds201", "n1", "in_progress"),
        ],
        schema=["course_id", "module_id", "status"],
        orient="row",
    )  # fmt: skip
    return course_funnel(ENROLLMENTS, _course_progress(), modules)


def test_course_funnel_by_hand() -> None:
    # ds201: 1 enrolled, f not started, n1 not completed, course not completed (no row);
    # py101: 5 enrolled, 4 started (all but e), m1 completed by 3, m2 by 1 (the other in
    # progress), 2 completed the course (a, c); enrolled on every row: ds201 1, py101 5
    assert _funnel().rows() == [
        ("ds201", "enrolled", None, 1, 1),
        ("py101", "enrolled", None, 5, 5),
        ("py101", "started", None, 4, 5),
        ("py101", "module_completed", "m1", 3, 5),
        ("py101", "module_completed", "m2", 1, 5),
        ("py101", "course_completed", None, 2, 5),
    ]


def _completion_days() -> pl.DataFrame:
    return course_completion_days(ENROLLMENTS)


def test_course_completion_days_by_hand() -> None:
    # py101 enrolled: Mar 2 a, b (2, total 2); Mar 3 c (1, total 3); Mar 5 d, e (2, total 5);
    # completed: Mar 4 a, c (2, total 2). ds201: Mar 2 f enrolled (1, total 1)
    assert _completion_days().rows() == [
        ("ds201", "enrolled", date(2026, 3, 2), 1, 1),
        ("py101", "completed", date(2026, 3, 4), 2, 2),
        ("py101", "enrolled", date(2026, 3, 2), 2, 2),
        ("py101", "enrolled", date(2026, 3, 3), 1, 3),
        ("py101", "enrolled", date(2026, 3, 5), 2, 5),
    ]


def _lesson_time() -> pl.DataFrame:
    seconds = [("l1", 60), ("l1", 180), ("l1", 600), ("l1", 0), ("l2", 90), ("l2", 150)]
    lessons = pl.DataFrame(
        [("py101", lesson, s) for lesson, s in seconds],
        schema=["course_id", "lesson_id", "time_spent_s"],
        orient="row",
    )
    return course_lesson_time(lessons)


def test_course_lesson_time_by_hand() -> None:
    table = _lesson_time()
    # l1: 60, 180, 600 s (the 0 left out): median 180 s = 3 min, 3 learners;
    # l2: 90, 150 s: median 120 s = 2 min, 2 learners
    assert table.select("lesson_id", "learners").rows() == [("l1", 3), ("l2", 2)]
    assert table["minutes"].to_list() == pytest.approx([180 / 60, 120 / 60])


def _continue_positions() -> pl.DataFrame:
    return course_continue_positions(_course_progress())


def test_course_continue_positions_by_hand() -> None:
    # active, not completed: b at l2, d at l1 (py101), f at m1 (ds201); e paused, a and c
    # completed: left out. Active learners: ds201 1, py101 1 + 1 = 2
    assert _continue_positions().rows() == [
        ("ds201", "m1", 1, 1),
        ("py101", "l1", 1, 2),
        ("py101", "l2", 1, 2),
    ]


def _badges_weekly() -> pl.DataFrame:
    awards = pl.DataFrame(
        [
            ("a", datetime(2026, 3, 2, 10), "first", "First steps"),  # week of Mar 2
            ("b", datetime(2026, 3, 8, 23), "first", "First steps"),  # Sunday: week of Mar 2
            ("a", datetime(2026, 3, 9, 1), "streak", "Streak"),  # week of Mar 9
            ("f", datetime(2026, 3, 9, 1), "first", "First steps"),  # ds201's learner
            ("z", datetime(2026, 3, 9, 1), "first", "First steps"),  # enrolled nowhere
        ],
        schema=["user_id", "awarded_at", "badge_code", "name"],
        orient="row",
    )
    return course_badges_weekly(ENROLLMENTS, awards)


def test_course_badges_weekly_by_hand() -> None:
    # py101: week of Mar 2 "first" a + b = 2, week of Mar 9 "streak" a = 1; ds201: f's
    # "first" in the week of Mar 9 = 1; z (no enrollment) counts nowhere
    assert _badges_weekly().rows() == [
        ("ds201", date(2026, 3, 9), "first", "First steps", 1),
        ("py101", date(2026, 3, 2), "first", "First steps", 2),
        ("py101", date(2026, 3, 9), "streak", "Streak", 1),
    ]
