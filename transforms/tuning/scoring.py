"""Score one parameter set on history: SM-2's predictions against the baselines, overall, per
language and per step type, with bootstrap 95% intervals from resampling learners."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np
import polars as pl

from transforms.evaluation import CLIP, log_loss, log_losses, point_scores, review_history
from transforms.sm2 import SM2Params


def held_out_learners(user_ids: pl.Series, share: float = 0.2) -> pl.Series:
    """A stable split by a hash of user_id: True for the held-out `share` of learners."""

    def bucket(user: str) -> float:
        return int(hashlib.sha256(user.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

    return user_ids.map_elements(lambda u: bucket(u) < share, return_dtype=pl.Boolean)


def scored_reviews(reviews: pl.DataFrame, params: SM2Params) -> pl.DataFrame:
    """The `review_history` (by card, then review) with every model's prediction:
    `p_sm2`, `p_leitner`, `p_constant` (mean recall), `p_hlr` (2^(-elapsed/h), h = 2^(passes -
    lapses) days over the card's previous reviews; Settles & Meeder 2016). `reviews` is
    `build_reviews(attempts, params)`."""
    graded = review_history(reviews.sort("card_key", "review_index"), params.pass_quality)
    mean_recall = float(graded.select(pl.col("y").mean()).item()) if graded.height else 0.5
    return graded.select(
        "user_id",
        "language",
        "word_uid",
        "step_type",
        "elapsed_days",
        "review_index",
        "lapses_before",
        "y",
        pl.col("p_recall").alias("p_sm2"),
        pl.col("leitner_p_recall").alias("p_leitner"),
        pl.lit(mean_recall).alias("p_constant"),
        (
            2.0
            ** (
                -pl.col("elapsed_days")
                / (2.0 ** (pl.col("passes_before") - pl.col("lapses_before")))
            )
        ).alias("p_hlr"),
    )


PREDICTIONS = {
    "SM-2": "p_sm2",
    "Leitner": "p_leitner",
    "constant mean": "p_constant",
    "HLR-Leitner": "p_hlr",
}


def _bootstrap_log_loss(
    frame: pl.DataFrame, column: str, draws: int, seed: int, unit: list[str]
) -> tuple[float, float]:
    """95% interval of log loss, resampling `unit` (learners, or cards) with replacement."""
    losses = log_losses(frame[column], frame["y"])
    keys = frame.select(pl.concat_str(unit, separator="|").alias("u"))["u"]
    # Per unit, in key order: a stable sort and sequential sums, so the sums (and the draws
    # that weight them) are the same to the last bit on every run, as a parallel group_by's
    # are not.
    ordered = pl.DataFrame({"u": keys, "l": losses}).sort("u", maintain_order=True)
    unit_key = ordered["u"]
    starts = np.flatnonzero((unit_key != unit_key.shift(1)).fill_null(True).to_numpy())
    sums = np.add.reduceat(ordered["l"].to_numpy(), starts)
    counts = np.diff(np.r_[starts, ordered.height]).astype(np.float64)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(sums), np.full(len(sums), 1 / len(sums)), size=draws)
    stats = (weights @ sums) / np.maximum(weights @ counts, 1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


MIN_LEARNERS_TO_RESAMPLE = 10


def score_table(
    scored: pl.DataFrame,
    draws: int = 200,
    seed: int = 0,
    predictions: Mapping[str, str] = PREDICTIONS,
) -> pl.DataFrame:
    """One row per (scope, group, model): reviews, log loss with its bootstrap interval,
    RMSE(bins) and AUC; scopes are overall, language and step type; `predictions` maps each
    model to its column. The bootstrap resamples learners, or cards when there are fewer than
    10 learners (`resampled`)."""
    by_learner = scored["user_id"].n_unique() >= MIN_LEARNERS_TO_RESAMPLE
    unit = ["user_id"] if by_learner else ["user_id", "language", "word_uid"]
    rows = []
    scopes = [("overall", None), ("language", "language"), ("step_type", "step_type")]
    for scope, column in scopes:
        groups = (
            [("all", scored)]
            if column is None
            else [(str(key[0]), part) for key, part in scored.group_by(column, maintain_order=True)]
        )
        for group, part in sorted(groups, key=lambda g: g[0]):
            if part.height == 0:
                continue
            for model, pcol in predictions.items():
                low, high = _bootstrap_log_loss(part, pcol, draws, seed, unit)
                rows.append(
                    {
                        "scope": scope,
                        "group": group,
                        "model": model,
                        "reviews": part.height,
                        **point_scores(part, pcol),
                        "log_loss_low": low,
                        "log_loss_high": high,
                        "resampled": "learners" if by_learner else "cards",
                    }
                )
    return pl.DataFrame(rows)


def fit_target_recall(elapsed: np.ndarray, interval_before: np.ndarray, y: np.ndarray) -> float:
    """Maximum-likelihood `target_recall` t for p = t^(elapsed / interval_before): a
    golden-section search of the log likelihood, which is concave in ln t."""
    ratio = elapsed / interval_before

    def nll(t: float) -> float:
        return float(log_losses(np.power(t, ratio), y).sum())

    lo, hi = 1e-4, 1 - CLIP
    golden = (np.sqrt(5) - 1) / 2
    a, b = hi - golden * (hi - lo), lo + golden * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - golden * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + golden * (hi - lo)
            fb = nll(b)
    return (lo + hi) / 2


def target_recall_fits(reviews: pl.DataFrame, params: SM2Params) -> pl.DataFrame:
    """Per language: the fitted `target_recall`, and the log loss it gains over the set one.
    `reviews` is `build_reviews(attempts, params)`."""
    reviews = reviews.filter(pl.col("review_index") > 1)
    rows = []
    for (language,), part in reviews.group_by("language", maintain_order=True):
        elapsed = part["elapsed_days"].to_numpy()
        before = part["interval_before"].to_numpy()
        y = (part["quality"] >= params.pass_quality).to_numpy().astype(np.float64)
        fitted = fit_target_recall(elapsed, before, y)
        base = log_loss(np.power(params.target_recall, elapsed / before), y)
        tuned = log_loss(np.power(fitted, elapsed / before), y)
        rows.append(
            {
                "language": language,
                "reviews": part.height,
                "target_recall": params.target_recall,
                "fitted_target_recall": fitted,
                "log_loss": base,
                "fitted_log_loss": tuned,
                "log_loss_gain": base - tuned,
            }
        )
    return pl.DataFrame(rows).sort("language") if rows else pl.DataFrame()
