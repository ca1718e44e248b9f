"""Scoring recall predictions against outcomes: the model evaluation of the tuning lab's tables
(docs/tables.md, Tuning lab) and of the SM-2 report.

Every function takes NumPy arrays or Polars Series: `p` predicted recall, `y` outcomes
(1 = passed), over graded non-first reviews.
"""

from __future__ import annotations

import numpy as np
import polars as pl

ArrayLike = np.ndarray | pl.Series
CLIP = 1e-6


def _array(values: ArrayLike, dtype: type = np.float64) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.to_numpy().astype(dtype)
    return np.asarray(values, dtype=dtype)


def log_loss(p: ArrayLike, y: ArrayLike) -> float:
    """Mean of -(y ln p + (1 - y) ln(1 - p)), p clipped to [1e-6, 1 - 1e-6]."""
    pp = np.clip(_array(p), CLIP, 1 - CLIP)
    yy = _array(y)
    return float(np.mean(-(yy * np.log(pp) + (1 - yy) * np.log(1 - pp))))


def auc(p: ArrayLike, y: ArrayLike) -> float:
    """ROC AUC of p against y, ties counted half (the Mann-Whitney statistic)."""
    pp, yy = _array(p), _array(y).astype(bool)
    n_pos, n_neg = int(yy.sum()), int((~yy).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(pp, kind="mergesort")
    sorted_p = pp[order]
    # average ranks (1-based), ties sharing the mean of their positions
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1]
    ends = np.r_[starts[1:], len(sorted_p)]
    mean_rank = (starts + ends + 1) / 2.0
    ranks = np.empty(len(pp))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return float((ranks[yy].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _bin_key(values: np.ndarray, scale: float, base: float, digits: int) -> np.ndarray:
    """round(scale * base^floor(ln(v) / ln(base)), digits); v <= 0 has key 0."""
    out = np.zeros(len(values))
    positive = values > 0
    exponent = np.floor(np.log(values[positive]) / np.log(base))
    out[positive] = np.round(scale * np.power(base, exponent), digits)
    return out


def rmse_bins(
    p: ArrayLike,
    y: ArrayLike,
    elapsed_days: ArrayLike,
    review_index: ArrayLike,
    lapses_before: ArrayLike,
) -> float:
    """srs-benchmark's RMSE(bins): reviews grouped by three keys (elapsed days, review index,
    lapses before), then sqrt(sum_b n_b (mean y_b - mean p_b)^2 / sum_b n_b)."""
    keys = pl.DataFrame(
        {
            "e": _bin_key(_array(elapsed_days), 2.48, 3.62, 2),
            "i": _bin_key(_array(review_index), 1.99, 1.89, 0),
            "l": _bin_key(_array(lapses_before), 1.65, 1.73, 0),
            "p": _array(p),
            "y": _array(y),
        }
    )
    bins = (
        keys.group_by("e", "i", "l")
        .agg(pl.len().alias("n"), pl.col("y").mean(), pl.col("p").mean())
        .sort("e", "i", "l")  # a fixed order, so the float sums repeat exactly
    )
    n = bins["n"].to_numpy().astype(np.float64)
    err = (bins["y"] - bins["p"]).to_numpy()
    return float(np.sqrt(np.sum(n * err * err) / np.sum(n)))


def calibration_table(p: ArrayLike, y: ArrayLike, bins: int = 10) -> pl.DataFrame:
    """Predicted recall in `bins` equal-width bins against observed recall, with counts."""
    pp, yy = _array(p), _array(y)
    index = np.minimum((pp * bins).astype(np.int64), bins - 1)
    frame = pl.DataFrame({"bin": index, "p": pp, "y": yy})
    return (
        frame.group_by("bin")
        .agg(
            pl.len().alias("reviews"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed"),
        )
        .with_columns(
            (pl.col("bin") / bins).alias("bin_low"), ((pl.col("bin") + 1) / bins).alias("bin_high")
        )
        .sort("bin")
        .select("bin_low", "bin_high", "reviews", "mean_predicted", "observed")
    )
