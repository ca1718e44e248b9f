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


DUE_TOLERANCE_DAYS = 1e-9  # a card due at day + 1e-9 (float rounding) is due that day
UNKNOWN_MINUTES_PER_ATTEMPT = 0.1  # when no response time was observed


@dataclass
class SimulatedCards:
    """Every card the simulated learners take on over the horizon, and its state: SM-2's
    (`ef`, `reps`) or FSRS-6's (`fsrs_stability`, `fsrs_difficulty`; 0 for a new card), the
    scheduler's `interval` and `due` day, and the memory model's (`last` review day,
    `stability`), with the common random numbers drawn up front (`draws`: recall, `rt_pick`:
    which observed response time) so that every scheduler sees the same draws."""

    born: np.ndarray  # the day each card is first studied, ascending
    draws: np.ndarray  # (horizon + 1, cards)
    rt_pick: np.ndarray  # (horizon + 1, cards)
    ef: np.ndarray
    reps: np.ndarray
    fsrs_stability: np.ndarray
    fsrs_difficulty: np.ndarray
    interval: np.ndarray
    due: np.ndarray
    last: np.ndarray
    stability: np.ndarray
    seen: np.ndarray
    learned: np.ndarray  # the card's last review passed

    @classmethod
    def draw(
        cls, model: MemoryModel, params: SM2Params, learners: int, horizon: int, seed: int
    ) -> SimulatedCards:
        rng = np.random.default_rng(seed)
        per_day_new = rng.poisson(model.new_words_per_day, size=(horizon, learners))
        n_cards = int(per_day_new.sum())
        born = np.repeat(np.tile(np.arange(horizon), learners), per_day_new.T.ravel())
        born = born[np.argsort(born, kind="stable")]
        draws = rng.random((horizon + 1, n_cards))
        rt_pick = rng.integers(0, max(1, len(model.response_ms)), size=(horizon + 1, n_cards))
        return cls(
            born=born,
            draws=draws,
            rt_pick=rt_pick,
            ef=np.full(n_cards, params.ef_init),
            reps=np.zeros(n_cards, dtype=np.int64),
            fsrs_stability=np.zeros(n_cards),
            fsrs_difficulty=np.zeros(n_cards),
            interval=np.zeros(n_cards),
            due=born.astype(np.float64),
            last=born.astype(np.float64),
            stability=np.full(n_cards, model.s0),
            seen=np.zeros(n_cards, dtype=bool),
            learned=np.zeros(n_cards, dtype=bool),
        )


def _grades(
    model: MemoryModel,
    params: SM2Params,
    passed: np.ndarray,
    pick: np.ndarray,
    step_code: np.ndarray,
    kinds: list[str],
) -> np.ndarray:
    """The quality of each review: a pass graded by a drawn observed response time and its step
    type with the candidate's thresholds (5 when no time was observed); a failure fails."""
    if len(model.response_ms):
        drawn = pick % len(model.response_ms)
        return quality_codes(passed, model.response_ms[drawn], step_code[drawn], kinds, params)
    return np.where(passed, np.int8(5), np.int8(params.fail_quality))


def _schedule(
    cards: SimulatedCards,
    scheduler: SM2Params | FsrsSchedule,
    kernel: KernelParams,
    idx: np.ndarray,
    q: np.ndarray,
    day: int,
) -> np.ndarray:
    """The scheduler's update of cards `idx` reviewed on `day` with qualities `q`: their next
    `interval`, in place; returns whether each review passed."""
    c = cards
    ok = np.empty(len(idx), dtype=bool)
    if isinstance(scheduler, SM2Params):
        review_cards(c.ef, c.reps, c.interval, idx, q, kernel.floats, kernel.ints, ok)
        return ok
    pass_quality = scheduler.grading.pass_quality
    rating = pl.select(fsrs_ratings(pl.lit(pl.Series(q)), pass_quality)).to_series().to_numpy()
    review_cards_fsrs(
        c.fsrs_stability,
        c.fsrs_difficulty,
        idx,
        rating.astype(np.int64),
        np.where(c.seen[idx], day - c.last[idx], 0.0),
        np.asarray(scheduler.parameters, dtype=np.float64),
        scheduler.desired_retention,
        c.interval,
    )
    ok[:] = rating > 1
    return ok


def _review_day(
    cards: SimulatedCards,
    model: MemoryModel,
    scheduler: SM2Params | FsrsSchedule,
    kernel: KernelParams,
    step_code: np.ndarray,
    kinds: list[str],
    day: int,
) -> tuple[int, np.ndarray]:
    """Review every card due on `day` once: (reviews made, recall of the seen cards reviewed)."""
    c = cards
    grading = scheduler if isinstance(scheduler, SM2Params) else scheduler.grading
    todo = np.flatnonzero((c.born <= day) & (c.due <= day + DUE_TOLERANCE_DAYS))
    first = todo[~c.seen[todo]]
    again = todo[c.seen[todo]]
    recall = model.recall(day - c.last[again], c.stability[again])
    # a new word is studied until recalled: its first review counts as passed
    passed = np.ones(len(todo), dtype=bool)
    passed[len(first) :] = c.draws[day, again] < recall
    idx = np.concatenate([first, again])
    q = _grades(model, grading, passed, c.rt_pick[day, idx], step_code, kinds)
    ok = _schedule(c, scheduler, kernel, idx, q, day)
    c.stability[again] = c.stability[again] * np.where(
        passed[len(first) :], model.grow, model.shrink
    )
    c.seen[idx] = True
    c.learned[idx] = ok
    c.last[idx] = day
    c.due[idx] = day + c.interval[idx]
    return len(idx), recall


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
    cards = SimulatedCards.draw(model, grading, learners, horizon, seed)
    kinds, step_code = np.unique(model.step_types, return_inverse=True)
    kinds_list = [str(k) for k in kinds]
    kernel = KernelParams.of([grading])
    mean_rt_min = (
        float(np.mean(model.response_ms)) / 60_000
        if len(model.response_ms)
        else UNKNOWN_MINUTES_PER_ATTEMPT
    )
    rows = []
    for day in range(horizon):
        reviews, recall = _review_day(cards, model, scheduler, kernel, step_code, kinds_list, day)
        known = np.flatnonzero(cards.seen)
        retention = model.recall(day + 1 - cards.last[known], cards.stability[known])
        rows.append(
            {
                "day": day,
                "reviews_per_learner": reviews / learners,
                "minutes_per_learner": reviews * model.attempts_per_review * mean_rt_min / learners,
                "recall": float(recall.mean()) if len(recall) else None,
                "retention": float(retention.mean()) if len(known) else None,
                "words_learned_per_learner": float(cards.learned.sum()) / learners,
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
