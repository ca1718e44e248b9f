"""The index page's headline figures, as a table: each figure now and a week before."""

from collections.abc import Iterator

import dagster as dg
import duckdb
import polars as pl

from pipelines.defs.check_helpers import offending_rows_check
from pipelines.defs.metadata import table_results
from pipelines.defs.metrics.assets import METRICS
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.metrics.headline import headline_figures, weekly_active_learners
from transforms.sm2.store import params_used
from transforms.warehouse import query, replace_tables


def _optional(
    con: duckdb.DuckDBPyConnection, table: str, columns: list[str]
) -> pl.DataFrame | None:
    """`columns` of `table`, or None when the table (or one of the columns) is missing."""
    present = set(
        query(
            con,
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
            [table],
        )["column_name"].to_list()
    )
    if not set(columns) <= present:
        return None
    return query(con, f'SELECT {", ".join(columns)} FROM "{table}"')


HEADLINE_UPSTREAM = [
    "accuracy_daily",
    "reviews",
    "at_risk_learners",
    "learner_status",
    "at_risk_backtest",
]


@dg.multi_asset(
    group_name=METRICS,
    specs=[
        dg.AssetSpec(
            "headline_figures",
            deps=HEADLINE_UPSTREAM,
            description="One row per headline figure of the index (learners active in the last "
            "7 and 28 days, attempts, accuracy and true retention of the last 7 days, learners "
            "at risk, learners churned): value on the as-of day, previous 7 days before, "
            "change; null where a table it needs is missing.",
        ),
        dg.AssetSpec(
            "weekly_active_learners",
            deps=["accuracy_daily"],
            description="One row per week of the last 12 (the 7 days ending on week_end = "
            "as-of day − 7k): active_learners.",
        ),
    ],
)
def headline_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """The index's headline figures and its sparkline of weekly active learners."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        daily = query(con, "SELECT user_id, language, day, attempts, correct FROM accuracy_daily")
        tables = {
            "headline_figures": headline_figures(
                daily,
                query(
                    con,
                    # the two weeks the figures look at, with a day to spare
                    "SELECT reviewed_at, review_index, quality FROM reviews "
                    "WHERE review_index > 1 AND reviewed_at > ? - INTERVAL 15 DAY",
                    [as_of],
                ),
                as_of,
                params_used(con).pass_quality,
                learner_status_table=_optional(
                    con, "learner_status", ["user_id", "course", "status"]
                ),
                at_risk_learners=_optional(
                    con, "at_risk_learners", ["user_id", "course", "flagged"]
                ),
                at_risk_backtest=_optional(con, "at_risk_backtest", ["snapshot_day", "flagged"]),
            ),
            "weekly_active_learners": weekly_active_learners(daily, as_of),
        }
        replace_tables(con, tables)
    yield from table_results(tables, as_of)


@dg.asset_check(asset="headline_figures", blocking=True)
def headline_figures_in_range(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """One row per figure; shares within [0, 1]; counts whole and not negative; change is
    value − previous."""
    return offending_rows_check(
        warehouse,
        """
        SELECT figure, unit, value, previous, change FROM headline_figures
        WHERE (unit = 'share' AND (NOT value BETWEEN 0 AND 1 OR NOT previous BETWEEN 0 AND 1))
           OR (unit <> 'share' AND (value < 0 OR previous < 0
               OR value <> round(value) OR previous <> round(previous)))
           OR change IS DISTINCT FROM value - previous
           OR figure IN (SELECT figure FROM headline_figures GROUP BY 1 HAVING count(*) > 1)
        """,
        "one row per figure, shares in [0, 1], counts whole and not negative",
    )
