"""Section 3 and 4 of SM-2: replay every card's graded reviews, vectorized across cards."""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.sm2.layout import (
    MICROS_PER_DAY,
    ReviewLayout,
    StepLayout,
    epoch_micros,
    micros_to_datetime,
)
from transforms.sm2.params import SM2Params
from transforms.sm2.update import UpdateParams, sm2_update

REPLAY_COLUMNS: tuple[str, ...] = (
    "review_index",
    "elapsed_days",
    "interval_before",
    "p_recall",
    "ef_before",
    "ef_after",
    "reps_after",
    "lapses_after",
    "interval_days",
    "due_at",
)


def replay(
    reviews: pl.DataFrame, params: SM2Params | None = None, layout: ReviewLayout | None = None
) -> pl.DataFrame:
    """Replay graded reviews under `params`: one output row per input row, in input order.

    `reviews` has `card_id`, `reviewed_at` (Datetime), `quality` (0-5) and optionally
    `tiebreak`, which orders a card's reviews that share a `reviewed_at`. A `layout` built
    for the same frame (`review_layout`) may be passed in to share it with another replay.
    """
    p = params or SM2Params()
    layout = layout or review_layout(reviews)
    n = reviews.height
    q_all = reviews["quality"].cast(pl.Int64).to_numpy()
    t_all = epoch_micros(reviews["reviewed_at"])
    out: dict[str, np.ndarray] = {
        "review_index": np.empty(n, dtype=np.int32),
        "elapsed_days": np.empty(n),  # every row is written by its chunk
        "interval_before": np.empty(n),
        "ef_before": np.empty(n),
        "ef_after": np.empty(n),
        "reps_after": np.empty(n, dtype=np.int32),
        "lapses_after": np.empty(n, dtype=np.int32),
        "interval_days": np.empty(n),
    }
    for chunk in layout.chunks:
        rows = chunk.step_rows
        for name, values in _replay_chunk(chunk, q_all[rows], t_all[rows], p).items():
            out[name][rows] = values
    p_recall = np.power(p.target_recall, out["elapsed_days"] / out["interval_before"])
    due = t_all + np.round(out["interval_days"] * MICROS_PER_DAY).astype(np.int64)
    return reviews.with_columns(
        pl.Series("review_index", out["review_index"], dtype=pl.Int32),
        pl.Series("elapsed_days", out["elapsed_days"], nan_to_null=True),
        pl.Series("interval_before", out["interval_before"], nan_to_null=True),
        pl.Series("p_recall", p_recall, nan_to_null=True),
        pl.Series("ef_before", out["ef_before"]),
        pl.Series("ef_after", out["ef_after"]),
        pl.Series("reps_after", out["reps_after"], dtype=pl.Int32),
        pl.Series("lapses_after", out["lapses_after"], dtype=pl.Int32),
        pl.Series("interval_days", out["interval_days"]),
        micros_to_datetime(due, reviews["reviewed_at"], "due_at"),
    )


def _replay_chunk(
    chunk: StepLayout, q: np.ndarray, t: np.ndarray, p: SM2Params
) -> dict[str, np.ndarray]:
    """The recurrence over one chunk of cards; inputs and outputs in step-major order."""
    n = len(q)
    ef = np.full(chunk.n_cards, float(p.ef_init))
    reps = np.zeros(chunk.n_cards, dtype=np.int64)
    interval = np.zeros(chunk.n_cards)
    lapses = np.zeros(chunk.n_cards, dtype=np.int64)
    last_t = np.zeros(chunk.n_cards, dtype=np.int64)
    out_index = np.empty(n, dtype=np.int64)
    out_elapsed = np.full(n, np.nan)
    out_before = np.full(n, np.nan)
    out_ef_before = np.empty(n)
    out_ef_after = np.empty(n)
    out_reps = np.empty(n, dtype=np.int64)
    out_lapses = np.empty(n, dtype=np.int64)
    out_interval = np.empty(n)
    update = UpdateParams.of(p)
    for k, sl, m in chunk.steps():
        ef_b, iv = ef[:m], interval[:m]
        ef_a, reps_after, iv_after, passed = sm2_update(ef_b, reps[:m], iv, q[sl], update)
        out_index[sl] = k + 1
        if k > 0:
            out_elapsed[sl] = (t[sl] - last_t[:m]) / MICROS_PER_DAY
            out_before[sl] = iv
        out_ef_before[sl] = ef_b
        out_ef_after[sl] = ef_a
        reps[:m] = reps_after
        lapses[:m] += ~passed
        out_reps[sl] = reps[:m]
        out_lapses[sl] = lapses[:m]
        out_interval[sl] = iv_after
        ef[:m] = ef_a
        interval[:m] = iv_after
        last_t[:m] = t[sl]
    return {
        "review_index": out_index,
        "elapsed_days": out_elapsed,
        "interval_before": out_before,
        "ef_before": out_ef_before,
        "ef_after": out_ef_after,
        "reps_after": out_reps,
        "lapses_after": out_lapses,
        "interval_days": out_interval,
    }


def review_layout(reviews: pl.DataFrame) -> ReviewLayout:
    """The step-major layout of `reviews` by card, time and tiebreak."""
    order = ["card_id", "reviewed_at", *(["tiebreak"] if "tiebreak" in reviews.columns else [])]
    return ReviewLayout.build(reviews, order)
