"""task_stats on hand-written attempts over py101 of tests/lms_landing.py.

Task t2: Alice solves it on the first try Jan 2 (20 s), fails it Jan 12 (30 s) and solves it on
her second try Jan 13 (40 s): both later attempts come 10 and 11 days after her Jan 2 solve, so
they are recall attempts (1 of 2 solved). Bob fails Jan 5 (10 s), solves with 2 tries Jan 6
(50 s: 1 + 2 = 3 tries to solve) and again Jan 8 (20 s; 2 days after his solve: no recall
attempt). Carol fails with 3 tries (60 s) and never solves.
learners 3, attempts 7; first try 1 of 3; eventually 2 of 3; tries to solve (1 + 3) / 2 = 2;
times 10 20 20 30 40 50 60: median 30 s; recall 1 of 2.
Question a: Alice answers wrong then right (2 tries), Bob right at once: first try 1 of 2,
eventually 2 of 2, (2 + 1) / 2 = 1.5 tries.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.lms_landing import A, B, C
from tests.lms_quiz_events import QA, event_frame, question, tree_inputs
from transforms.lms.assessment import build_assessment_tables
from transforms.lms.progress import LmsInputs

T2 = "py101/m1/l2/t2"


def task(n: int, user: str, at: datetime, tries: int, solved: bool, seconds: int) -> dict:
    return {
        "event_id": f"t{n:03d}",
        "user_id": user,
        "type": "task_attempted",
        "occurred_at": at,
        "node_id": T2,
        "tries": tries,
        "solved": solved,
        "time_spent_ms": seconds * 1000,
    }


def test_task_stats_by_hand(tmp_path_factory: pytest.TempPathFactory) -> None:
    tree = tree_inputs(tmp_path_factory.mktemp("tasks"))
    rows = [
        task(1, A, datetime(2026, 1, 2, 9), 1, True, 20),
        task(2, A, datetime(2026, 1, 12, 9), 1, False, 30),
        task(3, A, datetime(2026, 1, 13, 9), 2, True, 40),
        task(4, B, datetime(2026, 1, 5, 9), 1, False, 10),
        task(5, B, datetime(2026, 1, 6, 9), 2, True, 50),
        task(6, B, datetime(2026, 1, 8, 9), 1, True, 20),
        task(7, C, datetime(2026, 1, 3, 9), 3, False, 60),
        question(8, A, datetime(2026, 1, 3, 10), QA, "x", 0.0, False),
        question(9, A, datetime(2026, 1, 3, 10, 1), QA, "x", 1.0, True),
        question(10, B, datetime(2026, 1, 4, 10), QA, "y", 1.0, True),
    ]
    events = event_frame(tree.events, rows)
    inputs = LmsInputs(tree.versions, tree.nodes, events, tree.paths)
    stats = build_assessment_tables(inputs, datetime(2026, 2, 10))["task_stats"]
    t2 = stats.filter(item_id=T2).row(0, named=True)
    expected = {
        "kind": "task",
        "learners": 3,
        "attempts": 7,
        "first_try_solve_rate": 1 / 3,
        "eventual_solve_rate": 2 / 3,
        "mean_tries_to_solve": 2.0,
        "median_time_s": 30.0,
        "recall_attempts": 2,
        "recall_after_gap": 0.5,
    }
    assert {k: t2[k] for k in expected} == pytest.approx(expected)
    # Wilson, 1 of 3: centre (1/3 + 1.96²/6) / (1 + 1.96²/3) = 0.4269, half-width 0.3654
    assert (t2["first_try_solve_rate_low"], t2["first_try_solve_rate_high"]) == pytest.approx(
        (0.0615, 0.7923), abs=1e-4
    )
    a = stats.filter(item_id=QA).row(0, named=True)
    assert (a["kind"], a["learners"], a["first_try_solve_rate"], a["eventual_solve_rate"]) == (
        "question",
        2,
        0.5,
        1.0,
    )
    assert a["mean_tries_to_solve"] == 1.5 and a["recall_attempts"] == 0
    assert a["recall_after_gap"] is None  # no attempt 7+ days after a solve
