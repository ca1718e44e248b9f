"""Many SM-2 parameter sets scored in one compiled pass (`transforms.sm2.kernel.score_sets`).

Per set, the update is the single-set engine's. Instead of keeping every prediction (1,000 sets
x 10M reviews would not fit in memory), each set adds its reviews' log loss and RMSE(bins) sums
to per-set, per-split accumulators. Sets that share a grading share one column of qualities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.sm2 import SM2Params
from transforms.sm2.card_order import CardOrder, epoch_micros
from transforms.sm2.grading import quality_codes, step_codes
from transforms.sm2.kernel import MICROS_PER_DAY, KernelParams, frozen, score_sets, threads
from transforms.tuning.bins import LAPSES, review_bins, rmse_from_sums

SPLITS = 2  # 0 = training learners, 1 = held-out learners


@dataclass(frozen=True)
class BatchScores:
    """One row per parameter set, one column per split (0 training, 1 held out)."""

    log_loss: np.ndarray
    rmse_bins: np.ndarray
    reviews: np.ndarray
    daily_workload: np.ndarray  # per set: reviews a day, per learner, to keep cards on schedule


def _grading_key(p: SM2Params) -> tuple[object, ...]:
    """What section 1 depends on: sets with the same key grade every attempt alike."""
    return (p.fail_quality, tuple(sorted(p.fast_ms.items())), tuple(sorted(p.slow_ms.items())))


def batch_scores(
    reviews: pl.DataFrame, params: list[SM2Params], held_out: np.ndarray, learners: int
) -> BatchScores:
    """Score every parameter set on the same graded reviews (card_id, reviewed_at, tiebreak,
    step_type, correct, response_time_ms). `held_out` marks held-out learners' reviews. The
    sets must share `review_unit`, which decides what the rows are."""
    if len({p.review_unit for p in params}) > 1:
        raise ValueError("batch_scores needs parameter sets that share review_unit")
    order = CardOrder.of(reviews.select("card_id", "reviewed_at", "tiebreak"))
    n, n_sets = reviews.height, len(params)
    t = order.in_card_order(epoch_micros(reviews["reviewed_at"]))
    elapsed = np.zeros(n)
    elapsed[1:] = (t[1:] - t[:-1]) / MICROS_PER_DAY  # a card's first review is never scored
    review_index = np.arange(n) - order.card_start_of_each() + 1
    # RMSE(bins) needs each bin's sums, not its global id: the bins the reviews reach, numbered
    # densely, keep the accumulators small enough to stay in cache
    base_ids, base_bin = np.unique(review_bins(elapsed, review_index), return_inverse=True)
    base_bin = base_bin.astype(np.int32)
    lapse_ids, lapse_bin = np.unique(
        LAPSES.lookup(np.arange(int(order.lengths.max(initial=0)) + 1.0)), return_inverse=True
    )
    n_bins = max(1, len(base_ids) * len(lapse_ids))
    split = order.in_card_order(held_out).astype(np.int8)

    kinds, step = step_codes(reviews["step_type"])
    correct = order.in_card_order(reviews["correct"].to_numpy())
    response_ms = order.in_card_order(reviews["response_time_ms"].to_numpy())
    step = order.in_card_order(step)
    gradings: dict[tuple[object, ...], SM2Params] = {}  # one set per distinct grading
    for p in params:
        gradings.setdefault(_grading_key(p), p)
    keys = list(gradings)
    grading_of_set = np.array([keys.index(_grading_key(p)) for p in params], dtype=np.int64)
    quality = np.stack(
        [quality_codes(correct, response_ms, step, kinds, p) for p in gradings.values()]
    ).reshape(len(gradings), n)

    blocks = max(1, math.ceil(2 * threads() / n_sets))  # enough tasks for every thread
    tasks = n_sets * blocks
    loss, count = np.zeros((tasks, SPLITS)), np.zeros((tasks, SPLITS))
    bins = np.zeros((tasks, SPLITS, n_bins, 3))  # per bin: count, passes, predicted recall
    inverse_interval = np.zeros(tasks)
    kernel = KernelParams.of(params)
    score_sets(
        frozen(order.starts),
        frozen(elapsed),
        frozen(base_bin),
        frozen(split),
        frozen(quality),
        frozen(grading_of_set),
        frozen(kernel.floats),
        frozen(kernel.ints),
        frozen(lapse_bin.astype(np.int64)),
        len(lapse_ids),
        blocks,
        loss,
        count,
        bins,
        inverse_interval,
    )
    loss = loss.reshape(n_sets, blocks, SPLITS).sum(axis=1)
    count = count.reshape(n_sets, blocks, SPLITS).sum(axis=1)
    sums = bins.reshape(n_sets, blocks, SPLITS, n_bins, 3).sum(axis=1)
    empty = count == 0  # a split without reviews has no score, not a perfect one
    return BatchScores(
        log_loss=np.where(empty, np.nan, loss / np.maximum(count, 1)),
        rmse_bins=np.where(empty, np.nan, rmse_from_sums(sums[..., 0], sums[..., 1], sums[..., 2])),
        reviews=count,
        daily_workload=inverse_interval.reshape(n_sets, blocks).sum(axis=1) / max(1, learners),
    )
