"""Analytics assets: accuracy, retention and progress tables, computed as of one moment."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import table_results
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.metrics.tables import METRIC_TABLES, recompute_metrics

METRICS = "metrics"
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
    specs=[dg.AssetSpec(t.name, description=t.grain, deps=UPSTREAM) for t in METRIC_TABLES],
)
def analytics_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every accuracy, retention and progress table from one read of the warehouse."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        tables = recompute_metrics(con, as_of).tables
    yield from table_results(tables, as_of)
