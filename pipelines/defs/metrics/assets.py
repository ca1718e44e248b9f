"""Analytics assets: accuracy, retention and progress tables, computed as of one moment."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs, preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.metrics.learned import build_learned_words
from transforms.metrics.learner_state import KEPT_GRAINS
from transforms.metrics.nightly import update_metrics
from transforms.metrics.tables import METRIC_TABLES, METRICS_STATE
from transforms.warehouse import query, replace_table

METRICS = "metrics"
# What the step keeps for its next run (transforms/metrics/tables.py)
STATE = {
    METRICS_STATE: "One row: the as-of time the metric tables are up to date with and a "
    "digest of the inputs they were built from.",
    **KEPT_GRAINS,
}
UPSTREAM = [
    "attempts",
    "reviews",
    "word_progress",
    "cohorts",
    "manifest_words",
    "manifest_versions",
]


@dg.multi_asset(
    group_name=METRICS,
    specs=[
        *(dg.AssetSpec(t.name, description=t.grain, deps=UPSTREAM) for t in METRIC_TABLES),
        *bookkeeping_specs(STATE),
    ],
)
def analytics_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every accuracy, retention and progress table: the rows the night's changed cards reach
    (transforms/metrics/nightly.py), or all of them after a full SRS recompute or on
    `PROGRESS_FULL_REFRESH`. The metadata's table is the whole table; `rows_rebuilt` says how
    many rows this run wrote."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        run = update_metrics(con, as_of, full_refresh=settings.full_refresh)
        tables = {t.name: query(con, f'SELECT * FROM "{t.name}" LIMIT 10') for t in METRIC_TABLES}
        rows = {
            t.name: query(con, f'SELECT count(*) AS n FROM "{t.name}"')["n"][0]
            for t in METRIC_TABLES
        }
        bookkeeping = list(bookkeeping_results(con, list(STATE)))
    for name, sample in tables.items():
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": int(rows[name]),
                "rows_rebuilt": run.tables[name].height,
                "mode": run.mode,
                "mode_reason": run.reason,
                "as_of": as_of.isoformat(),
                "preview": preview(sample),
            },
        )
    yield from bookkeeping


@dg.asset(group_name=METRICS, deps=["reviews", "sm2_params_used"])
def learned_words(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per card (user_id, language, word_uid) with a graded review: `learned`, whether
    its last graded review passed (the learner pages' words)."""
    with warehouse.connect() as con:
        table = build_learned_words(con)
        replace_table(con, "learned_words", table)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.height,
            "learned": int(table["learned"].sum()),
            "preview": preview(table),
        }
    )
