"""Section 3 and 4 of SM-2: replay every card's graded reviews with the compiled kernel.

`replay` is three steps, each a function so that the benchmark can time them apart: the
kernel's inputs (`replay_inputs`: card order, times and qualities as arrays, without copies
where the frame allows), the kernel (`run_replay`: fills the output arrays), and the output
frame (`replay_frame`: the arrays as Polars columns beside the input's, without copies).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.sm2.card_order import CardOrder, epoch_micros, micros_to_datetime
from transforms.sm2.kernel import KernelParams, frozen, replay_cards
from transforms.sm2.params import SM2Params

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
NULL_ON_FIRST_REVIEW = frozenset({"elapsed_days", "interval_before", "p_recall"})
INT32_COLUMNS = frozenset({"review_index", "reps_after", "lapses_after"})


@dataclass(frozen=True)
class ReplayInputs:
    """What the kernel reads: the card order and, in the frame's row order, each review's time
    (epoch microseconds) and quality."""

    order: CardOrder
    t: np.ndarray  # int64
    q: np.ndarray  # int8
    params: KernelParams


def replay_inputs(
    reviews: pl.DataFrame, params: SM2Params, order: CardOrder | None = None
) -> ReplayInputs:
    q = np.asarray(reviews["quality"].cast(pl.Int8).to_numpy(), dtype=np.int8)
    return ReplayInputs(
        order or CardOrder.of(reviews),
        epoch_micros(reviews["reviewed_at"]),
        q,
        KernelParams.of([params]),
    )


def empty_outputs(n: int) -> dict[str, np.ndarray]:
    """The kernel's output arrays for `n` reviews (`due_at` as int64 epoch microseconds)."""
    return {
        name: np.empty(
            n,
            dtype=np.int32
            if name in INT32_COLUMNS
            else np.int64
            if name == "due_at"
            else np.float64,
        )
        for name in REPLAY_COLUMNS
    }


def run_replay(inputs: ReplayInputs, out: dict[str, np.ndarray]) -> None:
    """The compiled replay: fills every array of `out` (from `empty_outputs`)."""
    replay_cards(
        frozen(inputs.order.starts),
        frozen(inputs.order.kernel_rows),
        frozen(inputs.t),
        frozen(inputs.q),
        frozen(inputs.params.floats),
        frozen(inputs.params.ints),
        *(out[name] for name in REPLAY_COLUMNS),
    )


def replay_frame(reviews: pl.DataFrame, out: dict[str, np.ndarray]) -> pl.DataFrame:
    """`reviews` with the kernel's outputs as columns (nulls where section 4 has no value)."""
    return reviews.with_columns(
        *[
            pl.Series(name, out[name], nan_to_null=name in NULL_ON_FIRST_REVIEW)
            for name in REPLAY_COLUMNS
            if name != "due_at"
        ],
        micros_to_datetime(out["due_at"], reviews["reviewed_at"], "due_at"),
    )


def replay(
    reviews: pl.DataFrame, params: SM2Params | None = None, order: CardOrder | None = None
) -> pl.DataFrame:
    """Replay graded reviews under `params`: one output row per input row, in input order.

    `reviews` has `card_id`, `reviewed_at` (Datetime), `quality` (0-5) and optionally
    `tiebreak`, which orders a card's reviews that share a `reviewed_at`. The `order` of the
    same frame (`CardOrder.of(reviews)`) may be passed in to share it with another replay.
    """
    inputs = replay_inputs(reviews, params or SM2Params(), order)
    out = empty_outputs(reviews.height)
    run_replay(inputs, out)
    return replay_frame(reviews, out)
