"""Badge rules: parsing and rejects, every rule type on a hand-made history (streaks across UTC
midnight included), all_of/any_of, and stickiness."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.lms.badges import (
    AWARD_SCHEMA,
    BadgeFacts,
    evaluate_badges,
    merge_awards,
    parse_badge_rules,
    rule_held,
)

U, V, W = "u", "v", "w"
T0 = datetime(2026, 3, 1)


def _events(rows: list[tuple]) -> pl.DataFrame:
    """(user, occurred_at, type, node, tries, time_spent_ms, solved) rows."""
    return pl.DataFrame(
        [
            {
                "user_id": u,
                "course_id": "c",
                "type": t,
                "occurred_at": at,
                "node_id": n,
                "tries": tries,
                "time_spent_ms": ms,
                "solved": ok,
                "event_id": f"e{i}",
            }
            for i, (u, at, t, n, tries, ms, ok) in enumerate(rows)
        ],
        schema={
            "user_id": pl.String,
            "course_id": pl.String,
            "type": pl.String,
            "occurred_at": pl.Datetime("us"),
            "node_id": pl.String,
            "tries": pl.Int32,
            "time_spent_ms": pl.Int64,
            "solved": pl.Boolean,
            "event_id": pl.String,
        },
    )


def _frame(rows: list[tuple], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=columns, orient="row")


def facts(events: list[tuple] | None = None, **frames: pl.DataFrame) -> BadgeFacts:
    empty = {
        "modules": _frame([], ["user_id", "module_id", "completed_at"]),
        "courses": _frame([], ["user_id", "course_id", "completed_at"]),
        "lessons": _frame([], ["user_id", "lesson_id", "completed_at"]),
        "quizzes": _frame([], ["user_id", "quiz_id", "submitted_at", "score_percent"]),
        "competencies": _frame([], ["user_id", "competency_id", "acquired_at"]),
        "words": _frame([], ["user_id", "item_id", "solved_at"]),
    }
    empty.update(frames)
    for k, f in empty.items():
        at = next(c for c in f.columns if c.endswith("_at"))
        empty[k] = f.cast({at: pl.Datetime("us"), "user_id": pl.String})
    return BadgeFacts(events=_events(events or []), **empty)


def held(f: BadgeFacts, rule: dict) -> list[tuple]:
    return sorted(rule_held(f, rule).rows())


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def test_streak_counts_utc_days_across_midnight() -> None:
    view = "lesson_viewed"
    f = facts(
        [
            # u: 23:59 on day 0, 00:01 on day 1 (two minutes apart, two UTC days), day 2 noon
            (U, at(0, 23, 59), view, "n", None, None, None),
            (U, at(1, 0, 1), view, "n", None, None, None),
            (U, at(1, 8), view, "n", None, None, None),
            (U, at(2, 12), view, "n", None, None, None),
            # v: 00:01 day 0 and 23:59 day 1 (48 h apart, still consecutive), then a gap day
            (V, at(0, 0, 1), view, "n", None, None, None),
            (V, at(1, 23, 59), view, "n", None, None, None),
            (V, at(3, 10), view, "n", None, None, None),
            (V, at(4, 10), view, "n", None, None, None),
            # w: 23:00 on day 0 and 01:00 on day 2 (26 h apart): day 1 has nothing
            (W, at(0, 23), view, "n", None, None, None),
            (W, at(2, 1), view, "n", None, None, None),
        ]
    )
    # 2 days: u at the first event of day 1 (00:01), v at day 1 23:59; w never
    assert held(f, {"type": "streak", "days": 2}) == [(U, at(1, 0, 1)), (V, at(1, 23, 59))]
    # 3 days: only u (days 0, 1, 2), at day 2's first event; v's runs are 2 and 2
    assert held(f, {"type": "streak", "days": 3}) == [(U, at(2, 12))]
    assert held(f, {"type": "streak", "days": 1}) == [
        (U, at(0, 23, 59)),
        (V, at(0, 0, 1)),
        (W, at(0, 23)),
    ]


def test_daily_counts_distinct_tasks_solved_in_one_utc_day() -> None:
    task = "task_attempted"
    f = facts(
        [
            (U, at(0, 22), task, "t1", 1, 1000, True),
            (U, at(0, 23), task, "t1", 1, 1000, True),  # the same task again: still one
            (U, at(0, 23, 30), task, "t2", 1, 1000, False),  # not solved
            (U, at(1, 0, 10), task, "t2", 2, 1000, True),  # next UTC day
            (V, at(2, 9), task, "t1", 1, 1000, True),
            (V, at(2, 10), task, "t2", 1, 1000, True),
            (V, at(2, 11), task, "t3", 3, 1000, True),
        ]
    )
    assert held(f, {"type": "daily", "tasks": 2}) == [(V, at(2, 10))]
    assert held(f, {"type": "daily", "tasks": 3}) == [(V, at(2, 11))]
    assert held(f, {"type": "daily", "tasks": 1}) == [(U, at(0, 22)), (V, at(2, 9))]


def test_speed_is_a_first_try_solve_under_the_limit() -> None:
    task = "task_attempted"
    f = facts(
        [
            (U, at(0, 1), task, "t1", 2, 500, True),  # second try
            (U, at(0, 2), task, "t1", 1, 5000, True),  # not under 5000 ms
            (U, at(0, 3), task, "t2", 1, 900, False),  # not solved
            (U, at(0, 4), task, "t3", 1, 4999, True),  # this one
            (V, at(0, 5), task, "t3", 1, 10, True),
        ]
    )
    assert held(f, {"type": "speed", "ms": 5000}) == [(U, at(0, 4)), (V, at(0, 5))]


def test_completion_counts_scores_competencies_and_words() -> None:
    f = facts(
        modules=_frame(
            [(U, "c/m1", at(1)), (U, "c/m2", at(3)), (V, "c/m2", at(2)), (W, "c/m1", None)],
            ["user_id", "module_id", "completed_at"],
        ),
        courses=_frame(
            [(U, "c", at(5)), (V, "d", at(4))], ["user_id", "course_id", "completed_at"]
        ),
        lessons=_frame(
            [(U, "l1", at(0)), (U, "l2", at(2)), (U, "l3", at(1)), (V, "l1", at(0))],
            ["user_id", "lesson_id", "completed_at"],
        ),
        quizzes=_frame(
            [(U, "q1", at(1), 50.0), (U, "q1", at(2), 80.0), (V, "q2", at(1), 90.0)],
            ["user_id", "quiz_id", "submitted_at", "score_percent"],
        ),
        competencies=_frame(
            [(U, "arith", at(4)), (V, "logic", at(2)), (W, "arith", None)],
            ["user_id", "competency_id", "acquired_at"],
        ),
        words=_frame(
            [(U, "w1", at(1)), (U, "w2", at(3)), (V, "w1", at(2))],
            ["user_id", "item_id", "solved_at"],
        ),
    )
    assert held(f, {"type": "module_completed"}) == [(U, at(1)), (V, at(2))]
    assert held(f, {"type": "module_completed", "moduleId": "c/m2"}) == [(U, at(3)), (V, at(2))]
    assert held(f, {"type": "course_completed", "courseId": "d"}) == [(V, at(4))]
    assert held(f, {"type": "course_completed"}) == [(U, at(5)), (V, at(4))]
    # the 2nd lesson in time: l3 on day 1
    assert held(f, {"type": "lessons_completed", "count": 2}) == [(U, at(1))]
    assert held(f, {"type": "quiz_score", "minPercent": 80}) == [(U, at(2)), (V, at(1))]
    assert held(f, {"type": "quiz_score", "minPercent": 80, "quizId": "q1"}) == [(U, at(2))]
    assert held(f, {"type": "competency_mastered"}) == [(U, at(4)), (V, at(2))]
    assert held(f, {"type": "competency_mastered", "competencyId": "arith"}) == [(U, at(4))]
    assert held(f, {"type": "words_learned", "count": 2}) == [(U, at(3))]
    # all_of: the latest of its children; any_of: the earliest; nested
    both = {
        "type": "all_of",
        "rules": [{"type": "module_completed"}, {"type": "words_learned", "count": 1}],
    }
    assert held(f, both) == [(U, at(1)), (V, at(2))]
    nested = {
        "type": "any_of",
        "rules": [
            {"type": "course_completed", "courseId": "c"},
            {"type": "all_of", "rules": [{"type": "quiz_score", "minPercent": 90}, both]},
        ],
    }
    assert held(f, nested) == [(U, at(5)), (V, at(2))]
    never = {
        "type": "all_of",
        "rules": [
            {"type": "words_learned", "count": 2},
            {"type": "course_completed", "courseId": "d"},
        ],
    }
    assert held(f, never) == []  # U has the words, V the course: nobody both


GOOD = {
    "code": "first-module",
    "name": "First module",
    "description": "Complete any module",
    "points": 10,
    "active": True,
    "rule": {"type": "module_completed"},
}


def test_bad_rules_are_rejected_with_their_reason_and_the_rest_apply() -> None:
    docs = [
        ("a.json", json.dumps(GOOD)),
        ("b.json", '{"code": "x", '),
        (
            "c.json",
            json.dumps(
                [
                    {**GOOD, "code": "streak-7", "rule": {"type": "streak", "days": 7}},
                    {**GOOD, "code": "liked", "rule": {"type": "likes", "count": 3}},
                    {**GOOD, "code": "no-days", "rule": {"type": "streak"}},
                    {**GOOD, "code": "bad-days", "rule": {"type": "streak", "days": "7"}},
                    {**GOOD, "code": "typo", "rule": {"type": "module_completed", "moduleID": "m"}},
                    {**GOOD, "code": "first-module"},
                    {
                        **GOOD,
                        "code": "nested",
                        "rule": {"type": "all_of", "rules": [{"type": "nope"}]},
                    },
                    {**GOOD, "code": "empty", "rule": {"type": "any_of", "rules": []}},
                    {"code": "no-name", "rule": {"type": "speed", "ms": 100}},
                    {**GOOD, "code": "active", "active": "yes"},
                    "not an object",
                ]
            ),
        ),
    ]
    rules, rejects = parse_badge_rules(docs)
    assert rules["badge_code"].to_list() == ["first-module", "streak-7"]
    assert rejects.select("source", "item", "badge_code", "reason").rows() == [
        ("b.json", 0, None, "malformed_json"),
        ("c.json", 1, "liked", "unknown_rule_type"),
        ("c.json", 2, "no-days", "invalid_structure"),
        ("c.json", 3, "bad-days", "invalid_structure"),
        ("c.json", 4, "typo", "invalid_structure"),
        ("c.json", 5, "first-module", "duplicate_badge_code"),
        ("c.json", 6, "nested", "unknown_rule_type"),
        ("c.json", 7, "empty", "invalid_structure"),
        ("c.json", 8, "no-name", "invalid_structure"),
        ("c.json", 9, "active", "invalid_structure"),
        ("c.json", 10, None, "invalid_structure"),
    ]
    assert all(rejects["message"].str.len_chars() > 0)


def test_awards_are_sticky_and_never_twice() -> None:
    modules = _frame([(U, "m1", at(1)), (V, "m1", at(2))], ["user_id", "module_id", "completed_at"])
    f = facts(modules=modules)
    rules, _ = parse_badge_rules([("a.json", json.dumps(GOOD))])
    first = evaluate_badges(rules, f)
    assert first.select("user_id", "badge_code", "awarded_at", "points").rows() == [
        (U, "first-module", at(1), 10.0),
        (V, "first-module", at(2), 10.0),
    ]
    # recomputing from the same history gives the same awards
    assert merge_awards(first, evaluate_badges(rules, f)).equals(first)
    # the history changes (u's completion gone, w's new, v's a day later): u keeps the award,
    # w gets one, v keeps its own and its time
    later = facts(modules=_frame([(V, "m1", at(3)), (W, "m1", at(3))], list(modules.columns)))
    merged = merge_awards(first, evaluate_badges(rules, later))
    assert merged.select("user_id", "awarded_at").rows() == [(U, at(1)), (V, at(2)), (W, at(3))]
    # a late-arriving event shows v's rule held earlier: the award moves to that time
    late = facts(modules=_frame([(V, "m1", at(0))], list(modules.columns)))
    moved = merge_awards(merged, evaluate_badges(rules, late))
    assert moved.select("user_id", "awarded_at").rows() == [(U, at(1)), (V, at(0)), (W, at(3))]
    # the rule deactivated: every stored award stays
    off = rules.with_columns(pl.lit(False).alias("active"))
    assert merge_awards(moved, evaluate_badges(off, later)).equals(moved)
    assert evaluate_badges(off, later).schema == pl.Schema(AWARD_SCHEMA)


@settings(max_examples=30, deadline=None)
@given(
    days=st.lists(st.integers(0, 20), min_size=1, max_size=15),
    need=st.integers(1, 5),
)
def test_streak_matches_a_day_by_day_count(days: list[int], need: int) -> None:
    f = facts([(U, at(d, 12), "lesson_viewed", "n", None, None, None) for d in days])
    got = held(f, {"type": "streak", "days": need})
    run, expected = 0, None
    for d in range(0, 21):
        run = run + 1 if d in days else 0
        if run >= need:
            expected = at(d, 12)
            break
    assert got == ([(U, expected)] if expected else [])


RULES = [
    {"code": "s2", "name": "s2", "rule": {"type": "streak", "days": 2}},
    {"code": "d2", "name": "d2", "rule": {"type": "daily", "tasks": 2}},
    {"code": "fast", "name": "fast", "rule": {"type": "speed", "ms": 3000}},
    {
        "code": "mix",
        "name": "mix",
        "rule": {
            "type": "any_of",
            "rules": [
                {
                    "type": "all_of",
                    "rules": [{"type": "streak", "days": 3}, {"type": "speed", "ms": 5000}],
                },
                {"type": "daily", "tasks": 3},
            ],
        },
    },
]


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from([U, V]),
            st.integers(0, 7 * 24 * 60),  # minutes into the week
            st.sampled_from(["t1", "t2", "t3"]),
            st.integers(1, 3),
            st.integers(0, 8000),
            st.booleans(),
        ),
        max_size=40,
    ),
    cut=st.integers(0, 7 * 24 * 60),
)
def test_a_prefix_of_the_history_awards_a_subset_at_the_same_times(
    rows: list[tuple], cut: int
) -> None:
    """Awards are facts of the past: the history up to any moment awards exactly the awards of
    the whole history made by then (so a new day adds only its own), and recomputing gives the
    same frame."""
    events = [
        (u, at(0, 0, m), "task_attempted", n, tries, ms, ok) for u, m, n, tries, ms, ok in rows
    ]
    rules, rejects = parse_badge_rules([("r.json", json.dumps(RULES))])
    assert rejects.height == 0
    whole = evaluate_badges(rules, facts(events))
    prefix = evaluate_badges(rules, facts([e for e in events if e[1] <= at(0, 0, cut)]))
    assert prefix.equals(whole.filter(pl.col("awarded_at") <= at(0, 0, cut)))
    assert evaluate_badges(rules, facts(events)).equals(whole)
    assert merge_awards(prefix, whole).equals(whole)
