"""The language app as a course: level → module, group → lesson, word → task solved when learned."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from transforms.lms.language import (
    attempt_events,
    card_states,
    language_nodes,
    language_versions,
    learned_solves,
)
from transforms.lms.progress import LmsInputs, build_lms_progress

U = "00000000-0000-4000-8000-0000000000ee"


def _words() -> pl.DataFrame:
    rows = [
        (1, "g1", "a", 1),
        (1, "g1", "b", 2),
        (1, "g2", "c", 3),
        (2, "g3", "d", 4),
    ]
    return pl.DataFrame(
        [
            {
                "language": "en",
                "version": 1,
                "word_uid": f"en:{g}:{w}",
                "level": lvl,
                "level_title": f"Level {lvl}",
                "group_uid": g,
                "group_title": g.upper(),
                "position": pos,
                "text": w,
                "translation": None,
            }
            for lvl, g, w, pos in rows
        ]
    )


def test_manifest_becomes_a_course_tree() -> None:
    nodes = language_nodes(_words())
    assert nodes.select("node_id", "kind", "module_id", "lesson_id", "position").rows() == [
        ("lang:en/L1", "module", "lang:en/L1", None, 1),
        ("lang:en/g1", "lesson", "lang:en/L1", "lang:en/g1", 2),
        ("en:g1:a", "task", "lang:en/L1", "lang:en/g1", 3),
        ("en:g1:b", "task", "lang:en/L1", "lang:en/g1", 4),
        ("lang:en/g2", "lesson", "lang:en/L1", "lang:en/g2", 5),
        ("en:g2:c", "task", "lang:en/L1", "lang:en/g2", 6),
        ("lang:en/L2", "module", "lang:en/L2", None, 7),
        ("lang:en/g3", "lesson", "lang:en/L2", "lang:en/g3", 8),
        ("en:g3:d", "task", "lang:en/L2", "lang:en/g3", 9),
    ]
    assert set(nodes.filter(kind="lesson")["rule"]) == {"all_tasks_solved"}


def test_language_learner_progress_counts_learned_words() -> None:
    versions = language_versions(
        pl.DataFrame(
            {
                "language": ["en"],
                "version": [1],
                "published_at": [datetime(2026, 1, 1)],
                "in_force_until": [None],
                "word_count": [4],
                "content_hash": ["h"],
                "source": ["en.json"],
            }
        )
    )
    t = [datetime(2026, 1, 2, 9, m) for m in range(4)]
    attempts = pl.DataFrame(
        {
            "uuid_local": [f"u{i}" for i in range(4)],
            "user_id": [U] * 4,
            "language": ["en"] * 4,
            "word_uid": ["en:g1:a", "en:g1:b", "en:g2:c", "en:g2:c"],
            "correct": [True, True, True, False],
            "response_time_ms": [2000] * 4,
            "attempted_at": t,
            "session_id": [None] * 4,
        }
    )
    # a and b learned (last review passed); c answered right once but its last review failed
    reviews = pl.DataFrame(
        {
            "user_id": [U] * 4,
            "language": ["en"] * 4,
            "word_uid": ["en:g1:a", "en:g1:b", "en:g2:c", "en:g2:c"],
            "reviewed_at": t,
            "quality": [5, 4, 5, 1],
            "review_index": [1, 1, 1, 2],
            # the SM-2 replay's state after each review (passed through to task_state)
            "ef_after": [2.6, 2.5, 2.6, 1.8],
            "interval_days": [1.0, 1.0, 1.0, 1.0],
            "due_at": [x + timedelta(days=1) for x in t],
        }
    )
    solves = learned_solves(reviews, pass_quality=3).select("user_id", "item_id", "solved_at")
    inputs = LmsInputs(
        versions=versions,
        nodes=language_nodes(_words()),
        events=attempt_events(attempts),
        paths=pl.DataFrame(
            schema={"path_id": pl.String, "position": pl.Int32, "course_id": pl.String}
        ),
        solves=solves,
        cards=card_states(reviews),
    )
    tables = build_lms_progress(inputs, datetime(2026, 1, 10))
    lessons = tables["lesson_progress"].select(
        "lesson_id", "status", "tasks_solved", "tasks_total", "completed_at"
    )
    assert lessons.rows() == [
        ("lang:en/g1", "completed", 2, 2, t[1]),
        ("lang:en/g2", "in_progress", 0, 1, None),
    ]
    course = tables["course_progress"].row(0, named=True)
    assert course["course_id"] == "lang:en"
    assert course["percent_complete"] == pytest.approx(100 / 3)  # 1 of 3 lessons
    assert course["current_lesson"] == "lang:en/g2"
    assert (course["tasks_completed"], course["tasks_total"]) == (2, 4)
    assert tables["enrollments"]["status"].to_list() == ["active"]
    # word = task: attempts counted (c: one right, one wrong), solved when learned (a, b),
    # the queue from the SM-2 card: priority 5 - the last review's quality (a 5, b 4, c 1)
    state = tables["task_state"].select(
        "task_id",
        "lesson_id",
        "status",
        "success_count",
        "failure_count",
        "total_tries",
        "total_time_ms",
        "solved_at",
        "easiness",
        "next_due_at",
        "queue_priority",
    )
    day = timedelta(days=1)
    assert state.rows() == [
        ("en:g1:a", "lang:en/g1", "solved", 1, 0, 1, 2000, t[0], 2.6, t[0] + day, 0),
        ("en:g1:b", "lang:en/g1", "solved", 1, 0, 1, 2000, t[1], 2.5, t[1] + day, 1),
        ("en:g2:c", "lang:en/g2", "in_progress", 1, 1, 2, 4000, None, 1.8, t[3] + day, 4),
    ]
    # all three due by Jan 10: the failed word first, then by priority
    queue = tables["task_queue"]
    assert queue.select("course_id", "task_id", "queue_rank").rows() == [
        ("lang:en", "en:g2:c", 1),
        ("lang:en", "en:g1:b", 2),
        ("lang:en", "en:g1:a", 3),
    ]
