"""Progress tables on the hand-written landing of tests/lms_landing.py, as of 2026-02-10.

Timeline (UTC). py101 v1 (Jan 1): m1 = l1 (viewed; t1), l2 (all_tasks_solved; t2, t3), q1 (quiz,
pass 60%, weight 10; questions a, b); m2 = l3 (time >= 300 s), a1 (assignment, graded >= 40%,
weight 20), l4 (explicit, optional). v2 (Feb 1): m1 = l1, q1, l5 (new, viewed); m2 = l2 (moved),
a1, l4; l3 removed. ds201 v1: m1 = l1 (viewed), l2 (explicit). Path data-track: py101, ds201.

Alice completes every required lesson of v1 by Jan 8 12:00 (l1 Jan 2 09:01, l2 09:06, q1 on
her second attempt Jan 3 10:13 — the first scored 50% < 60% —, l3 when 200 s + 150 s of viewing
reached 300 s on Jan 5 08:00, a1 graded 80% on Jan 8 12:00), so py101 is completed and stays so
when v2 adds l5 (percent 4/5 = 80, new_since_completion 1, continue at l5). Bob views l1,
fails then solves t2, fails t3 and pauses. Carol views l1, fails t1 and withdraws. Dan enrolls in
ds201, views an orphan node of py101 (ignored) and views ds201's l1 on Feb 1.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.defs.lms import checks
from pipelines.defs.resources import WarehouseResource
from tests.lms_landing import A, B, C, D, write_landing
from tests.registry_breaks import all_registry_breaks
from transforms.ingest.manifests import json_documents
from transforms.lms.courses import load_courses, parse_paths
from transforms.lms.ingest import ingest_events
from transforms.lms.progress import LMS_TABLES, LmsInputs, build_lms_progress
from transforms.lms.read import read_lms_inputs
from transforms.warehouse import connect, replace_table

AS_OF = datetime(2026, 2, 10)
P = "py101/"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pl.DataFrame]]:
    root = tmp_path_factory.mktemp("lms")
    landing = write_landing(root / "landing")
    db = root / "warehouse.duckdb"
    con = connect(db)
    load_courses(con, json_documents(landing / "courses"))
    paths, _ = parse_paths(json_documents(landing / "paths"))
    replace_table(con, "learning_paths", paths)
    ingest_events(con, landing, datetime(2026, 3, 1))
    tables = build_lms_progress(read_lms_inputs(con, AS_OF), AS_OF)
    for name, frame in tables.items():
        replace_table(con, name, frame)
    con.close()
    return db, tables


def _row(frame: pl.DataFrame, **keys: str) -> dict:
    rows = frame.filter(**keys).to_dicts()
    assert len(rows) == 1, (keys, rows)
    return rows[0]


def test_enrollments(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    e = built[1]["enrollments"]
    got = e.select("user_id", "course_id", "status", "enrolled_at", "completed_at", "withdrawn_at")
    assert got.rows() == [
        (A, "ds201", "active", datetime(2026, 1, 10, 9), None, None),
        (A, "py101", "completed", datetime(2026, 1, 2, 9), datetime(2026, 1, 8, 12), None),
        (B, "py101", "paused", datetime(2026, 1, 5, 10), None, None),
        (C, "py101", "withdrawn", datetime(2026, 1, 3, 8), None, datetime(2026, 1, 4, 8)),
        (D, "ds201", "active", datetime(2026, 1, 20, 12), None, None),
    ]  # Dan's orphan event in py101 enrolls him in nothing


def test_lesson_progress_every_rule(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    lp = built[1]["lesson_progress"]
    cols = [
        "status",
        "views",
        "completed_at",
        "time_spent_s",
        "tasks_solved",
        "tasks_total",
        "percent_complete",
        "best_score_percent",
    ]
    expected = {
        P + "m1/l1": ("completed", 1, datetime(2026, 1, 2, 9, 1), 60.0, 0, 1, 100.0, None),
        P + "m1/l2": ("completed", 0, datetime(2026, 1, 2, 9, 6), 60.0, 2, 2, 100.0, None),
        # 60 + 10 + 10 + 420 (until the second attempt) + 60 + 10 + 10 + 0 seconds
        P + "m1/q1": ("completed", 0, datetime(2026, 1, 3, 10, 13), 580.0, 2, 2, 100.0, 100.0),
        P + "m2/l3": ("completed", 2, datetime(2026, 1, 5, 8), 350.0, 0, 0, 100.0, None),
        P + "m2/a1": ("completed", 0, datetime(2026, 1, 8, 12), 0.0, 0, 0, 100.0, 80.0),
    }
    for lesson, values in expected.items():
        row = _row(lp, user_id=A, lesson_id=lesson)
        assert tuple(row[c] for c in cols) == values, lesson
    bob_l2 = _row(lp, user_id=B, lesson_id=P + "m1/l2")
    assert (bob_l2["status"], bob_l2["tasks_solved"], bob_l2["percent_complete"]) == (
        "in_progress",
        1,
        50.0,
    )
    # Bob's l1 view lasted until his next event two minutes later
    assert _row(lp, user_id=B, lesson_id=P + "m1/l1")["time_spent_s"] == 120.0


def test_module_progress_sticky_and_moved(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    mp = built[1]["module_progress"]
    m1 = _row(mp, user_id=A, module_id=P + "m1")
    assert m1["completed_at"] == datetime(2026, 1, 3, 10, 13)  # under v1: l1, l2, q1
    assert (m1["status"], m1["new_since_completion"], m1["current_lesson"]) == (
        "completed",
        1,
        P + "m1/l5",
    )
    assert m1["percent_complete"] == pytest.approx(200 / 3)
    assert (m1["points_earned"], m1["points_possible"], m1["weighted_score"]) == (2.0, 3.0, 100.0)
    assert m1["time_spent_s"] == 640.0  # l1 60 + q1 580 (l2 now belongs to m2)
    m2 = _row(mp, user_id=A, module_id=P + "m2")
    assert (m2["completed_at"], m2["percent_complete"], m2["current_lesson"]) == (
        datetime(2026, 1, 8, 12),
        100.0,
        None,
    )
    assert (m2["lessons_completed"], m2["lessons_total"], m2["tasks_completed"]) == (1, 2, 2)
    assert (m2["points_earned"], m2["points_possible"], m2["weighted_score"]) == (82.0, 102.0, 80.0)
    assert mp.filter(user_id=B).height == 2 and mp.filter(user_id=D).height == 1


def test_course_progress(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    cp = built[1]["course_progress"]
    cols = [
        "status",
        "enrollment_status",
        "percent_complete",
        "completed_at",
        "new_since_completion",
        "current_module",
        "current_lesson",
        "estimated_completion_date",
        "time_spent_s",
    ]
    assert tuple(_row(cp, user_id=A, course_id="py101")[c] for c in cols) == (
        "completed",
        "completed",
        80.0,
        datetime(2026, 1, 8, 12),
        1,
        P + "m1",
        P + "m1/l5",
        None,
        1050.0,
    )
    alice = _row(cp, user_id=A, course_id="py101")
    assert alice["weighted_score"] == pytest.approx((10 * 100 + 20 * 80) / 30)
    assert (alice["points_earned"], alice["points_possible"]) == (84.0, 105.0)
    assert (alice["modules_completed"], alice["modules_total"]) == (2, 2)
    assert tuple(_row(cp, user_id=B, course_id="py101")[c] for c in cols) == (
        "in_progress",
        "paused",
        20.0,
        None,
        None,
        P + "m1",
        P + "m1/q1",
        None,
        210.0,
    )
    carol = _row(cp, user_id=C, course_id="py101")
    assert (carol["enrollment_status"], carol["percent_complete"]) == ("withdrawn", 20.0)
    # Dan: one lesson completed in the last 28 days, one left: 28 days from the as-of day
    dan = _row(cp, user_id=D, course_id="ds201")
    assert (dan["percent_complete"], dan["current_lesson"], dan["estimated_completion_date"]) == (
        50.0,
        "ds201/m1/l2",
        date(2026, 3, 10),
    )
    assert cp.height == 5


def test_task_state_and_queue(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    ts = built[1]["task_state"]
    cols = [
        "status",
        "success_count",
        "failure_count",
        "total_tries",
        "total_time_ms",
        "average_time_ms",
        "solved_at",
        "last_quality",
        "next_due_at",
        "queue_priority",
    ]
    # t2's median time over every attempt is 20 s: Bob's 10 s first-try solve is quality 5
    assert tuple(_row(ts, user_id=B, task_id=P + "m1/l2/t2")[c] for c in cols) == (
        "solved",
        1,
        1,
        2,
        40000,
        20000.0,
        datetime(2026, 1, 6, 10),
        5,
        datetime(2026, 1, 7, 10),
        0,
    )
    assert _row(ts, user_id=B, task_id=P + "m1/l2/t3")["next_due_at"] == datetime(2026, 1, 7, 10, 2)
    assert _row(ts, user_id=A, task_id=P + "m1/l2/t2")["last_quality"] == 4  # not under median
    assert _row(ts, user_id=A, task_id=P + "m1/l2/t3")["last_quality"] == 3  # second try
    q = built[1]["task_queue"]
    assert q.select("user_id", "task_id", "queue_rank", "queue_priority").rows() == [
        (A, P + "m1/l2/t3", 1, 2),
        (A, P + "m1/l2/t2", 2, 1),
        (B, P + "m1/l2/t3", 1, 4),
        (B, P + "m1/l2/t2", 2, 0),
    ]  # Carol withdrew: her failed t1 is not queued
    assert q["overdue_days"][0] == pytest.approx(37 + (24 * 60 - 9 * 60 - 6) / (24 * 60))


def test_user_and_path_progress(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    up = built[1]["user_progress"]
    alice = _row(up, user_id=A)
    assert (alice["courses_enrolled"], alice["courses_completed"], alice["courses_active"]) == (
        2,
        1,
        1,
    )
    assert _row(up, user_id=C)["courses_withdrawn"] == 1
    lpp = built[1]["learning_path_progress"]
    assert lpp.select(
        "user_id", "courses_completed", "percent_complete", "current_course"
    ).rows() == [
        (A, 1, 50.0, "ds201"),
        (B, 0, 0.0, "py101"),
        (C, 0, 0.0, "py101"),
        (D, 0, 0.0, "py101"),
    ]


ALL_CHECKS = {c.check_key.name: c for c in checks.registered_checks}
LMS_REGISTRY_BREAKS = all_registry_breaks(LMS_TABLES)


@pytest.mark.parametrize(
    ("name", "sql"), [(n, sql) for n, sqls in LMS_REGISTRY_BREAKS.items() for sql in sqls]
)
def test_each_check_passes_then_fails_on_a_broken_table(
    built: tuple[Path, dict[str, pl.DataFrame]], name: str, sql: str, tmp_path: Path
) -> None:
    check = ALL_CHECKS[name]
    db = tmp_path / "copy.duckdb"
    db.write_bytes(built[0].read_bytes())
    warehouse = WarehouseResource(database=str(db))
    assert check(warehouse=warehouse).passed  # type: ignore[operator]
    con = connect(db)
    con.execute(sql)
    con.close()
    assert not check(warehouse=warehouse).passed  # type: ignore[operator]


def test_every_registered_check_has_breaks() -> None:
    assert set(ALL_CHECKS) == set(LMS_REGISTRY_BREAKS)


# The ingest and queue checks, each with SQL that breaks what it checks.
LMS_BREAKS = {
    "lms_rows_read_balance": "UPDATE lms_ingested_files SET rows_read = rows_read + 1",
    "lms_events_unique_id": "INSERT INTO lms_events SELECT * FROM lms_events LIMIT 1",
    "orphan_events": "UPDATE lms_events SET node_id = node_id || '/gone' WHERE node_id IS NOT NULL",
    "no_rejected_courses": "INSERT INTO course_rejects VALUES ('h', 'courses/x.json', 'x', 1, "
    "'malformed_json', 'not valid JSON')",
    "course_node_counts": "UPDATE course_versions SET node_count = node_count + 1",
    "task_queue_is_due": "UPDATE task_queue SET queue_rank = queue_rank + 1",
}


@pytest.mark.parametrize("name", sorted(LMS_BREAKS))
def test_each_ingest_and_queue_check_fails_on_a_broken_table(
    built: tuple[Path, dict[str, pl.DataFrame]], name: str, tmp_path: Path
) -> None:
    check = getattr(checks, name)
    db = tmp_path / "copy.duckdb"
    db.write_bytes(built[0].read_bytes())
    con = connect(db)
    con.execute(LMS_BREAKS[name])
    con.close()
    assert not check(warehouse=WarehouseResource(database=str(db))).passed


def test_queue_and_ingest_checks_pass(built: tuple[Path, dict[str, pl.DataFrame]]) -> None:
    warehouse = WarehouseResource(database=str(built[0]))
    for check in (
        checks.task_queue_is_due,
        checks.lms_rows_read_balance,
        checks.lms_events_unique_id,
        checks.course_node_counts,
    ):
        assert check(warehouse=warehouse).passed, check


NODES = {
    "lesson_viewed": [P + "m1/l1", P + "m1/l2", P + "m2/l3", P + "m1/l5"],
    "lesson_completed": [P + "m2/l4", P + "m1/l1"],
    "task_attempted": [P + "m1/l1/t1", P + "m1/l2/t2", P + "m1/l2/t3"],
    "question_answered": [P + "m1/q1/a", P + "m1/q1/b"],
    "quiz_submitted": [P + "m1/q1"],
    "assignment_graded": [P + "m2/a1"],
    "enrolled": [None],
    "paused": [None],
    "unenrolled": [None],
}


@st.composite
def event_rows(draw: st.DrawFn) -> list[dict]:
    rows = []
    for i in range(draw(st.integers(1, 40))):
        etype = draw(st.sampled_from(sorted(NODES)))
        score = draw(st.integers(0, 1))
        rows.append(
            {
                "event_id": f"e{i}",
                "user_id": draw(st.sampled_from([A, B, C])),
                "course_id": "py101",
                "type": etype,
                "occurred_at": datetime(2026, 1, 1) + timedelta(hours=draw(st.integers(0, 900))),
                "node_id": draw(st.sampled_from(NODES[etype])),
                "session_id": None,
                "duration_ms": draw(st.none() | st.integers(0, 600_000)),
                "tries": draw(st.integers(1, 3)),
                "time_spent_ms": draw(st.integers(0, 100_000)),
                "solved": draw(st.booleans()),
                "score": float(score),
                "max_score": 1.0,
                "attempt_id": draw(st.sampled_from(["x", "y"])),
                "correct": bool(score),
            }
        )
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=event_rows())
def test_invariants_hold_for_any_history(
    built: tuple[Path, dict[str, pl.DataFrame]], rows: list[dict]
) -> None:
    con = connect(built[0])
    inputs = read_lms_inputs(con, AS_OF)
    con.close()
    events = pl.DataFrame(
        rows,
        schema_overrides={
            "node_id": pl.String,
            "session_id": pl.String,
            "duration_ms": pl.Int64,
            "tries": pl.Int32,
            "time_spent_ms": pl.Int64,
            "occurred_at": pl.Datetime("us"),
        },
    )
    tables = build_lms_progress(
        LmsInputs(inputs.versions, inputs.nodes, events, inputs.paths), AS_OF
    )
    for registered in LMS_TABLES:
        table = registered.name
        frame = tables[table]
        assert frame.select(registered.key).is_duplicated().sum() == 0, table
        for column in registered.percents:
            assert frame.filter(~pl.col(column).is_between(0, 100)).height == 0, (table, column)
        for done, total in registered.completed_le_total:
            assert frame.filter(pl.col(done) > pl.col(total)).height == 0, (table, done)
        if registered.statuses:
            assert set(frame["status"]) <= set(registered.statuses), table


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 2), st.integers(0, 2), st.integers(0, 4)),
        max_size=40,
    ),
    packed=st.booleans(),
)
def test_row_order_is_a_sort_on_every_key_then_the_tiebreak(
    rows: list[tuple[int, int, int, int]], packed: bool
) -> None:
    """`row_order` (leading integer keys packed into one, stable sorts per key, ties ordered
    on the tiebreak) gives the row order of one sort on every key and then the tiebreak."""
    from transforms.lms.activity import row_order

    frame = pl.DataFrame(
        {
            "a": [r[0] for r in rows],
            "b": [r[1] for r in rows],
            "c": [r[2] for r in rows],
            "at": [datetime(2026, 1, 1) + timedelta(minutes=r[3]) for r in rows],
            # unique tiebreaks, in no order related to the rows'
            "tiebreak": [f"{(i * 7919) % 101:03d}-{i}" for i in range(len(rows))],
        },
        schema_overrides={"a": pl.UInt32, "b": pl.UInt32, "c": pl.UInt32},
    )
    keys = ["a", "b", "c", "at"] if packed else ["a", "at"]
    want = frame.with_row_index("_i").sort([*keys, "tiebreak"])["_i"]
    assert row_order(frame, keys, frame["tiebreak"].gather).to_list() == want.to_list()
