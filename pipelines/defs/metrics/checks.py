"""Checks that catch real errors in the analytics tables."""

import dagster as dg

from pipelines.defs.check_helpers import offending_rows_check, one_row_per_key_check
from pipelines.defs.resources import WarehouseResource
from transforms.metrics.status import STATUSES

PROPORTIONS = {
    "accuracy_daily": ["accuracy"],
    "accuracy_by_step": ["accuracy", "accuracy_low", "accuracy_high"],
    "word_difficulty": ["accuracy", "first_review_pass_rate", "lapse_rate"],
    "true_retention": ["true_retention", "true_retention_low", "true_retention_high"],
    "forgetting_curve": ["recall_rate", "recall_rate_low", "recall_rate_high", "mean_p_recall"],
    "cohort_retention": ["retention", "retention_low", "retention_high", "retention_on_or_after"],
    "user_language_progress": ["accuracy", "true_retention"],
    "at_risk_learners": ["risk", "true_retention_14d"],
    "at_risk_backtest": [
        "base_rate",
        "auc",
        "precision",
        "recall",
        "rules_precision",
        "rules_recall",
        "rules_auc",
    ],
}
KEYS = {
    "learner_status": ["user_id", "course"],
    "at_risk_learners": ["user_id", "course"],
    "at_risk_backtest": ["snapshot_day"],
}
AS_OF = "(SELECT as_of FROM sm2_params_used)"


def _proportion_check(table: str, columns: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_proportions_in_unit_interval", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outside = " OR ".join(f'NOT ("{c}" BETWEEN 0 AND 1)' for c in columns)
        return offending_rows_check(
            warehouse,
            f'SELECT * FROM "{table}" WHERE {outside}',
            f"{', '.join(columns)} within [0, 1]",
        )

    return check


proportion_checks = [_proportion_check(t, cols) for t, cols in PROPORTIONS.items()]


key_checks = [one_row_per_key_check(t, keys) for t, keys in KEYS.items()]


@dg.asset_check(asset="learner_status", blocking=True)
def learner_status_values(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every status is active, lapsing or churned, and no learner is idle a negative time."""
    return offending_rows_check(
        warehouse,
        "SELECT * FROM learner_status WHERE status IS NULL OR NOT list_contains(?, status) "
        "OR idle_days < 0",
        f"status is one of {', '.join(STATUSES)}",
        [list(STATUSES)],
    )


@dg.asset_check(asset="cohort_retention", blocking=True)
def week_zero_retention_is_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every learner studies in their own week 0."""
    return offending_rows_check(
        warehouse,
        "SELECT * FROM cohort_retention WHERE week_offset = 0 "
        "AND (retention <> 1 OR active_learners <> cohort_size)",
        "week-0 retention is 1",
    )


@dg.asset_check(asset="cohort_retention", blocking=True)
def cohort_sizes_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Per language, cohort sizes add up to the learners with an attempt as of."""
    return offending_rows_check(
        warehouse,
        f"""
        WITH sizes AS (SELECT language, sum(cohort_size) AS n FROM cohort_retention
                       WHERE week_offset = 0 GROUP BY 1),
             learners AS (SELECT language, count(DISTINCT user_id) AS n FROM attempts
                          WHERE attempted_at <= {AS_OF} GROUP BY 1)
        SELECT language, learners.n AS learners, sizes.n AS cohort_sizes
        FROM learners FULL JOIN sizes USING (language)
        WHERE learners.n IS DISTINCT FROM sizes.n
        """,
        "cohort sizes add up to the learners",
    )


def _totals_match(
    warehouse: WarehouseResource, table_total: str, reference_total: str, description: str
) -> dg.AssetCheckResult:
    """Passes when two single-value totals agree."""
    return offending_rows_check(
        warehouse,
        f"SELECT t.n AS table_total, r.n AS reference_total "
        f"FROM ({table_total}) t(n), ({reference_total}) r(n) WHERE t.n <> r.n",
        description,
    )


@dg.asset_check(asset="accuracy_daily", blocking=True)
def daily_attempts_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """accuracy_daily's attempts add up to the attempts as of."""
    return _totals_match(
        warehouse,
        "SELECT coalesce(sum(attempts), 0) FROM accuracy_daily",
        f"SELECT count(*) FROM attempts WHERE attempted_at <= {AS_OF}",
        "daily attempts add up to attempts",
    )


@dg.asset_check(asset="true_retention", blocking=True)
def retention_reviews_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """true_retention's reviews add up to the graded reviews that are not a card's first."""
    return _totals_match(
        warehouse,
        "SELECT coalesce(sum(reviews), 0) FROM true_retention",
        f"SELECT count(*) FROM reviews WHERE review_index > 1 AND reviewed_at <= {AS_OF}",
        "true retention reviews add up to non-first graded reviews",
    )
