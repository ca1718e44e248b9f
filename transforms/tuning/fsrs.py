"""FSRS-6 beside SM-2: the same reviews, the same held-out learners, and what moving would gain.

FSRS-6 (`fsrs-rs-python`) runs with its default parameters and with parameters fitted on the
training learners' cards. Each graded review is an FSRS review: rating 1 (again) below
`pass_quality`, else 2, 3, 4 (hard, good, easy) for q = 3, 4, 5; `delta_t` is the whole UTC days
since the card's previous review, as FSRS counts them. A review's predicted recall is the
FSRS-6 forgetting curve at `delta_t` from the memory state after the card's previous reviews.

Workload is the reviews a day, per learner, that keep every card on schedule: 1 / the interval
each card ends on, SM-2's scheduled one, or FSRS's at a desired retention of 0.9 (whole days,
at least 1).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import fsrs_rs_python as fsrs
import numpy as np
import polars as pl
from numba import njit

from transforms.sm2 import SM2Params
from transforms.tuning.scoring import PREDICTIONS, score_table

DESIRED_RETENTION = 0.9
MAX_FIT_CARDS = 20_000  # training cards the parameters are fitted on (a seeded sample)
SCORE_SCHEMA = {
    "scope": pl.String,
    "group": pl.String,
    "model": pl.String,
    "reviews": pl.Int64,
    "log_loss": pl.Float64,
    "rmse_bins": pl.Float64,
    "auc": pl.Float64,
    "log_loss_low": pl.Float64,
    "log_loss_high": pl.Float64,
    "resampled": pl.String,
}  # score_table's columns, for a comparison without held-out reviews
FSRS_PREDICTIONS = {"FSRS-6 default": "p_fsrs_default", "FSRS-6 fitted": "p_fsrs_fitted"}
S_MIN, S_MAX = 0.001, 36500.0  # FSRS-6's bounds on stability (days)


@dataclass(frozen=True)
class FsrsComparison:
    parameters: list[float]  # the fitted FSRS-6 parameters (21)
    scores: pl.DataFrame  # score_table on held-out reviews, every model, with intervals
    verdict: pl.DataFrame  # per language and overall: log loss and workload, SM-2 vs FSRS


def fsrs_ratings(quality: pl.Expr, pass_quality: int) -> pl.Expr:
    """FSRS rating 1-4 from SM-2's quality 0-5."""
    return (
        pl.when(quality < pass_quality)
        .then(1)
        .otherwise((quality.cast(pl.Int32) - 1).clip(2, 4))
        .cast(pl.Int32)
    )


def _items(cards: pl.DataFrame) -> list[fsrs.FSRSItem]:
    """One FSRSItem per card of `cards` (card_key, rating, delta_t; by card then review)."""
    lengths = cards.group_by("card_key", maintain_order=True).len()["len"].to_list()
    reviews = [
        fsrs.FSRSReview(rating, delta)
        for rating, delta in zip(cards["rating"].to_list(), cards["delta_t"].to_list(), strict=True)
    ]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [fsrs.FSRSItem(reviews[lo:hi]) for lo, hi in itertools.pairwise(bounds)]


def recall(parameters: list[float], delta_t: np.ndarray, stability: np.ndarray) -> np.ndarray:
    """FSRS-6 forgetting curve: (1 + f t / S)^-decay, f set so that recall is 0.9 at t = S."""
    decay = parameters[20]
    factor = 0.9 ** (-1 / decay) - 1
    return np.power(1 + factor * delta_t / stability, -decay)


def next_interval_days(parameters: list[float], stability: np.ndarray) -> np.ndarray:
    """Whole days (at least 1) until recall falls to DESIRED_RETENTION."""
    decay = parameters[20]
    factor = 0.9 ** (-1 / decay) - 1
    days = stability / factor * (DESIRED_RETENTION ** (-1 / decay) - 1)
    return np.maximum(1.0, np.round(days))


@njit(cache=True, inline="always")
def _init_difficulty(w: np.ndarray, rating: int) -> float:
    return w[4] - math.exp(w[5] * (rating - 1)) + 1.0


