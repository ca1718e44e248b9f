"""Checks that catch real errors in the analytics tables."""

import dagster as dg

from pipelines.defs.check_helpers import (
    offending_rows_check,
    one_row_per_key_check,
    registry_checks,
)
from pipelines.defs.resources import WarehouseResource
from transforms.keys import CARD, LEARNER
from transforms.metrics.group_sums import (
    CARD_REVIEW_KEYS,
    CARD_REVIEW_SUMS,
    CARD_WORD_SUMS,
    GROUP_SUMS_SOURCES,
    HISTOGRAM,
    REVIEW_GROUP,
    REVIEW_SUMS,
    STEP_RESPONSE_COUNTS,
    WORD,
    WORD_SUMS,
)
from transforms.metrics.learner_state import CARD_STATE, LEARNER_STATE
from transforms.metrics.tables import METRIC_TABLES

AS_OF = "(SELECT as_of FROM sm2_params_used)"

# one row per key, proportions in [0, 1], status values: as the registry declares them
registered_checks = registry_checks(METRIC_TABLES)
learned_words_unique = one_row_per_key_check("learned_words", CARD, what="one row per card")
# the nightly run's state and partial sums: a duplicated key would count a contribution twice
# (a writer that keeps no such state, the sharded fan-in, drops it: absent passes)
state_unique = [
    one_row_per_key_check(
        table, keys, what="the nightly run's state, one row per key", may_be_absent=True
    )
    for table, keys in (
        (LEARNER_STATE, LEARNER),
        (CARD_STATE, CARD),
        (CARD_WORD_SUMS, CARD),
        (CARD_REVIEW_SUMS, CARD_REVIEW_KEYS),
        (WORD_SUMS, WORD),
        (REVIEW_SUMS, REVIEW_GROUP),
        (STEP_RESPONSE_COUNTS, HISTOGRAM),
        (GROUP_SUMS_SOURCES, ["source_id"]),
    )
]


@dg.asset_check(asset="learner_status", blocking=True)
def learner_status_idle_days(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """No learner is idle a negative time (the status values are a registry check)."""
    return offending_rows_check(
        warehouse,
        "SELECT * FROM learner_status WHERE idle_days < 0",
        "idle_days >= 0",
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


@dg.asset_check(asset="at_risk_snapshots", blocking=True)
def snapshot_learners_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every backtest Monday scored the learners stored for it, and every stored Monday has its
    backtest row (a nightly run rebuilds the two together)."""
    return offending_rows_check(
        warehouse,
        """
        WITH stored AS (SELECT snapshot_day, count(*) AS n FROM at_risk_snapshots GROUP BY 1)
        SELECT snapshot_day, b.learners, stored.n AS stored
        FROM at_risk_backtest b FULL JOIN stored USING (snapshot_day)
        WHERE b.learners IS DISTINCT FROM stored.n
        """,
        "backtest learners = stored snapshots per Monday",
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
