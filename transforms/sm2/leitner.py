"""Section 5 of docs/sm2.md: the Leitner boxes the app used, replayed on the same reviews for
comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from transforms.sm2.card_order import CardOrder, epoch_micros, micros_to_datetime
from transforms.sm2.kernel import MICROS_PER_DAY

BOX_DAYS: Mapping[int, float] = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def replay_leitner(
    reviews: pl.DataFrame,
    box_days: Mapping[int, float] = BOX_DAYS,
    target_recall: float = 0.9,
    order: CardOrder | None = None,
) -> pl.DataFrame:
    """Box 0 = new; a passed review moves the card up one box (at most the top), a failed one
    to box 1. `reviews` has `card_id`, `reviewed_at`, `passed` (bool), optional `tiebreak`.
    Adds `review_index`, `elapsed_days`, `box_before`, `box_after`, `interval_before`,
    `interval_days`, `p_recall`, `due_at`."""
    order = order or CardOrder.of(reviews)
    n = reviews.height
    top = max(box_days)
    days = np.zeros(top + 1)
    for level, d in box_days.items():
        days[level] = d
    # Box after a review, in closed form over each card's reviews in time order: 1 after a
    # miss; after a pass, the passes since the card's last miss, plus 1 if it had one (capped).
    rows = order.rows
    t_all = epoch_micros(reviews["reviewed_at"])
    passed, t = reviews["passed"].to_numpy().astype(bool)[rows], t_all[rows]
    pos = np.arange(n)
    start = order.card_start_of_each()
    last_miss = np.maximum.accumulate(np.where(passed, -1, pos))
    missed_before = last_miss >= start
    run = pos - np.maximum(last_miss, start - 1)
    after = np.where(passed, np.minimum(run + missed_before, top), 1)
    later = pos > start  # not the card's first review
    before = np.zeros(n, dtype=np.int64)
    before[1:] = np.where(later[1:], after[:-1], 0)
    gap = np.full(n, np.nan)
    gap[1:] = np.where(later[1:], (t[1:] - t[:-1]) / MICROS_PER_DAY, np.nan)
    index, elapsed = order.in_row_order(pos - start + 1), order.in_row_order(gap)
    box_before, box_after = order.in_row_order(before), order.in_row_order(after)
    interval_before = np.where(index > 1, days[box_before], np.nan)
    interval = days[box_after]
    due = t_all + np.round(interval * MICROS_PER_DAY).astype(np.int64)
    return reviews.with_columns(
        pl.Series("review_index", index, dtype=pl.Int32),
        pl.Series("elapsed_days", elapsed, nan_to_null=True),
        pl.Series("box_before", box_before, dtype=pl.Int8),
        pl.Series("box_after", box_after, dtype=pl.Int8),
        pl.Series("interval_before", interval_before, nan_to_null=True),
        pl.Series("interval_days", interval),
        pl.Series("p_recall", np.power(target_recall, elapsed / interval_before), nan_to_null=True),
        micros_to_datetime(due, reviews["reviewed_at"], "due_at"),
    )
