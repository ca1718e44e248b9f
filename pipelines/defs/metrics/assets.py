"""Analytics assets: accuracy, retention and progress tables, computed as of one moment."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.metrics.tables import recompute_metrics

METRICS = "metrics"
UPSTREAM = [
    "attempts",
    "reviews",
    "word_progress",
    "cohorts",
    "manifest_words",
    "manifest_versions",
]
GRAINS = {
    "accuracy_daily": "One row per (user_id, language, day) with an attempt.",
    "accuracy_by_step": "One row per (language, step_type).",
    "word_difficulty": "One row per (language, word_uid).",
    "true_retention": "One row per (language, cohort, period_week, maturity).",
    "forgetting_curve": "One row per (language, elapsed_bin) with reviews.",
    "cohort_retention": "One row per (language, cohort, week_offset).",
    "user_language_progress": "One row per (user_id, language).",
    "learner_status": "One row per (user_id, course) with activity: active, lapsing or churned.",
    "at_risk_learners": "One row per (user_id, course) not churned as of (idle at most 28 days): "
    "the risk of no activity in the next 14 days, flagged or not, with reasons.",
    "at_risk_backtest": "One row per snapshot Monday: the at-risk model and the rules, scored "
    "on that Monday's learners by a model fitted only on earlier known outcomes.",
}


@dg.multi_asset(
    group_name=METRICS,
    specs=[dg.AssetSpec(name, description=grain, deps=UPSTREAM) for name, grain in GRAINS.items()],
)
def analytics_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every accuracy, retention and progress table from one read of the warehouse."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        tables = recompute_metrics(con, as_of).tables
    for name, frame in tables.items():
        yield dg.MaterializeResult(
            asset_key=name,
            metadata={
                "dagster/row_count": frame.height,
                "as_of": as_of.isoformat(),
                "preview": preview(frame),
            },
        )
