"""The assessment tables of lms.md section 3 (quiz attempts, quiz and item statistics,
assignment submissions, task statistics) from the same inputs as the progress tables."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.lms.activity import timed_events
from transforms.lms.assignments import assignment_submissions
from transforms.lms.progress import LmsInputs
from transforms.lms.quiz_stats import quiz_statistics
from transforms.lms.quizzes import last_answers, quiz_attempts, quiz_questions
from transforms.lms.tree import node_attributes, versions_as_of

ASSESSMENT_TABLES: tuple[str, ...] = (
    "quiz_attempts",
    "quiz_stats",
    "quiz_item_stats",
    "assignment_submissions",
)


def build_assessment_tables(inputs: LmsInputs, as_of: datetime) -> dict[str, pl.DataFrame]:
    """Every assessment table, keyed by its warehouse name, as of `as_of` (events after it are
    left out; orphan events are ignored, as by progress)."""
    in_force = versions_as_of(inputs.versions, as_of)
    attrs = node_attributes(inputs.nodes, in_force)
    courses = in_force["course_id"].unique().to_list()
    events = timed_events(inputs.events.filter(pl.col("occurred_at") <= as_of), attrs, courses)
    questions = quiz_questions(inputs.nodes, attrs)
    attempts = quiz_attempts(events, attrs, questions, as_of)
    quiz, items = quiz_statistics(attempts, last_answers(events), questions)
    return {
        "quiz_attempts": attempts,
        "quiz_stats": quiz,
        "quiz_item_stats": items,
        "assignment_submissions": assignment_submissions(events, attrs),
    }
