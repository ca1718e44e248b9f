"""Checks on the SM-2 state: the invariants of sm2.md and the grain of each table."""

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from transforms.srs_store import params_used
from transforms.warehouse import scalar


def _count_check(
    warehouse: WarehouseResource, sql: str, description: str, params: list[object] | None = None
) -> dg.AssetCheckResult:
    with warehouse.connect() as con:
        problems = int(str(scalar(con, sql, params)))
    return dg.AssetCheckResult(
        passed=problems == 0, description=description, metadata={"problems": problems}
    )


@dg.asset_check(asset="reviews", blocking=True)
def ef_at_least_ef_min(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """EF never falls below `ef_min` (of the parameters the replay used)."""
    with warehouse.connect() as con:
        ef_min = params_used(con).ef_min
    return _count_check(
        warehouse,
        "SELECT count(*) FROM reviews WHERE ef_after < ? - 1e-12",
        f"ef_after >= ef_min ({ef_min})",
        [ef_min],
    )


@dg.asset_check(asset="reviews", blocking=True)
def passed_reviews_interval_at_least_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """A passed review schedules at least one day."""
    with warehouse.connect() as con:
        pass_quality = params_used(con).pass_quality
    return _count_check(
        warehouse,
        "SELECT count(*) FROM reviews WHERE quality >= ? AND interval_days < 1",
        "passed reviews have interval >= 1",
        [pass_quality],
    )


@dg.asset_check(asset="reviews", blocking=True)
def reviews_within_attempts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Graded reviews are a subset of attempts: each is an attempt, once."""
    return _count_check(
        warehouse,
        """SELECT (SELECT count(*) FROM reviews r ANTI JOIN attempts a USING (uuid_local))
                + greatest(0, (SELECT count(*) FROM reviews) - (SELECT count(*) FROM attempts))""",
        "every review is an attempt; reviews <= attempts",
    )


@dg.asset_check(asset="word_progress", blocking=True)
def one_state_row_per_card(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """`word_progress` has exactly one row per (user_id, language, word_uid)."""
    return _count_check(
        warehouse,
        """SELECT count(*) FROM (SELECT user_id, language, word_uid FROM word_progress
           GROUP BY ALL HAVING count(*) > 1)""",
        "one row per card",
    )


@dg.asset_check(asset="word_progress", blocking=True)
def every_card_reviewed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every card in `word_progress` has at least one graded review."""
    return _count_check(
        warehouse,
        """SELECT count(*) FROM word_progress w
           ANTI JOIN (SELECT DISTINCT user_id, language, word_uid FROM reviews) r
           USING (user_id, language, word_uid)""",
        "every card has a review",
    )
