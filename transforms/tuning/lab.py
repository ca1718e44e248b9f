"""The whole tuning run on a warehouse's history: score the baseline against baselines, search,
fit target recall, simulate the best sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from transforms.evaluation import calibration_table
from transforms.sm2 import SM2Params
from transforms.sm2.store import ATTEMPT_COLUMNS
from transforms.sm2.tables import build_reviews
from transforms.tuning.fsrs import FsrsComparison, compare_fsrs
from transforms.tuning.scoring import score_table, scored_reviews, target_recall_fits
from transforms.tuning.search import (
    Space,
    candidates,
    evaluate_sets,
    held_out_rows,
)
from transforms.tuning.simulate import (
    DESIRED_RETENTIONS,
    FsrsSchedule,
    fit_models,
    simulate_sets,
)
from transforms.warehouse import query

SIMULATED_SETS = 6


@dataclass(frozen=True)
class LabSettings:
    space: Space
    search_size: int
    learner_sample: int
    horizon_days: int
    simulated_learners: int
    seed: int
    bootstrap_draws: int


@dataclass(frozen=True)
class LabResult:
    param_eval: pl.DataFrame  # one row per candidate set
    model_scores: pl.DataFrame  # baseline set against the other models, with intervals
    target_recall: pl.DataFrame  # per language
    simulation: pl.DataFrame  # per (scheduler, set or desired retention, language, day)
    calibration: pl.DataFrame  # per (set, bin) for the simulated sets
    fsrs: FsrsComparison  # FSRS-6 beside SM-2 on the held-out reviews


def sample_attempts(con: duckdb.DuckDBPyConnection, as_of: datetime, learners: int) -> pl.DataFrame:
    """Every attempt of up to `learners` learners, picked by a hash of user_id (stable)."""
    return query(
        con,
        f"""
        WITH picked AS (SELECT user_id FROM attempts GROUP BY user_id
                        ORDER BY hash(user_id), user_id LIMIT ?)
        SELECT {ATTEMPT_COLUMNS}
        FROM attempts SEMI JOIN picked USING (user_id) WHERE attempted_at <= ?
        """,
        [learners, as_of],
    )


def run_lab(attempts: pl.DataFrame, base: SM2Params, settings: LabSettings) -> LabResult:
    sets = candidates(settings.space, settings.search_size, settings.seed, base)
    evaluated = evaluate_sets(attempts, sets)
    reviews = build_reviews(attempts, base)  # the baseline's replay, shared below
    scored = scored_reviews(reviews, base)
    scores = score_table(scored, settings.bootstrap_draws, settings.seed)
    fits = target_recall_fits(reviews, base)
    held_out, _ = held_out_rows(reviews["user_id"], reviews["card_key"])
    fsrs = compare_fsrs(
        scored, reviews, pl.Series(held_out), base, settings.bootstrap_draws, settings.seed
    )
    best = evaluated.filter(pl.col("pareto")).sort("log_loss").head(SIMULATED_SETS - 1)
    chosen = [0, *[i for i in best["set"].to_list() if i != 0]]
    models = fit_models(attempts, reviews, base.pass_quality)
    simulation = simulate_sets(
        models,
        {i: sets[i] for i in chosen},
        [FsrsSchedule(fsrs.parameters, retention, base) for retention in DESIRED_RETENTIONS],
        settings.simulated_learners,
        settings.horizon_days,
        settings.seed,
    )
    calibration = pl.concat(
        [
            calibration_table(part["p_sm2"], part["y"]).with_columns(pl.lit(i).alias("set"))
            for i, part in (
                (i, scored if i == 0 else scored_reviews(build_reviews(attempts, sets[i]), sets[i]))
                for i in chosen
            )
        ]
    )
    return LabResult(evaluated, scores, fits, simulation, calibration, fsrs)
