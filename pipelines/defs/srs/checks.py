"""Checks on the SM-2 state: the invariants of docs/sm2.md and the grain of each table."""

import dagster as dg

from pipelines.defs.check_helpers import offending_rows_check, one_row_per_key_check
from pipelines.defs.resources import WarehouseResource
from transforms.keys import CARD
from transforms.sm2.store import params_used


@dg.asset_check(asset="reviews", blocking=True)
def ef_at_least_ef_min(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """EF never falls below `ef_min` (of the parameters the replay used)."""
    with warehouse.connect() as con:
        ef_min = params_used(con).ef_min
    return offending_rows_check(
        warehouse,
        "SELECT user_id, word_uid, reviewed_at, ef_after FROM reviews WHERE ef_after < ?",
        f"ef_after >= ef_min ({ef_min})",
        [ef_min],
    )


@dg.asset_check(asset="reviews", blocking=True)
def passed_reviews_interval_at_least_one(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """A passed review schedules at least one day."""
    with warehouse.connect() as con:
        pass_quality = params_used(con).pass_quality
    return offending_rows_check(
        warehouse,
        "SELECT user_id, word_uid, reviewed_at, quality, interval_days FROM reviews "
        "WHERE quality >= ? AND interval_days < 1",
        "passed reviews have interval >= 1",
        [pass_quality],
    )


@dg.asset_check(asset="reviews", blocking=True)
def reviews_within_attempts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Graded reviews are a subset of attempts: each is an attempt, once."""
    return offending_rows_check(
        warehouse,
        """
        SELECT uuid_local, 'not an attempt' AS problem FROM reviews ANTI JOIN attempts
            USING (uuid_local)
        UNION ALL
        SELECT uuid_local, 'reviewed twice' FROM reviews GROUP BY 1 HAVING count(*) > 1
        """,
        "every review is an attempt, once (so reviews <= attempts)",
    )


one_state_row_per_card = one_row_per_key_check(
    "word_progress", CARD, name="one_state_row_per_card", what="one state row per card"
)


@dg.asset_check(asset="word_progress", blocking=True)
def every_card_reviewed(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every card in `word_progress` has at least one graded review."""
    return offending_rows_check(
        warehouse,
        """SELECT user_id, language, word_uid FROM word_progress
           ANTI JOIN (SELECT DISTINCT user_id, language, word_uid FROM reviews)
           USING (user_id, language, word_uid)""",
        "every card has a review",
    )
