"""RMSE(bins) keys as small integer ids, so bins can be accumulated step by step.

A key is `round(scale * base^floor(ln(v) / ln(base)), digits)` (0 for v <= 0): a function of an
integer exponent. A table of every exponent's key, deduplicated, turns values into global ids
without seeing all values first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transforms.evaluation import ELAPSED_KEY, LAPSES_KEY, REVIEW_INDEX_KEY, BinKey


@dataclass(frozen=True)
class KeyTable:
    base: float
    lowest: int  # the first exponent in the table; exponents outside it are clipped
    ids: np.ndarray  # id of each exponent's key, from `lowest`
    size: int
    zero: int  # id of key 0 (values <= 0)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, self.zero, dtype=np.int64)
        positive = values > 0
        exponent = np.floor(np.log(values[positive]) / np.log(self.base)).astype(np.int64)
        out[positive] = self.ids[np.clip(exponent - self.lowest, 0, len(self.ids) - 1)]
        return out


def _table(key: BinKey, lowest: int, highest: int) -> KeyTable:
    exponents = np.arange(lowest, highest + 1, dtype=np.float64)
    keys = np.round(key.scale * np.power(key.base, exponents), key.digits)
    uniques, ids = np.unique(np.r_[0.0, keys], return_inverse=True)
    return KeyTable(
        base=key.base,
        lowest=lowest,
        ids=ids[1:].astype(np.int64),
        size=len(uniques),
        zero=int(ids[0]),
    )


# Exponent ranges cover what reviews can reach: elapsed from ~1e-8 days (keys round to 0 below)
# to 3.62^12 days (~5 million years); review index and lapses up to 1.89^25 and 1.73^30.
ELAPSED = _table(ELAPSED_KEY, -15, 12)
REVIEW_INDEX = _table(REVIEW_INDEX_KEY, 0, 25)
LAPSES = _table(LAPSES_KEY, 0, 30)
N_BINS = ELAPSED.size * REVIEW_INDEX.size * LAPSES.size


def review_bins(elapsed_days: np.ndarray, review_index: np.ndarray) -> np.ndarray:
    """The (elapsed, review index) part of each review's bin: the bin is
    `review_bins(...) * LAPSES.size + LAPSES.lookup(lapses_before)`."""
    e = ELAPSED.lookup(elapsed_days)
    return e * REVIEW_INDEX.size + REVIEW_INDEX.lookup(review_index.astype(np.float64))


def rmse_from_sums(n: np.ndarray, sum_y: np.ndarray, sum_p: np.ndarray) -> np.ndarray:
    """RMSE(bins) from per-bin counts and sums (the last axis is the bins)."""
    safe = np.maximum(n, 1)
    sq = np.where(n > 0, n * (sum_y / safe - sum_p / safe) ** 2, 0.0)
    return np.sqrt(sq.sum(axis=-1) / np.maximum(n.sum(axis=-1), 1))
