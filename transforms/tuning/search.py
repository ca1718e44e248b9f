"""Grid and random search over a declared SM-2 parameter space, scored on held-out learners,
with the Pareto set over (log loss, expected workload)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import polars as pl

from transforms.sm2 import SM2Params, select_reviews
from transforms.sm2.params import scalar_field_names
from transforms.sm2.tables import with_card_keys
from transforms.tuning.batch_replay import batch_scores
from transforms.tuning.scoring import held_out_learners

# A space maps a parameter to its candidate values (a list), or to (low, high) for a uniform
# range of floats in random search (`parse_space` decides which).
Space = Mapping[str, Sequence[Any] | tuple[float, float]]

DEFAULT_SPACE: dict[str, Any] = {
    "ef_init": [2.1, 2.3, 2.5, 2.7],
    "second_interval": [3.0, 4.0, 6.0],
    "lapse_interval": (0.5, 1.0),
    "fail_quality": [0, 1, 2],
    "rounding": ["ceil", "round"],
    "target_recall": (0.75, 0.95),
}


def parse_space(space: str | Mapping[str, Any]) -> dict[str, list[Any] | tuple[float, float]]:
    """A search space from JSON text or a mapping: each SM2Params field maps to a non-empty
    list of values, where exactly two floats (a list or a tuple) are a (low, high) range."""
    raw = json.loads(space) if isinstance(space, str) else space
    if not isinstance(raw, Mapping):
        raise ValueError(f"a search space is a JSON object of lists, got {raw!r}")
    unknown = set(raw) - {f.name for f in fields(SM2Params)}
    if unknown:
        raise ValueError(f"unknown SM2Params field(s) in the search space: {sorted(unknown)}")
    out: dict[str, list[Any] | tuple[float, float]] = {}
    for name, spec in raw.items():
        if isinstance(spec, str) or not isinstance(spec, Sequence) or not spec:
            raise ValueError(f"search space {name!r}: need a non-empty list, got {spec!r}")
        if len(spec) == 2 and all(isinstance(v, float) for v in spec):
            low, high = spec
            if low > high:
                raise ValueError(f"search space {name!r}: range low {low} > high {high}")
            out[name] = (low, high)
        else:
            out[name] = list(spec)
    return out


def grid(space: Space) -> list[dict[str, Any]]:
    """Every combination of the listed values (ranges use their two ends)."""
    names = list(space)
    values = [list(space[n]) for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def random_sets(space: Space, size: int, seed: int) -> list[dict[str, Any]]:
    """`size` draws: a uniform float inside each (low, high) range, a uniform pick from lists."""
    rng = np.random.default_rng(seed)
    parsed = parse_space(space)
    out = []
    for _ in range(size):
        draw: dict[str, Any] = {}
        for name, spec in parsed.items():
            if isinstance(spec, tuple):
                draw[name] = float(rng.uniform(spec[0], spec[1]))
            else:
                draw[name] = spec[int(rng.integers(len(spec)))]
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


PARAM_COLUMNS = scalar_field_names()  # the parameter columns of `evaluate_sets`


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
