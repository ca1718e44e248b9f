"""Section 3 and 4 of SM-2: replay every card's graded reviews with the compiled kernel.

`replay` is three steps, each a function so that the benchmark can time them apart: the
kernel's inputs (`replay_inputs`: card order, times and qualities as arrays, without copies
where the frame allows), the kernel (`run_replay`: fills the output arrays), and the output
frame (`replay_frame`: the arrays as Polars columns beside the input's, without copies).

A card may resume from a stored state (`CardStart`: where its earlier reviews left it) instead
of starting new: its reviews then continue the earlier ones, exactly as if they had been
replayed with them (the nightly run's resume path, `transforms/sm2/store.py`).
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


# What a card's state after its last review is (the columns of that review's output row), and
# the state before any review. `box_after` is Leitner's box (section 5).
START_COLUMNS: tuple[str, ...] = (
    "ef_after",
    "reps_after",
    "interval_days",
    "lapses_after",
    "review_index",
    "reviewed_at",
    "box_after",
)


@dataclass(frozen=True)
class CardStart:
    """Where each card of a `CardOrder` starts, one entry per card in card order: the state
    after its stored reviews (`reviews` > 0), or new (`reviews` = 0)."""

    ef: np.ndarray  # float64
    reps: np.ndarray  # int64
    interval: np.ndarray  # float64
    lapses: np.ndarray  # int64
    reviews: np.ndarray  # int64: reviews already done
    last_t: np.ndarray  # int64: the last review's time, epoch microseconds (0 when new)
    box: np.ndarray  # int64: Leitner's box (0 when new)

    @classmethod
    def of(
        cls, reviews: pl.DataFrame, order: CardOrder, states: pl.DataFrame, params: SM2Params
    ) -> CardStart:
        """The start of each card of `reviews` (in `order`): `states` has `card_id` and
        START_COLUMNS, one row per resuming card, the state after its last stored review;
        cards without a row start new."""
        ids = reviews["card_id"].gather(order.rows[order.starts[:-1]])
        joined = (
            pl.DataFrame({"card_id": ids})
            .join(
                states.select("card_id", *START_COLUMNS),
                on="card_id",
                how="left",
                maintain_order="left",
            )
            .with_columns(
                pl.col("ef_after").fill_null(params.ef_init),
                pl.col("interval_days").fill_null(0.0),
                pl.col("reps_after", "lapses_after", "review_index", "box_after")
                .cast(pl.Int64)
                .fill_null(0),
            )
        )
        return cls(
            joined["ef_after"].cast(pl.Float64).to_numpy(),
            joined["reps_after"].to_numpy(),
            joined["interval_days"].cast(pl.Float64).to_numpy(),
            joined["lapses_after"].to_numpy(),
            joined["review_index"].to_numpy(),
            joined["reviewed_at"].dt.epoch("us").fill_null(0).to_numpy(),
            joined["box_after"].to_numpy(),
        )

    @classmethod
    def new(cls) -> CardStart:
        """Every card starts new (the kernel's empty arrays)."""
        floats, ints = np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64)
        return cls(floats, ints, floats, ints, ints, ints, ints)


@dataclass(frozen=True)
class ReplayInputs:
    """What the kernel reads: the card order and, in the frame's row order, each review's time
    (epoch microseconds) and quality."""

    order: CardOrder
    t: np.ndarray  # int64
    q: np.ndarray  # int8
    params: KernelParams
    start: CardStart


def replay_inputs(
    reviews: pl.DataFrame,
    params: SM2Params,
    order: CardOrder | None = None,
    start: CardStart | None = None,
) -> ReplayInputs:
    q = np.asarray(reviews["quality"].cast(pl.Int8).to_numpy(), dtype=np.int8)
    return ReplayInputs(
        order or CardOrder.of(reviews),
        epoch_micros(reviews["reviewed_at"]),
        q,
        KernelParams.of([params]),
        start or CardStart.new(),
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
        *(
            frozen(values)
            for values in (
                inputs.start.ef,
                inputs.start.reps,
                inputs.start.interval,
                inputs.start.lapses,
                inputs.start.reviews,
                inputs.start.last_t,
            )
        ),
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
    reviews: pl.DataFrame,
    params: SM2Params | None = None,
    order: CardOrder | None = None,
    start: CardStart | None = None,
) -> pl.DataFrame:
    """Replay graded reviews under `params`: one output row per input row, in input order.

    `reviews` has `card_id`, `reviewed_at` (Datetime), `quality` (0-5) and optionally
    `tiebreak`, which orders a card's reviews that share a `reviewed_at`. The `order` of the
    same frame (`CardOrder.of(reviews)`) may be passed in to share it with another replay;
    `start` (`CardStart.of` the same frame and order) resumes cards from stored states.
    """
    inputs = replay_inputs(reviews, params or SM2Params(), order, start)
    out = empty_outputs(reviews.height)
    run_replay(inputs, out)
    return replay_frame(reviews, out)
