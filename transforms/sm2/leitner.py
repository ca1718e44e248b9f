"""Section 5: the Leitner boxes the app used, replayed on the same reviews for comparison."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from transforms.sm2.layout import MICROS_PER_DAY, StepLayout, epoch_micros, micros_to_datetime

BOX_DAYS: Mapping[int, float] = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}


def replay_leitner(
    reviews: pl.DataFrame,
    box_days: Mapping[int, float] = BOX_DAYS,
    target_recall: float = 0.9,
    layout: StepLayout | None = None,
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
    passed = layout.gather(reviews["passed"].to_numpy().astype(bool))
    t = layout.gather(epoch_micros(reviews["reviewed_at"]))
    box = np.zeros(layout.n_cards, dtype=np.int64)
    last_t = np.zeros(layout.n_cards, dtype=np.int64)
    out_index = np.empty(n, dtype=np.int64)
    out_elapsed = np.full(n, np.nan)
    out_box_before = np.empty(n, dtype=np.int64)
    out_box = np.empty(n, dtype=np.int64)
    for k, sl, m in layout.steps():
        out_index[sl] = k + 1
        out_box_before[sl] = box[:m]
        if k > 0:
            out_elapsed[sl] = (t[sl] - last_t[:m]) / MICROS_PER_DAY
        box[:m] = np.where(passed[sl], np.minimum(box[:m] + 1, top), 1)
        out_box[sl] = box[:m]
        last_t[:m] = t[sl]
    interval_before = np.where(out_index > 1, days[out_box_before], np.nan)
    interval = days[out_box]
    due = t + np.round(interval * MICROS_PER_DAY).astype(np.int64)
    recall = np.power(target_recall, out_elapsed / interval_before)
    elapsed, before, interval_days, p_recall = layout.scatter(
        out_elapsed, interval_before, interval, recall
    )
    index, box_before, box_after, due_at = layout.scatter(out_index, out_box_before, out_box, due)
    return reviews.with_columns(
        pl.Series("review_index", index, dtype=pl.Int32),
        pl.Series("elapsed_days", elapsed, nan_to_null=True),
        pl.Series("box_before", box_before, dtype=pl.Int8),
        pl.Series("box_after", box_after, dtype=pl.Int8),
        pl.Series("interval_before", before, nan_to_null=True),
        pl.Series("interval_days", interval_days),
        pl.Series("p_recall", p_recall, nan_to_null=True),
        micros_to_datetime(due_at, reviews["reviewed_at"], "due_at"),
    )