@njit(cache=True)
def review_cards_fsrs(
    stability: np.ndarray,
    difficulty: np.ndarray,
    cards: np.ndarray,
    rating: np.ndarray,
    elapsed_days: np.ndarray,
    w: np.ndarray,
    desired_retention: float,
    interval: np.ndarray,
) -> None:
    """FSRS-6's memory-state step (as fsrs-rs computes it, in float64) for one review of rating
    `rating[j]` (1-4) on card `cards[j]`, `elapsed_days[j]` whole days after its previous
    review, in place on the state arrays (stability 0: a new card); `interval[c]` becomes the
    whole days (at least 1) until recall falls to `desired_retention`. The simulator's FSRS."""
    decay = w[20]
    factor = 0.9 ** (-1.0 / decay) - 1.0
    for j in range(len(cards)):
        c, g, t = cards[j], rating[j], elapsed_days[j]
        s, d = stability[c], difficulty[c]
        if s == 0.0:
            s_new = w[g - 1]
            d_new = _init_difficulty(w, g)
        else:
            if t == 0.0:  # same day: the short-term stability update
                gain = math.exp(w[17] * (g - 3 + w[18])) * s ** (-w[19])
                s_new = s * (max(gain, 1.0) if g >= 2 else gain)
            else:
                r = (1.0 + factor * t / s) ** (-decay)
                if g == 1:
                    after = w[11] * d ** (-w[12]) * ((s + 1.0) ** w[13] - 1.0)
                    s_new = min(after * math.exp((1.0 - r) * w[14]), s / math.exp(w[17] * w[18]))
                else:
                    bonus = (w[15] if g == 2 else 1.0) * (w[16] if g == 4 else 1.0)
                    s_new = s * (
                        math.exp(w[8])
                        * (11.0 - d)
                        * s ** (-w[9])
                        * (math.exp((1.0 - r) * w[10]) - 1.0)
                        * bonus
                        + 1.0
                    )
            d_step = d + (-w[6] * (g - 3)) * (10.0 - d) / 9.0
            d_new = w[7] * _init_difficulty(w, 4) + (1.0 - w[7]) * d_step
        stability[c] = min(max(s_new, S_MIN), S_MAX)
        difficulty[c] = min(max(d_new, 1.0), 10.0)
        days = stability[c] / factor * (desired_retention ** (-1.0 / decay) - 1.0)
        interval[c] = max(1.0, np.round(days))


def _states(parameters: list[float], items: list[fsrs.FSRSItem]) -> np.ndarray:
    """Stability after each review of each item, flattened in item then review order."""
    model = fsrs.FSRS(parameters)
    states = model.historical_memory_state_batch(items)
    return np.array([s.stability for card in states for s in card], dtype=np.float64)


