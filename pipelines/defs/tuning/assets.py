"""The tuning lab: evaluate, search and simulate SM-2 parameters on the warehouse's history."""

import json
from collections.abc import Iterator
from typing import Any

import dagster as dg

from pipelines.defs.metadata import preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.build import load_suppressed, write_index
from reports.pages import PageMeta
from reports.tuning_report import write_tuning_report
from transforms.sm2 import SM2Params
from transforms.srs_store import resolve_as_of
from transforms.tuning.lab import LabSettings, run_lab, sample_attempts
from transforms.tuning.search import DEFAULT_SPACE
from transforms.warehouse import replace_table, transaction

TUNING = "tuning"


class TuningConfig(dg.Config):
    """What the lab searches and simulates. `space` maps SM2Params fields to a list of values,
    or to [low, high] floats for a uniform range (random search)."""

    space: str = json.dumps(DEFAULT_SPACE)
    search_size: int = 100
    learner_sample: int = 2000
    horizon_days: int = 90
    simulated_learners: int = 200
    seed: int = 0
    bootstrap_draws: int = 200
    base_params: str = "{}"  # JSON of SM2Params fields for the baseline (set 0)

    def lab_settings(self) -> LabSettings:
        raw: dict[str, Any] = json.loads(self.space)
        space = {
            k: tuple(v) if len(v) == 2 and all(isinstance(x, float) for x in v) else v
            for k, v in raw.items()
        }
        return LabSettings(
            space=space,
            search_size=self.search_size,
            learner_sample=self.learner_sample,
            horizon_days=self.horizon_days,
            simulated_learners=self.simulated_learners,
            seed=self.seed,
            bootstrap_draws=self.bootstrap_draws,
        )


@dg.multi_asset(
    group_name=TUNING,
    specs=[
        dg.AssetSpec(
            "sm2_param_eval",
            deps=["attempts"],
            description="One row per candidate SM2Params set: held-out log loss and "
            "RMSE(bins), expected daily workload, Pareto front; with the baseline "
            "models' scores (sm2_model_scores), fitted target recall "
            "(sm2_target_recall), and FSRS-6 beside SM-2 on the held-out reviews "
            "(sm2_fsrs_scores: one row per scope, group and model; sm2_fsrs_verdict: "
            "one row per language and overall).",
        ),
        dg.AssetSpec(
            "sm2_simulation",
            deps=["attempts"],
            description="One row per (set, language, day) of the workload/retention "
            "simulation of the best sets.",
        ),
    ],
)
def tuning_lab(
    context: dg.AssetExecutionContext,
    config: TuningConfig,
    warehouse: WarehouseResource,
    settings: ProgressSettings,
) -> Iterator[dg.MaterializeResult]:
    """Evaluate, search and simulate; write the tables and the tuning report page."""
    base = SM2Params.from_dict({**settings.base_sm2_params(), **json.loads(config.base_params)})
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        attempts = sample_attempts(con, as_of, config.learner_sample)
        result = run_lab(attempts, base, config.lab_settings())
        with transaction(con):
            replace_table(con, "sm2_param_eval", result.param_eval)
            replace_table(con, "sm2_model_scores", result.model_scores)
            replace_table(con, "sm2_target_recall", result.target_recall)
            replace_table(con, "sm2_simulation", result.simulation)
            replace_table(con, "sm2_fsrs_scores", result.fsrs.scores)
            replace_table(con, "sm2_fsrs_verdict", result.fsrs.verdict)
        suppressed = load_suppressed(con)
    meta = PageMeta(as_of=as_of.isoformat(sep=" "), run_id=context.run.run_id)
    page = write_tuning_report(settings.reports_path, meta, result)
    write_index(settings.reports_path, meta, suppressed)
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
