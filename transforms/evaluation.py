"""Scoring recall predictions against outcomes: the model evaluation of the tuning lab's tables
(docs/tables.md, Tuning lab), of the SM-2 report, of the compiled scorer and the simulator's
memory model. Stated once here: the scored history (`review_history`), the log loss and its
clip, RMSE(bins) and its bin keys, AUC, calibration, and the point scores of a prediction.

The scoring functions take NumPy arrays or Polars Series: `p` predicted recall, `y` outcomes
(1 = passed), over graded non-first reviews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

ArrayLike = np.ndarray | pl.Series
CLIP = 1e-6  # predictions are clipped to [CLIP, 1 - CLIP] before a logarithm


def review_history(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """The reviews a prediction is scored on: graded reviews after a card's first
    (`review_index` > 1), in their order, with the outcome `y` (1 = passed: quality at least
    `pass_quality`) and the card's earlier reviews that passed (`passes_before`) and failed
    (`lapses_before`). `reviews` has `review_index`, `quality` and `lapses_after` (SM-2's lapse
    count after the review: every failed review is a lapse), as `build_reviews` gives them."""
    y = (pl.col("quality") >= pass_quality).cast(pl.Int32)
    lapses_before = pl.col("lapses_after") - (1 - y)
    return reviews.filter(pl.col("review_index") > 1).with_columns(
        y.alias("y"),
        lapses_before.alias("lapses_before"),
        (pl.col("review_index") - 1 - lapses_before).alias("passes_before"),
    )


def _array(values: ArrayLike, dtype: type = np.float64) -> np.ndarray:
    if isinstance(values, pl.Series):
        return values.to_numpy().astype(dtype)
    return np.asarray(values, dtype=dtype)


def log_losses(p: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Each review's -(y ln p + (1 - y) ln(1 - p)), p clipped to [CLIP, 1 - CLIP]."""
    pp = np.clip(_array(p), CLIP, 1 - CLIP)
    yy = _array(y)
    return -(yy * np.log(pp) + (1 - yy) * np.log(1 - pp))


def log_loss(p: ArrayLike, y: ArrayLike) -> float:
    """The mean of `log_losses`."""
    return float(np.mean(log_losses(p, y)))


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


@dataclass(frozen=True)
class BinKey:
    """One of RMSE(bins)' three keys (srs-benchmark's constants): a value v > 0 falls in
    round(scale * base^floor(ln(v) / ln(base)), digits); v <= 0 has key 0."""

    scale: float
    base: float
    digits: int

    def of(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(values))
        positive = values > 0
        exponent = np.floor(np.log(values[positive]) / np.log(self.base))
        out[positive] = np.round(self.scale * np.power(self.base, exponent), self.digits)
        return out


ELAPSED_KEY = BinKey(2.48, 3.62, 2)  # days since the card's previous review
REVIEW_INDEX_KEY = BinKey(1.99, 1.89, 0)
LAPSES_KEY = BinKey(1.65, 1.73, 0)  # lapses before the review


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
            "e": ELAPSED_KEY.of(_array(elapsed_days)),
            "i": REVIEW_INDEX_KEY.of(_array(review_index)),
            "l": LAPSES_KEY.of(_array(lapses_before)),
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


def point_scores(frame: pl.DataFrame, column: str) -> dict[str, float]:
    """Log loss, RMSE(bins) and AUC of the predictions in `column` against the outcome `y`;
    `frame` is a `review_history` (for the bins: `elapsed_days`, `review_index`,
    `lapses_before`)."""
    p, y = frame[column], frame["y"]
    return {
        "log_loss": log_loss(p, y),
        "rmse_bins": rmse_bins(
            p, y, frame["elapsed_days"], frame["review_index"], frame["lapses_before"]
        ),
        "auc": auc(p, y),
    }
