"""Section 5 of docs/sm2.md: the Leitner boxes the app used, replayed on the same reviews for
comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from transforms.sm2.card_order import CardOrder, epoch_micros, micros_to_datetime
from transforms.sm2.kernel import MICROS_PER_DAY
from transforms.sm2.replay import CardStart

BOX_DAYS: Mapping[int, float] = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def replay_leitner(
    reviews: pl.DataFrame,
    box_days: Mapping[int, float] = BOX_DAYS,
    target_recall: float = 0.9,
    order: CardOrder | None = None,
    start: CardStart | None = None,
) -> pl.DataFrame:
    """Box 0 = new; a passed review moves the card up one box (at most the top), a failed one
    to box 1. `reviews` has `card_id`, `reviewed_at`, `passed` (bool), optional `tiebreak`.
    Adds `review_index`, `elapsed_days`, `box_before`, `box_after`, `interval_before`,
    `interval_days`, `p_recall`, `due_at`.

    A card may resume after stored reviews (`start`, of the same `order`: the reviews done,
    the last one's time and the box it left); without `start` every card starts new."""
    order = order or CardOrder.of(reviews)
    n = reviews.height
    top = max(box_days)
    days = np.zeros(top + 1)
    for level, d in box_days.items():
        days[level] = d
    # Box after a review, in closed form over each card's reviews in time order: 1 after a
    # miss; after a pass, the passes since the card's last miss, plus 1 if it had one, or plus
    # the box it started in if none (capped).
    rows = order.rows
    t_all = epoch_micros(reviews["reviewed_at"])
    passed, t = reviews["passed"].to_numpy().astype(bool)[rows], t_all[rows]
    pos = np.arange(n)
    lengths = order.lengths
    card_start = order.card_start_of_each()
    if start is None or len(start.reviews) == 0:
        done = last_t = box = np.zeros(len(lengths), dtype=np.int64)
    else:
        done, last_t = start.reviews, start.last_t
        box = np.where(start.reviews > 0, start.box, 0)
    last_miss = np.maximum.accumulate(np.where(passed, -1, pos))
    missed_before = last_miss >= card_start
    run = pos - np.maximum(last_miss, card_start - 1)
    base = np.where(missed_before, 1, np.repeat(box, lengths))
    after = np.where(passed, np.minimum(run + base, top), 1)
    first = pos == card_start  # the card's first review here
    before = np.zeros(n, dtype=np.int64)
    before[1:] = after[:-1]
    before[first] = np.repeat(box, lengths)[first]
    previous_t = np.zeros(n, dtype=np.int64)
    previous_t[1:] = t[:-1]
    previous_t[first] = np.repeat(last_t, lengths)[first]
    resumed = np.repeat(done > 0, lengths)
    gap = np.where(~first | resumed, (t - previous_t) / MICROS_PER_DAY, np.nan)
    index = order.in_row_order(pos - card_start + 1 + np.repeat(done, lengths))
    elapsed = order.in_row_order(gap)
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
