"""Sections 1 and 2 of SM-2: attempt -> quality, and which attempts are graded reviews."""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.keys import CARD
from transforms.sessions import with_sessions
from transforms.sm2.params import DEFAULT_STEP, SM2Params


def _threshold(table: dict[str, int] | object, step: pl.Expr) -> pl.Expr:
    assert isinstance(table, dict)
    default = table[DEFAULT_STEP]
    mapping = {k: v for k, v in table.items() if k != DEFAULT_STEP}
    return step.replace_strict(mapping, default=default, return_dtype=pl.Int64)


def quality(params: SM2Params) -> pl.Expr:
    """q from `correct`, `response_time_ms` and `step_type` (section 1 of docs/sm2.md)."""
    step = pl.col("step_type")
    rt = pl.col("response_time_ms")
    return (
        pl.when(~pl.col("correct"))
        .then(pl.lit(params.fail_quality))
        .when(rt <= _threshold(dict(params.fast_ms), step))
        .then(pl.lit(5))
        .when(rt <= _threshold(dict(params.slow_ms), step))
        .then(pl.lit(4))
        .otherwise(pl.lit(3))
        .cast(pl.Int8)
        .alias("quality")
    )


def step_codes(step_types: pl.Series) -> tuple[list[str], np.ndarray]:
    """The distinct step types, and each row's index into them (for `quality_codes`)."""
    kinds = step_types.unique().sort()
    codes = step_types.replace_strict(kinds, np.arange(len(kinds)), return_dtype=pl.Int32)
    return [str(k) for k in kinds], codes.to_numpy()


def quality_codes(
    correct: np.ndarray,
    response_ms: np.ndarray,
    step_code: np.ndarray,
    kinds: list[str],
    params: SM2Params,
) -> np.ndarray:
    """q (int8) for NumPy columns: `quality` above, for the tuning lab's many sets and the
    simulator. `step_code` indexes `kinds`, the step types (see `step_codes`)."""
    fast = np.array([params.threshold("fast", k) for k in kinds], dtype=np.int64)[step_code]
    slow = np.array([params.threshold("slow", k) for k in kinds], dtype=np.int64)[step_code]
    q = np.where(response_ms <= fast, 5, np.where(response_ms <= slow, 4, 3)).astype(np.int8)
    return np.where(correct, q, np.int8(params.fail_quality))


def select_reviews(
    attempts: pl.DataFrame | pl.LazyFrame, params: SM2Params, presorted: bool = False
) -> pl.LazyFrame:
    """Graded reviews (section 2 of docs/sm2.md) with their quality: the first attempt of a
    card per UTC day, per session, or every attempt, as `review_unit` says. A card's attempts
    are ordered by `(attempted_at, uuid_local)`; `presorted` says the rows already are (by card,
    then so)."""
    lf = attempts.lazy()
    if params.review_unit == "session":
        lf = with_sessions(lf)
        presorted = False  # derived sessions are appended at the end
    order = [*CARD, "attempted_at", "uuid_local"]
    ordered = lf if presorted else lf.sort(order, maintain_order=True)
    if params.review_unit == "attempt":
        picked = ordered
    else:
        unit = (
            pl.col("attempted_at").dt.date()
            if params.review_unit == "day"
            else pl.col("session_id")
        )
        # The first attempt of each (card, unit): sessions can interleave in time, so rank
        # within (card, unit) instead of comparing neighbours.
        if params.review_unit == "day":
            # cards are contiguous: compare neighbours (on the integer card key when present)
            keys = ["card_key"] if "card_key" in lf.collect_schema().names() else CARD
            first = pl.any_horizontal(
                [pl.col(c) != pl.col(c).shift(1) for c in [*keys, "_unit"]]
            ).fill_null(True)
        else:
            first = pl.col("_unit").is_first_distinct().over(CARD)
        picked = ordered.with_columns(unit.alias("_unit")).filter(first).drop("_unit")
    return picked.with_columns(quality(params))
