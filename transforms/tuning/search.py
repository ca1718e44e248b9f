"""Grid and random search over a declared SM-2 parameter space, scored on held-out learners,
with the Pareto set over (log loss, expected workload)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from transforms.sm2 import SM2Params, select_reviews
from transforms.srs import with_card_keys
from transforms.tuning.batch_replay import batch_scores
from transforms.tuning.scoring import held_out_learners

# A space maps a parameter to its candidate values (a list), or to (low, high) for a uniform
# range of floats in random search.
Space = Mapping[str, Sequence[Any] | tuple[float, float]]

DEFAULT_SPACE: dict[str, Any] = {
    "ef_init": [2.1, 2.3, 2.5, 2.7],
    "second_interval": [3.0, 4.0, 6.0],
    "lapse_interval": [0.5, 1.0],
    "fail_quality": [0, 1, 2],
    "rounding": ["ceil", "round"],
    "target_recall": (0.75, 0.95),
}


def grid(space: Space) -> list[dict[str, Any]]:
    """Every combination of the listed values (ranges use their two ends)."""
    names = list(space)
    values = [list(space[n]) for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def random_sets(space: Space, size: int, seed: int) -> list[dict[str, Any]]:
    """`size` draws: a uniform float inside each (low, high) range, a uniform pick from lists."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(size):
        draw: dict[str, Any] = {}
        for name, spec in space.items():
            if (
                isinstance(spec, tuple)
                and len(spec) == 2
                and all(isinstance(v, float) for v in spec)
            ):
                draw[name] = float(rng.uniform(spec[0], spec[1]))
            else:
                options = list(spec)
                draw[name] = options[int(rng.integers(len(options)))]
        out.append(draw)
    return out


def candidates(space: Space, size: int, seed: int, base: SM2Params) -> list[SM2Params]:
    """The baseline, then the grid when it fits in `size`, else random draws; invalid
    combinations (e.g. fail_quality >= pass_quality) are skipped."""
    draws = grid(space)
    if len(draws) > size - 1:
        draws = random_sets(space, size - 1, seed)
    out = [base]
    for values in draws:
        try:
            out.append(SM2Params.from_dict({**base.to_dict(), **values}))
        except ValueError:
            continue
    return out


MIN_LEARNERS_TO_SPLIT = 10  # below this, hold out cards instead of learners


@dataclass(frozen=True)
class GradedRows:
    rows: pl.DataFrame
    held_out: np.ndarray
    learners: int
    split_by: str  # "learner", or "card" when there are too few learners to hold some out


def graded_rows(attempts: pl.DataFrame, base: SM2Params) -> GradedRows:
    """The graded reviews every set is scored on (all sets share `review_unit`)."""
    selected = (
        select_reviews(with_card_keys(attempts), base, presorted=True)
        .select(
            pl.col("card_key").alias("card_id"),
            pl.col("attempted_at").alias("reviewed_at"),
            pl.col("uuid_local").alias("tiebreak"),
            "user_id",
            "step_type",
            "correct",
            "response_time_ms",
        )
        .collect()
    )
    held_out, split_by = held_out_rows(selected["user_id"], selected["card_id"])
    return GradedRows(selected, held_out, selected["user_id"].n_unique(), split_by)


def held_out_rows(user_ids: pl.Series, card_keys: pl.Series) -> tuple[np.ndarray, str]:
    """Whether each row is held out, and by what: its learner (a stable 20% by a hash of
    user_id), or its card when there are fewer than MIN_LEARNERS_TO_SPLIT learners."""
    users = user_ids.unique()
    if len(users) >= MIN_LEARNERS_TO_SPLIT:
        held = user_ids.replace_strict(users, held_out_learners(users), return_dtype=pl.Boolean)
        return held.to_numpy(), "learner"
    cards = card_keys.to_numpy().astype(np.uint64)
    return ((cards * np.uint64(2654435761)) % np.uint64(2**32)) < np.uint64(0.2 * 2**32), "card"


def pareto(frame: pl.DataFrame, x: str, y: str) -> pl.Series:
    """True for rows no other row beats on both `x` and `y` (lower is better)."""
    xs, ys = frame[x].to_numpy(), frame[y].to_numpy()
    better = (
        (xs[None, :] <= xs[:, None])
        & (ys[None, :] <= ys[:, None])
        & ((xs[None, :] < xs[:, None]) | (ys[None, :] < ys[:, None]))
    )
    return pl.Series("pareto", ~better.any(axis=1))


PARAM_COLUMNS = (
    "ef_init",
    "ef_min",
    "first_interval",
    "second_interval",
    "lapse_interval",
    "max_interval",
    "pass_quality",
    "fail_quality",
    "ef_update_on_fail",
    "ef_for_interval",
    "rounding",
    "target_recall",
    "review_unit",
)


def evaluate_sets(attempts: pl.DataFrame, sets: list[SM2Params]) -> pl.DataFrame:
    """One row per parameter set (set 0 is the baseline): its parameters, log loss and
    RMSE(bins) on training and held-out learners (held-out cards when there are fewer than 10
    learners: `held_out_by`), expected daily workload, and whether it is on the held-out
    (log loss, workload) Pareto front. The sets must share `review_unit`."""
    rows = graded_rows(attempts, sets[0])
    scores = batch_scores(rows.rows, sets, rows.held_out, rows.learners)
    frame = pl.DataFrame([{c: getattr(p, c) for c in PARAM_COLUMNS} for p in sets]).with_columns(
        pl.Series("set", np.arange(len(sets))),
        pl.Series("train_log_loss", scores.log_loss[:, 0]),
        pl.Series("log_loss", scores.log_loss[:, 1]),
        pl.Series("train_rmse_bins", scores.rmse_bins[:, 0]),
        pl.Series("rmse_bins", scores.rmse_bins[:, 1]),
        pl.Series("held_out_reviews", scores.reviews[:, 1].astype(np.int64)),
        pl.Series("daily_workload", scores.daily_workload),
        pl.lit(rows.split_by).alias("held_out_by"),
    )
    return frame.with_columns(pareto(frame, "log_loss", "daily_workload")).select(
        "set",
        *PARAM_COLUMNS,
        "train_log_loss",
        "log_loss",
        "train_rmse_bins",
        "rmse_bins",
        "held_out_reviews",
        "held_out_by",
        "daily_workload",
        "pareto",
    )
