"""Many SM-2 parameter sets in one vectorized pass: (parameter sets x cards), step-synchronous.

Per set, the arithmetic is the single-set engine's (`transforms.sm2.replay`). Instead of keeping
every prediction (100 sets x 10M reviews would not fit in memory), each step adds its reviews'
log loss and RMSE(bins) sums to per-set, per-split accumulators; cards go in chunks so the
(sets x cards) state stays bounded.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.sm2 import SM2Params
from transforms.sm2.layout import MICROS_PER_DAY, ReviewLayout, StepLayout, epoch_micros
from transforms.sm2.update import UpdateParams, sm2_update
from transforms.tuning.bins import N_BINS, bin_ids, rmse_from_sums

CLIP = 1e-6
SPLITS = 2  # 0 = training learners, 1 = held-out learners


@dataclass(frozen=True)
class BatchScores:
    """One row per parameter set, one column per split (0 training, 1 held out)."""

    log_loss: np.ndarray
    rmse_bins: np.ndarray
    reviews: np.ndarray
    daily_workload: np.ndarray  # per set: reviews a day, per learner, to keep cards on schedule


def quality_matrix(reviews: pl.DataFrame, params: list[SM2Params]) -> np.ndarray:
    """(sets x reviews) quality under each set's grading (section 1 of docs/sm2.md)."""
    kinds, step_id = np.unique(reviews["step_type"].to_numpy(), return_inverse=True)
    fast = np.array([[p.threshold("fast", k) for k in kinds] for p in params])
    slow = np.array([[p.threshold("slow", k) for k in kinds] for p in params])
    fail = np.array([[p.fail_quality] for p in params])
    rt = reviews["response_time_ms"].to_numpy()[None, :]
    correct = reviews["correct"].to_numpy()[None, :]
    five, four, three = np.int8(5), np.int8(4), np.int8(3)
    q = np.where(rt <= fast[:, step_id], five, np.where(rt <= slow[:, step_id], four, three))
    return np.where(correct, q, fail.astype(np.int8))


class _Accumulators:
    def __init__(self, n_sets: int) -> None:
        self.n_sets = n_sets
        self.loss = np.zeros(n_sets * SPLITS)
        self.count = np.zeros(n_sets * SPLITS)
        self.bins = np.zeros((3, n_sets * SPLITS * N_BINS))  # n, sum y, sum p
        self.inverse_interval = np.zeros(n_sets)

    def add(self, p: np.ndarray, y: np.ndarray, split: np.ndarray, bins: np.ndarray) -> None:
        sets = np.arange(self.n_sets)[:, None]
        cell = (sets * SPLITS + split[None, :]).ravel()
        ll = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        size = self.n_sets * SPLITS
        self.loss += np.bincount(cell, weights=ll.ravel(), minlength=size)
        self.count += np.bincount(cell, minlength=size)
        flat = cell * N_BINS + bins.ravel()
        total = size * N_BINS
        self.bins[0] += np.bincount(flat, minlength=total)
        self.bins[1] += np.bincount(flat, weights=y.ravel(), minlength=total)
        self.bins[2] += np.bincount(flat, weights=p.ravel(), minlength=total)

    def scores(self, learners: int) -> BatchScores:
        shape = (self.n_sets, SPLITS)
        count = self.count.reshape(shape)
        n, sy, sp = (b.reshape(self.n_sets, SPLITS, N_BINS) for b in self.bins)
        empty = count == 0  # a split without reviews has no score, not a perfect one
        return BatchScores(
            log_loss=np.where(empty, np.nan, self.loss.reshape(shape) / np.maximum(count, 1)),
            rmse_bins=np.where(empty, np.nan, rmse_from_sums(n, sy, sp)),
            reviews=count,
            daily_workload=self.inverse_interval / max(1, learners),
        )


def _params_column(params: list[SM2Params], name: str) -> np.ndarray:
    return np.array([[float(getattr(p, name))] for p in params])


def _replay_chunk(
    reviews: pl.DataFrame, split: np.ndarray, params: list[SM2Params], acc: _Accumulators
) -> None:
    quality = quality_matrix(reviews, params)  # per chunk: (sets x chunk) stays small
    layout = ReviewLayout.build(
        reviews.select("card_id", "reviewed_at", "tiebreak"), ["card_id", "reviewed_at", "tiebreak"]
    )
    for chunk in layout.chunks:
        _replay_cards(chunk, quality, reviews, split, params, acc)


def _replay_cards(
    layout: StepLayout,
    quality: np.ndarray,
    reviews: pl.DataFrame,
    split: np.ndarray,
    params: list[SM2Params],
    acc: _Accumulators,
) -> None:
    n_sets, cards = len(params), layout.n_cards
    q = quality[:, layout.step_rows]
    t = epoch_micros(reviews["reviewed_at"])[layout.step_rows]
    sp = split[layout.step_rows]
    update = UpdateParams.columns(params)
    target_recall = _params_column(params, "target_recall")
    ef = np.repeat(_params_column(params, "ef_init"), cards, axis=1)
    reps = np.zeros((n_sets, cards), dtype=np.int64)
    interval = np.zeros((n_sets, cards))
    lapses = np.zeros((n_sets, cards), dtype=np.int64)
    last_t = np.zeros(cards, dtype=np.int64)
    for k, sl, m in layout.steps():
        iv = interval[:, :m]
        ef_a, reps_after, iv_after, passed = sm2_update(
            ef[:, :m], reps[:, :m], iv, q[:, sl], update
        )
        if k > 0:
            elapsed = (t[sl] - last_t[:m]) / MICROS_PER_DAY
            p = np.clip(np.power(target_recall, elapsed[None, :] / iv), CLIP, 1 - CLIP)
            bins = bin_ids(
                np.broadcast_to(elapsed, (n_sets, m)), np.full((n_sets, m), k + 1), lapses[:, :m]
            )
            acc.add(p, passed.astype(np.float64), sp[sl], bins)
        reps[:, :m] = reps_after
        lapses[:, :m] += ~passed
        interval[:, :m] = iv_after
        ef[:, :m] = ef_a
        last_t[:m] = t[sl]
    acc.inverse_interval += (1.0 / interval).sum(axis=1)


def batch_scores(
    reviews: pl.DataFrame,
    params: list[SM2Params],
    held_out: np.ndarray,
    learners: int,
    chunk_cards: int | None = None,
) -> BatchScores:
    """Score every parameter set on the same graded reviews (card_id, reviewed_at, tiebreak,
    step_type, correct, response_time_ms). `held_out` marks held-out learners' reviews. The
    sets must share `review_unit`, which decides what the rows are."""
    if len({p.review_unit for p in params}) > 1:
        raise ValueError("batch_scores needs parameter sets that share review_unit")
    split = held_out.astype(np.int64)
    chunk_cards = chunk_cards or max(2_000, 4_000_000 // len(params))
    card_rank = np.unique(reviews["card_id"].to_numpy(), return_inverse=True)[1]
    chunk_of = card_rank // chunk_cards
    acc = _Accumulators(len(params))
    order = np.argsort(chunk_of, kind="stable")
    bounds = np.searchsorted(chunk_of[order], np.arange(chunk_of.max() + 2))
    for lo, hi in itertools.pairwise(bounds):
        rows = order[lo:hi]
        if len(rows):
            _replay_chunk(reviews[rows], split[rows], params, acc)
    return acc.scores(learners)
