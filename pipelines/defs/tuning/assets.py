"""The tuning lab: evaluate, search and simulate SM-2 parameters on the warehouse's history."""

import json
from collections.abc import Iterator

import dagster as dg
import polars as pl

from pipelines.defs.metadata import preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.config import SM2Config
from reports.pages import PageMeta
from reports.tuning_report import write_tuning_report
from transforms.as_of import resolve_as_of
from transforms.tuning.lab import LabResult, LabSettings, run_lab, sample_attempts
from transforms.tuning.search import DEFAULT_SPACE, parse_space
from transforms.warehouse import replace_tables

TUNING = "tuning"


class TuningConfig(dg.Config):
    """What the lab searches and simulates. `space` is JSON read by `parse_space`: SM2Params
    fields to a list of values, or to [low, high] floats for a uniform range (random search)."""

    space: str = json.dumps(DEFAULT_SPACE)
    search_size: int = 100
    learner_sample: int = 2000
    horizon_days: int = 90
    simulated_learners: int = 200
    seed: int = 0
    bootstrap_draws: int = 200
    base_params: SM2Config = SM2Config()  # the baseline (set 0), over PROGRESS_SM2_PARAMS

    def lab_settings(self) -> LabSettings:
        return LabSettings(
            space=parse_space(self.space),
            search_size=self.search_size,
            learner_sample=self.learner_sample,
            horizon_days=self.horizon_days,
            simulated_learners=self.simulated_learners,
            seed=self.seed,
            bootstrap_draws=self.bootstrap_draws,
        )


# The lab's other tables, each an asset of the same step: name -> grain.
EXTRA_TABLES = {
    "sm2_model_scores": "One row per (scope, group, model): SM-2 against Leitner, the constant "
    "and half-life regression on the same held-out reviews, with bootstrap intervals.",
    "sm2_target_recall": "One row per language (and overall): the maximum-likelihood "
    "target_recall and the log loss it gains over 0.9.",
    "sm2_fsrs_scores": "One row per (scope, group, model): FSRS-6 (default and fitted) beside "
    "SM-2 on the held-out reviews.",
    "sm2_fsrs_verdict": "One row per language and overall: the log loss and workload the app "
    "would gain by moving to FSRS-6.",
}


def _extra_tables(result: LabResult) -> dict[str, pl.DataFrame]:
    """The lab's tables besides `sm2_param_eval` and `sm2_simulation`, by name."""
    frames = {
        "sm2_model_scores": result.model_scores,
        "sm2_target_recall": result.target_recall,
        "sm2_fsrs_scores": result.fsrs.scores,
        "sm2_fsrs_verdict": result.fsrs.verdict,
    }
    assert set(frames) == set(EXTRA_TABLES)
    return frames


@dg.multi_asset(
    group_name=TUNING,
    specs=[
        dg.AssetSpec(
            "sm2_param_eval",
            deps=["attempts"],
            description="One row per candidate SM2Params set: held-out log loss and "
            "RMSE(bins), expected daily workload, Pareto front.",
        ),
        *[
            dg.AssetSpec(name, deps=["attempts"], description=grain)
            for name, grain in EXTRA_TABLES.items()
        ],
        dg.AssetSpec(
            "sm2_simulation",
            deps=["attempts"],
            description="One row per (scheduler, set or desired retention, language, day) "
            "of the workload/retention simulation: SM-2's best sets and FSRS-6 at several "
            "desired retentions.",
        ),
    ],
)
def tuning_lab(
    context: dg.AssetExecutionContext,
    config: TuningConfig,
    warehouse: WarehouseResource,
    settings: ProgressSettings,
) -> Iterator[dg.MaterializeResult]:
    """Evaluate, search and simulate; write the tables and the tuning report page (the next
    run of `report_index` links it)."""
    base = config.base_params.resolve(settings.base_sm2_params())
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        attempts = sample_attempts(con, as_of, config.learner_sample)
        result = run_lab(attempts, base, config.lab_settings())
        replace_tables(
            con,
            {
                "sm2_param_eval": result.param_eval,
                "sm2_simulation": result.simulation,
                **_extra_tables(result),
            },
        )
    meta = PageMeta.of(as_of, context.run.run_id)
    page = write_tuning_report(settings.reports_path, meta, result)
    best = result.param_eval.sort("log_loss").row(0, named=True)
    yield dg.MaterializeResult(
        asset_key="sm2_param_eval",
        metadata={
            "dagster/row_count": result.param_eval.height,
            "learners": attempts["user_id"].n_unique(),
            "best_held_out_log_loss": float(best["log_loss"]),
            "baseline_held_out_log_loss": float(result.param_eval["log_loss"][0]),
            "pareto_sets": int(result.param_eval["pareto"].sum()),
            "fsrs_parameters": dg.MetadataValue.json([round(w, 4) for w in result.fsrs.parameters]),
            "fsrs_verdict": preview(result.fsrs.verdict),
            "preview": preview(result.param_eval.sort("log_loss")),
            "path": dg.MetadataValue.path(str(page.resolve())),
        },
    )
    yield dg.MaterializeResult(
        asset_key="sm2_simulation",
        metadata={
            "dagster/row_count": result.simulation.height,
            "path": dg.MetadataValue.path(str(page.resolve())),
        },
    )
    for name, frame in _extra_tables(result).items():
        yield dg.MaterializeResult(
            asset_key=name, metadata={"dagster/row_count": frame.height, "preview": preview(frame)}
        )
