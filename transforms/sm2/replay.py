"""Section 3 and 4 of SM-2: replay every card's graded reviews with the compiled kernel."""

from __future__ import annotations

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


def replay(
    reviews: pl.DataFrame, params: SM2Params | None = None, order: CardOrder | None = None
) -> pl.DataFrame:
    """Replay graded reviews under `params`: one output row per input row, in input order.

    `reviews` has `card_id`, `reviewed_at` (Datetime), `quality` (0-5) and optionally
    `tiebreak`, which orders a card's reviews that share a `reviewed_at`. The `order` of the
    same frame (`CardOrder.of(reviews)`) may be passed in to share it with another replay.
    """
    p = params or SM2Params()
    order = order or CardOrder.of(reviews)
    n = reviews.height
    t = epoch_micros(reviews["reviewed_at"])
    q = np.asarray(reviews["quality"].cast(pl.Int8).to_numpy(), dtype=np.int8)
    kernel = KernelParams.of([p])
    out: dict[str, np.ndarray] = {
        "review_index": np.empty(n, dtype=np.int32),
        "elapsed_days": np.empty(n),
        "interval_before": np.empty(n),
        "p_recall": np.empty(n),
        "ef_before": np.empty(n),
        "ef_after": np.empty(n),
        "reps_after": np.empty(n, dtype=np.int32),
        "lapses_after": np.empty(n, dtype=np.int32),
        "interval_days": np.empty(n),
    }
    due = np.empty(n, dtype=np.int64)
    replay_cards(
        frozen(order.starts),
        frozen(order.kernel_rows),
        frozen(t),
        frozen(q),
        frozen(kernel.floats),
        frozen(kernel.ints),
        out["review_index"],
        out["elapsed_days"],
        out["interval_before"],
        out["p_recall"],
        out["ef_before"],
        out["ef_after"],
        out["reps_after"],
        out["lapses_after"],
        out["interval_days"],
        due,
    )
    nullable = {"elapsed_days", "interval_before", "p_recall"}
    return reviews.with_columns(
        *[pl.Series(name, values, nan_to_null=name in nullable) for name, values in out.items()],
        micros_to_datetime(due, reviews["reviewed_at"], "due_at"),
    )
