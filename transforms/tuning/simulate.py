"""A workload/retention simulator for candidate SM-2 parameter sets.

Memory model, fitted per language by maximum likelihood on the history: recall after `t` days is
exp(-t / S); a card's stability starts at S0 after its first review and is multiplied by
`grow` after each passed review and by `shrink` after each lapse.

Simulation: learners take on new words at the observed daily rate and review every card the
scheduler due, once a day: a candidate SM-2 set, or FSRS-6 (`FsrsSchedule`) at a desired
retention. Each review passes with the model's recall; a passed review's response time is drawn
from the observed ones and graded with the candidate's thresholds (FSRS: the baseline's,
turned into its 1-4 rating). Every scheduler sees the same random draws (same seed), so
differences come from the scheduling alone. The memory model is the simulation's truth for
both schedulers: neither is scored on its own model of memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from transforms.evaluation import log_losses, review_history
from transforms.sm2 import SM2Params
from transforms.sm2.grading import quality_codes
from transforms.sm2.kernel import KernelParams, review_cards
from transforms.tuning.fsrs import fsrs_ratings, review_cards_fsrs

S0_GRID = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])
GROW_GRID = np.linspace(1.1, 6.0, 15)
SHRINK_GRID = np.linspace(0.05, 1.0, 12)
FIT_SAMPLE = 200_000
DESIRED_RETENTIONS = (0.80, 0.85, 0.90, 0.95)  # the FSRS-6 schedules the simulator compares
SM2, FSRS6 = "SM-2", "FSRS-6"  # the simulation's `scheduler` column
SIMULATION_COLUMNS = (
    "scheduler",
    "set",
    "desired_retention",
    "language",
    "day",
    "reviews_per_learner",
    "minutes_per_learner",
    "recall",
    "retention",
    "words_learned_per_learner",
)


@dataclass(frozen=True)
class FsrsSchedule:
    """FSRS-6 as a scheduler: its parameters, the recall it schedules each review at, and the
    SM-2 set whose grading (section 1) turns attempts into its ratings."""

    parameters: Sequence[float]
    desired_retention: float
    grading: SM2Params


@dataclass(frozen=True)
class MemoryModel:
    language: str
    s0: float
    grow: float
    shrink: float
    new_words_per_day: float  # per learner, per calendar day
    response_ms: np.ndarray  # observed response times of correct attempts (a sample)
    step_types: np.ndarray  # their step types
    attempts_per_review: float  # attempts per graded review (practice included)

    def recall(self, elapsed: np.ndarray, stability: np.ndarray) -> np.ndarray:
        return np.exp(-elapsed / stability)


def fit_memory_model(reviews: pl.DataFrame, pass_quality: int) -> tuple[float, float, float]:
    """(S0, grow, shrink) maximizing the likelihood of passes on non-first graded reviews.
    `reviews` has card_key, review_index, elapsed_days, quality and lapses_after."""
    history = review_history(reviews.sort("card_key", "review_index"), pass_quality)
    if history.height > FIT_SAMPLE:
        history = history.sample(FIT_SAMPLE, seed=0)
    t = history["elapsed_days"].to_numpy()
    right = history["passes_before"].to_numpy() - 1  # the first review sets S0, not grows it
    wrong = history["lapses_before"].to_numpy()
    first_passed = right >= 0
    right = np.maximum(right, 0)
    wrong = wrong - (~first_passed)
    y = history["y"].to_numpy()
    best = (np.inf, 1.0, 2.0, 0.5)
    for s0 in S0_GRID:
        for grow in GROW_GRID:
            log_s = np.log(s0) + right * np.log(grow)
            for shrink in SHRINK_GRID:
                s = np.exp(log_s + wrong * np.log(shrink))
                nll = float(log_losses(np.exp(-t / s), y).sum())
                if nll < best[0]:
                    best = (nll, float(s0), float(grow), float(shrink))
    return best[1], best[2], best[3]


def fit_models(
    attempts: pl.DataFrame, reviews: pl.DataFrame, pass_quality: int
) -> list[MemoryModel]:
    """A memory model and a study habit per language, from the history."""
    models = []
    for (language,), part in reviews.group_by("language", maintain_order=True):
        tried = attempts.filter(pl.col("language") == language)
        s0, grow, shrink = fit_memory_model(part, pass_quality)
        span = tried.select(
            pl.col("user_id").n_unique().alias("learners"),
            (
                (pl.col("attempted_at").max() - pl.col("attempted_at").min()).dt.total_days() + 1
            ).alias("days"),
        ).row(0, named=True)
        cards = part.filter(pl.col("review_index") == 1).height
        right = tried.filter("correct")
        correct = right.sample(min(20_000, right.height), seed=0)
        models.append(
            MemoryModel(
                language=str(language),
                s0=s0,
                grow=grow,
                shrink=shrink,
                new_words_per_day=cards / max(1, span["learners"]) / max(1, span["days"]),
                response_ms=correct["response_time_ms"].to_numpy(),
                step_types=correct["step_type"].to_numpy(),
                attempts_per_review=tried.height / max(1, part.height),
            )
        )
    return models


def simulate(
    model: MemoryModel,
    scheduler: SM2Params | FsrsSchedule,
    learners: int,
    horizon: int,
    seed: int,
) -> pl.DataFrame:
    """One row per day: reviews and minutes per learner, mean recall at review, retention (mean
    recall of every word taken on so far, at the day's end), words learned (cards whose last
    review passed) per learner."""
    grading = scheduler if isinstance(scheduler, SM2Params) else scheduler.grading
    rng = np.random.default_rng(seed)
    per_day_new = rng.poisson(model.new_words_per_day, size=(horizon, learners))
    n_cards = int(per_day_new.sum())
    born = np.repeat(np.tile(np.arange(horizon), learners), per_day_new.T.ravel())
    order = np.argsort(born, kind="stable")
    born = born[order]
    draws = rng.random((horizon + 1, n_cards))  # common random numbers: recall draws
    rt_pick = rng.integers(0, max(1, len(model.response_ms)), size=(horizon + 1, n_cards))
    kinds, step_code = np.unique(model.step_types, return_inverse=True)
    kinds_list = [str(k) for k in kinds]
    ef = np.full(n_cards, grading.ef_init)  # SM-2's state, or FSRS-6's (stability 0: new)
    reps = np.zeros(n_cards, dtype=np.int64)
    fsrs_stability = np.zeros(n_cards)
    fsrs_difficulty = np.zeros(n_cards)
    interval = np.zeros(n_cards)
    due = born.astype(np.float64)
    last = born.astype(np.float64)
    stability = np.full(n_cards, model.s0)
    seen = np.zeros(n_cards, dtype=bool)
    learned = np.zeros(n_cards, dtype=bool)
    kernel = KernelParams.of([grading])
    rows = []
    mean_rt_min = float(np.mean(model.response_ms)) / 60_000 if len(model.response_ms) else 0.1
    for day in range(horizon):
        todo = np.flatnonzero((born <= day) & (due <= day + 1e-9))
        first = todo[~seen[todo]]
        again = todo[seen[todo]]
        recall = model.recall(day - last[again], stability[again])
        passed = np.ones(len(todo), dtype=bool)
        passed[len(first) :] = draws[day, again] < recall
        idx = np.concatenate([first, again])
        # a new word is studied until recalled: its first review counts as passed
        if len(model.response_ms):
            pick = rt_pick[day, idx] % len(model.response_ms)
            q = quality_codes(passed, model.response_ms[pick], step_code[pick], kinds_list, grading)
        else:  # no observed response time: a pass is graded 5
            q = np.where(passed, np.int8(5), np.int8(grading.fail_quality))
        ok = np.empty(len(idx), dtype=bool)
        if isinstance(scheduler, SM2Params):
            review_cards(ef, reps, interval, idx, q, kernel.floats, kernel.ints, ok)
        else:
            rating = (
                pl.select(fsrs_ratings(pl.lit(pl.Series(q)), grading.pass_quality))
                .to_series()
                .to_numpy()
                .astype(np.int64)
            )
            review_cards_fsrs(
                fsrs_stability,
                fsrs_difficulty,
                idx,
                rating,
                np.where(seen[idx], day - last[idx], 0.0),
                np.asarray(scheduler.parameters, dtype=np.float64),
                scheduler.desired_retention,
                interval,
            )
            ok[:] = rating > 1
        stability[again] = stability[again] * np.where(
            passed[len(first) :], model.grow, model.shrink
        )
        seen[idx] = True
        learned[idx] = ok
        last[idx] = day
        due[idx] = day + interval[idx]
        known = np.flatnonzero(seen)
        reviews = len(idx)
        rows.append(
            {
                "day": day,
                "reviews_per_learner": reviews / learners,
                "minutes_per_learner": reviews * model.attempts_per_review * mean_rt_min / learners,
                "recall": float(recall.mean()) if len(recall) else None,
                "retention": float(model.recall(day + 1 - last[known], stability[known]).mean())
                if len(known)
                else None,
                "words_learned_per_learner": float(learned.sum()) / learners,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "day": pl.Int64,
            "reviews_per_learner": pl.Float64,
            "minutes_per_learner": pl.Float64,
            "recall": pl.Float64,
            "retention": pl.Float64,
            "words_learned_per_learner": pl.Float64,
        },
    )


def simulate_sets(
    models: list[MemoryModel],
    sets: dict[int, SM2Params],
    fsrs: Sequence[FsrsSchedule],
    learners: int,
    horizon: int,
    seed: int,
) -> pl.DataFrame:
    """One row per (scheduler, SM-2 set or FSRS-6 desired retention, language, day): every
    SM-2 set of `sets` (by set number) and every FSRS-6 schedule, on the same draws."""
    runs: list[tuple[SM2Params | FsrsSchedule, int | None, float | None]] = [
        *[(params, index, None) for index, params in sets.items()],
        *[(schedule, None, schedule.desired_retention) for schedule in fsrs],
    ]
    frames = [
        simulate(model, scheduler, learners, horizon, seed).with_columns(
            pl.lit(SM2 if isinstance(scheduler, SM2Params) else FSRS6).alias("scheduler"),
            pl.lit(index, dtype=pl.Int64).alias("set"),
            pl.lit(retention, dtype=pl.Float64).alias("desired_retention"),
            pl.lit(model.language).alias("language"),
        )
        for scheduler, index, retention in runs
        for model in models
    ]
    return pl.concat(frames).select(SIMULATION_COLUMNS)
