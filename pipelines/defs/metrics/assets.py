"""Analytics assets: accuracy, retention and progress tables, computed as of one moment."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs, preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.metrics.group_sums import GROUP_SUMS_TABLES
from transforms.metrics.learned import update_learned_words
from transforms.metrics.learner_state import KEPT_GRAINS
from transforms.metrics.nightly import update_metrics
from transforms.metrics.tables import METRIC_TABLES, METRICS_STATE
from transforms.warehouse import query

METRICS = "metrics"
# What the step keeps for its next run (transforms/metrics/tables.py)
STATE = {
    METRICS_STATE: "One row: the as-of time the metric tables are up to date with and a "
    "digest of the inputs they were built from.",
    **KEPT_GRAINS,
}
# The group tables' partial sums a night updates (transforms/metrics/group_sums.py); the sharded
# run does not keep them (the night after it recomputes them whole).
SUMS = {**STATE, **GROUP_SUMS_TABLES}
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
        *bookkeeping_specs(SUMS),
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
        bookkeeping = list(bookkeeping_results(con, list(SUMS)))
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


@dg.asset(group_name=METRICS, deps=["reviews", "sm2_params_used", "touched_cards"])
def learned_words(warehouse: WarehouseResource, settings: ProgressSettings) -> dg.MaterializeResult:
    """One row per card (user_id, language, word_uid) with a graded review: `learned`, whether
    its last graded review passed (the learner pages' words). A night rebuilds the cards SM-2
    changed (transforms/metrics/learned.py)."""
    with warehouse.connect() as con:
        run = update_learned_words(con, full_refresh=settings.full_refresh)
        counts = query(
            con,
            "SELECT count(*) AS n, count(*) FILTER (WHERE learned) AS learned FROM learned_words",
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(counts["n"][0]),
            "learned": int(counts["learned"][0]),
            "rows_rebuilt": run.rows.height,
            "mode": run.mode,
            "preview": preview(run.rows),
        }
    )
