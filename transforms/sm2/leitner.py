"""Section 5: the Leitner boxes the app used, replayed on the same reviews for comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from transforms.sm2.layout import MICROS_PER_DAY, ReviewLayout, epoch_micros, micros_to_datetime

BOX_DAYS: Mapping[int, float] = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def replay_leitner(
    reviews: pl.DataFrame,
    box_days: Mapping[int, float] = BOX_DAYS,
    target_recall: float = 0.9,
    layout: ReviewLayout | None = None,
) -> pl.DataFrame:
    """Box 0 = new; a passed review moves the card up one box (at most the top), a failed one
    to box 1. `reviews` has `card_id`, `reviewed_at`, `passed` (bool), optional `tiebreak`.
    Adds `review_index`, `elapsed_days`, `box_before`, `box_after`, `interval_before`,
    `interval_days`, `p_recall`, `due_at`."""
    from transforms.sm2.replay import review_layout

    layout = layout or review_layout(reviews)
    n = reviews.height
    top = max(box_days)
    days = np.zeros(top + 1)
    for level, d in box_days.items():
        days[level] = d
    passed_all = reviews["passed"].to_numpy().astype(bool)
    t_all = epoch_micros(reviews["reviewed_at"])
    index = np.empty(n, dtype=np.int64)
    elapsed = np.full(n, np.nan)
    box_before = np.empty(n, dtype=np.int64)
    box_after = np.empty(n, dtype=np.int64)
    for chunk in layout.chunks:
        rows = chunk.step_rows
        passed, t = passed_all[rows], t_all[rows]
        box = np.zeros(chunk.n_cards, dtype=np.int64)
        last_t = np.zeros(chunk.n_cards, dtype=np.int64)
        c_index = np.empty(len(rows), dtype=np.int64)
        c_elapsed = np.full(len(rows), np.nan)
        c_before = np.empty(len(rows), dtype=np.int64)
        c_after = np.empty(len(rows), dtype=np.int64)
        for k, sl, m in chunk.steps():
            c_index[sl] = k + 1
            c_before[sl] = box[:m]
            if k > 0:
                c_elapsed[sl] = (t[sl] - last_t[:m]) / MICROS_PER_DAY
            box[:m] = np.where(passed[sl], np.minimum(box[:m] + 1, top), 1)
            c_after[sl] = box[:m]
            last_t[:m] = t[sl]
        index[rows], elapsed[rows] = c_index, c_elapsed
        box_before[rows], box_after[rows] = c_before, c_after
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
