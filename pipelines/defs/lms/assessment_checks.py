"""Data-quality checks on the course-platform assessment tables."""

import dagster as dg

from pipelines.defs.check_helpers import offending_rows_check, registry_checks
from pipelines.defs.resources import WarehouseResource
from transforms.lms.assessment import ASSESSMENT_TABLES
from transforms.lms.quiz_stats import BASES, MIN_FLAG_ATTEMPTS

# one row per key, scores in 0..100, facility in [0, 1], statuses, task counts that nest: as
# the registry declares (transforms/lms/assessment.py)
registered_checks = registry_checks(ASSESSMENT_TABLES)


@dg.asset_check(asset="quiz_attempts", blocking=True)
def quiz_attempts_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each attempt's counts add up (answered + unanswered = questions, correct + incorrect =
    answered, none negative), a completed attempt has its submit time, and attempt numbers run
    1..n per learner and quiz."""
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
           OR (status = 'completed') <> (completed_at IS NOT NULL)
           OR attempt_number <> expected
        """,
        "attempt counts add up, completed attempts submitted, numbers 1..n",
    )


@dg.asset_check(asset="quiz_stats", blocking=True)
def quiz_stats_counts_and_ranges(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each quiz with questions scored (in `quiz_item_stats`): its `all` basis counts its
    completed attempts and `first`/`highest`/`last` its learners with one; the basis is known,
    sd ≥ 0 and alpha ≤ 1."""
    return offending_rows_check(
        warehouse,
        """
        WITH done AS (
            SELECT quiz_id, count(*) AS attempts, count(DISTINCT user_id) AS learners
            FROM quiz_attempts WHERE status = 'completed'
              AND quiz_id IN (SELECT quiz_id FROM quiz_item_stats) GROUP BY 1),
        expected AS (
            SELECT quiz_id, basis,
                   CASE WHEN basis = 'all' THEN attempts ELSE learners END AS expected_n
            FROM done CROSS JOIN (SELECT unnest(?::VARCHAR[]) AS basis))
        SELECT quiz_id, basis, s.n, e.expected_n, s.mean, s.sd, s.cronbach_alpha
        FROM quiz_stats s FULL JOIN expected e USING (quiz_id, basis)
        WHERE s.n IS DISTINCT FROM e.expected_n
           OR s.sd < 0 OR s.cronbach_alpha > 1 + 1e-9
        """,
        "n matches the completed attempts, statistics within their ranges",
        params=[list(BASES)],
    )


@dg.asset_check(asset="quiz_item_stats", blocking=True)
def quiz_item_stats_ranges(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """sd ≥ 0, discrimination index within −100..100, efficiency ≤ 100,
    the answer distribution adds up to n, and no flag on fewer than 30 attempts."""
    return offending_rows_check(
        warehouse,
        """
        SELECT quiz_id, question_id, basis, n, facility, discrimination_index,
               discriminative_efficiency, flags
        FROM quiz_item_stats
        WHERE sd < 0
           OR abs(discrimination_index) > 100 + 1e-9 OR discriminative_efficiency > 100 + 1e-9
           OR full_credit + partial_credit + no_credit + unanswered <> n
           OR (flags IS NOT NULL AND n < ?)
        """,
        "item statistics within their ranges, flags only with enough attempts",
        params=[MIN_FLAG_ATTEMPTS],
    )


@dg.asset_check(asset="assignment_submissions", blocking=True)
def assignment_submissions_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Graded exactly when a grade time is there, `late` given exactly when the submission
    time is, and hours to grade = graded − submitted."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, assignment_id, submission_id, status, submitted_at, graded_at,
               score_percent, late, hours_to_grade
        FROM assignment_submissions
        WHERE (status = 'graded') <> (graded_at IS NOT NULL)
           OR (late IS NULL) <> (submitted_at IS NULL)
           OR abs(coalesce(hours_to_grade, 0)
                  - coalesce(epoch(graded_at - submitted_at) / 3600, 0)) > 1e-6
        """,
        "grades, lateness and grading times consistent",
    )


@dg.asset_check(asset="task_stats", blocking=True)
def task_stats_rates_within_intervals(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each rate within its Wilson interval inside 0..1 (the counts' nesting is the
    registry's `completed_le_total`)."""
    rates = ["first_try_solve_rate", "eventual_solve_rate", "recall_after_gap"]
    inside = " OR ".join(
        f"NOT (coalesce({r}_low, 0) BETWEEN 0 AND coalesce({r}, 0) "
        f"AND coalesce({r}, 0) BETWEEN coalesce({r}_low, 0) AND coalesce({r}_high, 1) "
        f"AND coalesce({r}_high, 1) <= 1)"
        for r in rates
    )
    return offending_rows_check(
        warehouse,
        f"""
        SELECT course_id, item_id, {", ".join(rates)}
        FROM task_stats
        WHERE {inside}
        """,
        "rates within their intervals and 0..1",
    )