def _predictions(
    parameters: list[float], items: list[fsrs.FSRSItem], graded: pl.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted recall of every review, null on a card's first; the interval every review
    schedules) under `parameters`. `graded` is by card then review, as the items."""
    stability = _states(parameters, items)
    first = graded["review_index"].to_numpy() == 1
    before = np.r_[np.nan, stability[:-1]]
    p = recall(parameters, graded["delta_t"].to_numpy().astype(np.float64), before)
    return np.where(first, np.nan, p), next_interval_days(parameters, stability)


def fit_parameters(items: list[fsrs.FSRSItem], seed: int) -> list[float]:
    """FSRS-6 parameters fitted on `items` (every card's history), as FSRS trains: one training
    item per review after a card's first, holding the history up to it."""
    rng = np.random.default_rng(seed)
    if len(items) > MAX_FIT_CARDS:
        items = [items[i] for i in np.sort(rng.choice(len(items), MAX_FIT_CARDS, replace=False))]
    histories = [item.reviews for item in items]
    train = [fsrs.FSRSItem(h[:k]) for h in histories for k in range(2, len(h) + 1)]
    if not train:
        return list(fsrs.DEFAULT_PARAMETERS)
    return list(fsrs.FSRS(fsrs.DEFAULT_PARAMETERS).compute_parameters(train))


def compare_fsrs(
    scored: pl.DataFrame,
    reviews: pl.DataFrame,
    held_out: pl.Series,
    params: SM2Params,
    draws: int,
    seed: int,
) -> FsrsComparison:
    """FSRS-6 (default and fitted on the training cards) against SM-2 and the baselines on the
    held-out reviews. `reviews` is `build_reviews(attempts, params)`; `scored` is
    `scored_reviews(reviews, params)` (its rows are `reviews`' non-first ones, by card then
    review); `held_out` is, per row of `reviews` in that order, whether it is held out."""
    graded = (
        reviews.with_columns(held_out.alias("_held"))
        .sort("card_key", "review_index")
        .with_columns(
            fsrs_ratings(pl.col("quality"), params.pass_quality).alias("rating"),
            (pl.col("reviewed_at").dt.date() - pl.col("reviewed_at").dt.date().shift(1))
            .over("card_key")
            .dt.total_days()
            .fill_null(0)
            .cast(pl.Int32)
            .alias("delta_t"),
        )
    )
    items = _items(graded)
    held_cards = graded.group_by("card_key", maintain_order=True).agg(pl.col("_held").first())
    training = [item for item, held in zip(items, held_cards["_held"], strict=True) if not held]
    fitted = fit_parameters(training, seed)
    p_default, _ = _predictions(list(fsrs.DEFAULT_PARAMETERS), items, graded)
    p_fitted, interval_fitted = _predictions(fitted, items, graded)
    graded = graded.with_columns(
        pl.Series("p_fsrs_default", p_default, nan_to_null=True),
        pl.Series("p_fsrs_fitted", p_fitted, nan_to_null=True),
        pl.Series("fsrs_interval_days", interval_fitted),
    )
    later = graded.filter(pl.col("review_index") > 1)
    held_scored = scored.with_columns(
        later["p_fsrs_default"], later["p_fsrs_fitted"], later["_held"]
    ).filter("_held")
    scores = (
        score_table(held_scored, draws, seed, {**PREDICTIONS, **FSRS_PREDICTIONS})
        if held_scored.height
        else pl.DataFrame(schema=SCORE_SCHEMA)
    )
    return FsrsComparison(fitted, scores, _verdict(scores, graded.filter("_held")))


def _verdict(scores: pl.DataFrame, held: pl.DataFrame) -> pl.DataFrame:
    """Per language, then overall: held-out log loss of SM-2 and FSRS-6 fitted, with intervals,
    and the daily workload per learner under each scheduler."""
    last = held.group_by("card_key", maintain_order=True).agg(
        pl.col("language", "user_id").last(),
        pl.col("interval_days").last(),
        pl.col("fsrs_interval_days").last(),
    )
    learners = pl.col("user_id").n_unique()
    per_learner = [
        ((1 / pl.col("interval_days")).sum() / learners).alias("sm2_daily_reviews"),
        ((1 / pl.col("fsrs_interval_days")).sum() / learners).alias("fsrs_daily_reviews"),
    ]
    workload = pl.concat(
        [
            last.group_by("language").agg(per_learner),
            last.select(pl.lit("all").alias("language"), *per_learner),
        ]
    )
    by_language = scores.filter(pl.col("scope").is_in(["overall", "language"])).with_columns(
        pl.when(pl.col("scope") == "overall")
        .then(pl.lit("all"))
        .otherwise(pl.col("group"))
        .alias("language")
    )

    def model(name: str, prefix: str) -> pl.DataFrame:
        return by_language.filter(pl.col("model") == name).select(
            "language",
            pl.col("reviews").alias("held_out_reviews"),
            pl.col("log_loss").alias(f"{prefix}_log_loss"),
            pl.col("log_loss_low").alias(f"{prefix}_log_loss_low"),
            pl.col("log_loss_high").alias(f"{prefix}_log_loss_high"),
        )

    return (
        model("SM-2", "sm2")
        .join(model("FSRS-6 fitted", "fsrs").drop("held_out_reviews"), on="language")
        .join(
            model("FSRS-6 default", "fsrs_default").select("language", "fsrs_default_log_loss"),
            on="language",
        )
        .join(workload, on="language", how="left")
        .with_columns(
            (pl.col("sm2_log_loss") - pl.col("fsrs_log_loss")).alias("log_loss_gain"),
            (pl.col("fsrs_daily_reviews") / pl.col("sm2_daily_reviews") - 1).alias(
                "workload_change"
            ),
        )
        .sort(pl.col("language") == "all", "language")
    )
