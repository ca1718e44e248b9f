"""Checks that catch real errors in the analytics tables."""

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from transforms.warehouse import query, scalar

PROPORTIONS = {
    "accuracy_daily": ["accuracy"],
    "accuracy_by_step": ["accuracy", "accuracy_low", "accuracy_high"],
    "word_difficulty": ["accuracy", "first_review_pass_rate", "lapse_rate"],
    "true_retention": ["true_retention", "true_retention_low", "true_retention_high"],
    "forgetting_curve": ["recall_rate", "recall_rate_low", "recall_rate_high", "mean_p_recall"],
    "cohort_retention": ["retention", "retention_low", "retention_high", "retention_on_or_after"],
    "user_language_progress": ["accuracy", "true_retention"],
}


def _as_of_filter() -> str:
    return "(SELECT as_of FROM sm2_params_used)"


def _proportion_check(table: str, columns: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_proportions_in_unit_interval", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outside = " OR ".join(f"NOT ({c} BETWEEN 0 AND 1)" for c in columns)
        with warehouse.connect() as con:
            bad = int(str(scalar(con, f'SELECT count(*) FROM "{table}" WHERE {outside}')))
        return dg.AssetCheckResult(
            passed=bad == 0,
            metadata={"rows_outside": bad},
            description=f"{', '.join(columns)} within [0, 1]",
        )

    return check


proportion_checks = [_proportion_check(t, cols) for t, cols in PROPORTIONS.items()]


@dg.asset_check(asset="cohort_retention", blocking=True)
def week_zero_retention_is_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every learner studies in their own week 0."""
    with warehouse.connect() as con:
        bad = query(
            con,
            "SELECT * FROM cohort_retention WHERE week_offset = 0 "
            "AND (retention <> 1 OR active_learners <> cohort_size)",
        )
    return dg.AssetCheckResult(passed=bad.height == 0, metadata={"bad_cohorts": bad.height})


@dg.asset_check(asset="cohort_retention", blocking=True)
def cohort_sizes_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Per language, cohort sizes add up to the learners with an attempt as of."""
    with warehouse.connect() as con:
        bad = query(
            con,
            f"""
            WITH sizes AS (SELECT language, sum(cohort_size) AS n FROM cohort_retention
                           WHERE week_offset = 0 GROUP BY 1),
                 learners AS (SELECT language, count(DISTINCT user_id) AS n FROM attempts
                              WHERE attempted_at <= {_as_of_filter()} GROUP BY 1)
            SELECT * FROM learners FULL JOIN sizes USING (language)
            WHERE learners.n IS DISTINCT FROM sizes.n""",
        )
    return dg.AssetCheckResult(passed=bad.height == 0, metadata={"languages_off": bad.height})


@dg.asset_check(asset="accuracy_daily", blocking=True)
def daily_attempts_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """accuracy_daily's attempts add up to the attempts as of."""
    with warehouse.connect() as con:
        daily = scalar(con, "SELECT coalesce(sum(attempts), 0) FROM accuracy_daily")
        total = scalar(
            con, f"SELECT count(*) FROM attempts WHERE attempted_at <= {_as_of_filter()}"
        )
    return dg.AssetCheckResult(
        passed=daily == total, metadata={"daily_sum": int(str(daily)), "attempts": int(str(total))}
    )


@dg.asset_check(asset="true_retention", blocking=True)
def retention_reviews_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """true_retention's reviews add up to the graded reviews that are not a card's first."""
    with warehouse.connect() as con:
        table = scalar(con, "SELECT coalesce(sum(reviews), 0) FROM true_retention")
        total = scalar(
            con,
            "SELECT count(*) FROM reviews WHERE review_index > 1 "
            f"AND reviewed_at <= {_as_of_filter()}",
        )
    return dg.AssetCheckResult(
        passed=table == total, metadata={"table_sum": int(str(table)), "reviews": int(str(total))}
    )
