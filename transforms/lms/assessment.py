"""The assessment tables of lms.md section 3 (quiz attempts, quiz and item statistics,
assignment submissions, task statistics) from the same inputs as the progress tables."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property

import polars as pl

from transforms.lms.assignments import SUBMISSION_STATUSES, assignment_submissions
from transforms.lms.progress import CourseParts, LmsInputs
from transforms.lms.quiz_stats import quiz_statistics
from transforms.lms.quizzes import ATTEMPT_STATUSES, last_answers, quiz_attempts, quiz_questions
from transforms.lms.task_stats import task_stats
from transforms.registry import MetricTable, build_all


class AssessmentParts(CourseParts):
    """What the assessment tables' builders share: the course platform as of (`CourseParts`)
    and the quizzes' questions, attempts and statistics (each computed once, when first
    used)."""

    @cached_property
    def questions(self) -> pl.DataFrame:
        return quiz_questions(self.inputs.nodes, self.attrs)

    @cached_property
    def attempts(self) -> pl.DataFrame:
        return quiz_attempts(self.events, self.attrs, self.questions, self.as_of)

    @cached_property
    def statistics(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(quiz_stats, quiz_item_stats)."""
        return quiz_statistics(self.attempts, last_answers(self.events), self.questions)


ASSESSMENT_TABLES: tuple[MetricTable[AssessmentParts], ...] = (
    MetricTable(
        "quiz_attempts",
        "One row per (user_id, quiz_id, attempt_id) with any event of the attempt.",
        lambda p: p.attempts,
        key=("user_id", "quiz_id", "attempt_id"),
        percents=("score_percent",),
        statuses=ATTEMPT_STATUSES,
    ),
    MetricTable(
        "quiz_stats",
        "One row per (quiz_id, basis) with a completed attempt: Moodle's quiz statistics over "
        "the first/highest/last/all completed attempts.",
        lambda p: p.statistics[0],
        key=("quiz_id", "basis"),
        percents=("mean", "median"),
    ),
    MetricTable(
        "quiz_item_stats",
        "One row per (quiz_id, question_id, basis) of a quiz with a completed attempt: "
        "facility, discrimination, efficiency, flags in words.",
        lambda p: p.statistics[1],
        key=("quiz_id", "question_id", "basis"),
        proportions=("facility",),
    ),
    MetricTable(
        "assignment_submissions",
        "One row per (user_id, assignment_id, submission_id) submitted or graded: late against "
        "dueAt/dueOffsetDays, hours to grade.",
        lambda p: assignment_submissions(p.events, p.attrs),
        key=("user_id", "assignment_id", "submission_id"),
        percents=("score_percent",),
        statuses=SUBMISSION_STATUSES,
    ),
    MetricTable(
        "task_stats",
        "One row per (course_id, item_id) attempted, a task or a question: first-try and "
        "eventual solve rates, tries to solve, median time, recall after a 7-day gap (Wilson "
        "intervals).",
        lambda p: task_stats(p.events),
        key=("course_id", "item_id"),
        completed_le_total=(
            ("first_try_solvers", "solvers"),
            ("solvers", "learners"),
            ("learners", "attempts"),
            ("recall_solved", "recall_attempts"),
        ),
    ),
)


def build_assessment_tables(inputs: LmsInputs, as_of: datetime) -> dict[str, pl.DataFrame]:
    """Every assessment table, keyed by its warehouse name, as of `as_of` (events after it are
    left out; orphan events are ignored, as by progress)."""
    return build_all(ASSESSMENT_TABLES, AssessmentParts(inputs, as_of))
