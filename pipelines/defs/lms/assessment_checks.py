"""Data-quality checks on the course-platform assessment tables."""

import dagster as dg

from pipelines.defs.check_helpers import offending_rows_check, one_row_per_key_check
from pipelines.defs.resources import WarehouseResource
from transforms.lms.quizzes import ATTEMPT_STATUSES

ASSESSMENT_KEYS = {
    "quiz_attempts": ["user_id", "quiz_id", "attempt_id"],
}
unique_checks = [one_row_per_key_check(t, k) for t, k in ASSESSMENT_KEYS.items()]


@dg.asset_check(asset="quiz_attempts", blocking=True)
def quiz_attempts_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each attempt's counts add up (answered + unanswered = questions, correct + incorrect =
    answered, none negative), its score is 0..100, its status is known, a completed attempt
    has its submit time, and attempt numbers run 1..n per learner and quiz."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, quiz_id, attempt_id, status, questions, answered, correct, incorrect,
               unanswered, score_percent, attempt_number
        FROM (SELECT *, row_number() OVER (
                  PARTITION BY user_id, quiz_id ORDER BY started_at, attempt_id) AS expected
              FROM quiz_attempts)
        WHERE answered + unanswered <> questions OR correct + incorrect <> answered
           OR least(answered, unanswered, correct, incorrect) < 0
           OR NOT (coalesce(score_percent, 0) BETWEEN 0 AND 100)
           OR status IS NULL OR NOT list_contains(?, status)
           OR (status = 'completed') <> (completed_at IS NOT NULL)
           OR attempt_number <> expected
        """,
        "attempt counts add up, scores within 0..100, statuses known, numbers 1..n",
        params=[list(ATTEMPT_STATUSES)],
    )
