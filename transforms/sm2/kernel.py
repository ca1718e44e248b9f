"""Sections 3 and 4 of docs/sm2.md, compiled once (Numba) and used by every replay.

`review` is the update of one graded review, written once. Three compiled loops call it:
`replay_cards` (one parameter set, parallel over cards: the engine), `score_sets` (many sets,
parallel over sets and blocks of cards: the tuning lab) and `review_cards` (the simulator's
reviews of one day). Every loop walks a card's reviews in order, exactly as the plain
sequential loop does, so the arithmetic is the same review for review.

Inputs are card-sorted arrays with card start offsets: card `c`'s reviews are positions
`starts[c] .. starts[c + 1] - 1`. String parameters reach the kernels as integer codes
(`KernelParams`). Compiled code is cached next to this module (`cache=True`, Numba's default
`__pycache__`), so only the first run on a fresh clone compiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from transforms.evaluation import CLIP
from transforms.sm2.params import SM2Params

MICROS_PER_DAY = 86_400_000_000
CHUNKS = 256  # replay_cards' parallel loop: contiguous chunks of cards (or of rows)
ROUNDING_CODES = {"ceil": 0, "round": 1, "none": 2}

# Columns of KernelParams.floats and KernelParams.ints.
EF_INIT, EF_MIN, FIRST, SECOND, LAPSE, MAX_INTERVAL, TARGET_RECALL = range(7)
PASS_QUALITY, EF_UPDATE_ON_FAIL, EF_OLD, ROUNDING = range(4)


@dataclass(frozen=True)
class KernelParams:
    """One row per parameter set: the update's numbers, and its flags as integer codes."""

    floats: np.ndarray  # (sets, 7) float64: EF_INIT .. TARGET_RECALL
    ints: np.ndarray  # (sets, 4) int64: PASS_QUALITY, EF_UPDATE_ON_FAIL, EF_OLD, ROUNDING

    @classmethod
    def of(cls, sets: Sequence[SM2Params]) -> KernelParams:
        floats = np.array(
            [
                [
                    p.ef_init,
                    p.ef_min,
                    p.first_interval,
                    p.second_interval,
                    p.lapse_interval,
                    p.max_interval,
                    p.target_recall,
                ]
                for p in sets
            ],
            dtype=np.float64,
        ).reshape(len(sets), 7)
        ints = np.array(
            [
                [
                    p.pass_quality,
                    int(p.ef_update_on_fail),
                    int(p.ef_for_interval == "old"),
                    ROUNDING_CODES[p.rounding],
                ]
                for p in sets
            ],
            dtype=np.int64,
        ).reshape(len(sets), 4)
        return cls(floats, ints)


@njit(cache=True, inline="always")
def round6(x: float) -> float:
    """Python's `round(x, 6)`, bit for bit: x * 1e6 rounded half to even on its exact value
    (the product's rounding error is recovered with Dekker's split), then divided by 1e6."""
    y = x * 1e6
    c = 134217729.0 * x  # 2^27 + 1: splits x into two halves whose products are exact
    hi = c - (c - x)
    lo = x - hi
    err = (hi * 1e6 - y) + lo * 1e6  # x * 1e6 == y + err exactly
    f = np.floor(y)
    d = y - f
    if d == 0.5:  # y is half-way; the exact product may not be
        if err > 0.0 or (err == 0.0 and f % 2.0 == 1.0):
            f += 1.0
    elif d > 0.5:
        f += 1.0
    return f / 1e6


# Below this, a product is far enough from where round6 could move it across an integer
# (ceil) or a half-integer (round) that rounding the plain product gives the same result.
ROUND6_SAFE_BELOW = 1e9
ROUND6_MARGIN = 2e-6  # round6 moves x by at most 5e-7 (plus float error far below 1e-9)


@njit(cache=True, inline="always")
def rounded(x: float, rounding: int) -> float:
    """Section 3's R for x >= 0: `ceil(round(x, 6))` (rounding 0), `floor(round(x, 6) + 0.5)`
    (1) or x (2). round6 only matters within ROUND6_MARGIN of an integer (ceil) or a
    half-integer (round); elsewhere the plain product rounds alike, without its cost.
    `x - floor(x)` is exact for x >= 0."""
    if rounding == 2:
        return x
    fraction = x - np.floor(x)
    if rounding == 0:
        if x < ROUND6_SAFE_BELOW and (fraction == 0.0 or fraction > ROUND6_MARGIN):
            return np.ceil(x)
        return np.ceil(round6(x))
    if x < ROUND6_SAFE_BELOW and abs(fraction - 0.5) > ROUND6_MARGIN:
        return np.floor(x + 0.5)
    return np.floor(round6(x) + 0.5)


@njit(cache=True, inline="always")
def review(
    ef: float,
    reps: int,
    interval: float,
    q: int,
    ef_min: float,
    first: float,
    second: float,
    lapse: float,
    max_interval: float,
    pass_quality: int,
    ef_update_on_fail: int,
    ef_old: int,
    rounding: int,
) -> tuple[float, int, float, bool]:
    """Section 3: (EF after, repetitions after, interval after, passed) for one review of
    quality `q` on a card in state (`ef`, `reps`, `interval`)."""
    fail = 5 - q
    ef_after = max(ef_min, ef + (0.1 - fail * (0.08 + fail * 0.02)))
    passed = q >= pass_quality
    if not passed and ef_update_on_fail == 0:
        ef_after = ef
    if passed:
        if reps == 0:
            interval_after = first
        elif reps == 1:
            interval_after = second
        else:
            interval_after = rounded(interval * (ef if ef_old == 1 else ef_after), rounding)
        return ef_after, reps + 1, min(interval_after, max_interval), True
    return ef_after, 0, lapse, False


@njit(cache=True, parallel=True)
def replay_cards(
    starts: np.ndarray,
    rows: np.ndarray,
    t: np.ndarray,
    q: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    out_index: np.ndarray,
    out_elapsed: np.ndarray,
    out_before: np.ndarray,
    out_p: np.ndarray,
    out_ef_before: np.ndarray,
    out_ef_after: np.ndarray,
    out_reps: np.ndarray,
    out_lapses: np.ndarray,
    out_interval: np.ndarray,
    out_due: np.ndarray,
    start_ef: np.ndarray,
    start_reps: np.ndarray,
    start_interval: np.ndarray,
    start_lapses: np.ndarray,
    start_reviews: np.ndarray,
    start_t: np.ndarray,
) -> None:
    """One set (row 0 of the parameters), every card: review `i` of the card order is row
    `rows[i]` of `t` (epoch microseconds), `q` and every output (NaN where section 4 has no
    value: a card's first review); an empty `rows` means the rows already are in card order.

    Card `c` starts from the state before its first review, unless the `start_*` arrays (one
    entry per card, in card order; empty: every card starts new) say it resumes: EF,
    repetitions, interval, lapses, reviews done and the last review's time (epoch
    microseconds) after its stored reviews (`start_reviews[c]` = 0: the card starts new).

    The parallel loop runs over CHUNKS contiguous chunks of cards, each card's reviews walked
    in order. The update's loop leaves `elapsed / interval` in
    `out_p`; a second, branch-free pass takes its power of the target recall (the same
    `exp(ln(target) * elapsed / interval)`, so the same bits), which keeps `exp` off the loop
    that carries each card's state."""
    ef_min, first, second = floats[0, EF_MIN], floats[0, FIRST], floats[0, SECOND]
    lapse, max_interval = floats[0, LAPSE], floats[0, MAX_INTERVAL]
    ln_target, pass_q = math.log(floats[0, TARGET_RECALL]), ints[0, PASS_QUALITY]
    on_fail, ef_old, rounding = ints[0, EF_UPDATE_ON_FAIL], ints[0, EF_OLD], ints[0, ROUNDING]
    n_cards, n = len(starts) - 1, len(t)
    indirect = len(rows) > 0
    resumes = len(start_reviews) > 0
    chunks = CHUNKS
    for chunk in prange(chunks):
        for c in range(chunk * n_cards // chunks, (chunk + 1) * n_cards // chunks):
            ef, reps, interval, lapses = floats[0, EF_INIT], 0, 0.0, 0
            done = 0
            last_t = np.int64(0)
            if resumes and start_reviews[c] > 0:
                ef, reps, interval = start_ef[c], start_reps[c], start_interval[c]
                lapses, done, last_t = start_lapses[c], start_reviews[c], start_t[c]
            first_i = starts[c]
            for i in range(first_i, starts[c + 1]):
                r = rows[i] if indirect else i
                t_r = t[r]
                out_index[r] = i - first_i + 1 + done
                out_ef_before[r] = ef
                if i == first_i and done == 0:
                    out_elapsed[r] = np.nan
                    out_before[r] = np.nan
                    out_p[r] = np.nan
                else:
                    elapsed = (t_r - last_t) / MICROS_PER_DAY
                    out_elapsed[r] = elapsed
                    out_before[r] = interval
                    out_p[r] = elapsed / interval
                ef, reps, interval, passed = review(
                    ef,
                    reps,
                    interval,
                    q[r],
                    ef_min,
                    first,
                    second,
                    lapse,
                    max_interval,
                    pass_q,
                    on_fail,
                    ef_old,
                    rounding,
                )
                if not passed:
                    lapses += 1
                out_ef_after[r] = ef
                out_reps[r] = reps
                out_lapses[r] = lapses
                out_interval[r] = interval
                out_due[r] = t_r + np.int64(np.rint(interval * MICROS_PER_DAY))
                last_t = t_r
    for chunk in prange(chunks):
        for r in range(chunk * n // chunks, (chunk + 1) * n // chunks):
            out_p[r] = math.exp(ln_target * out_p[r])


@njit(cache=True, parallel=True)
def score_sets(
    starts: np.ndarray,
    elapsed: np.ndarray,
    base_bin: np.ndarray,
    split: np.ndarray,
    quality: np.ndarray,
    grading_of_set: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    lapse_bin: np.ndarray,
    lapse_cells: int,
    blocks: int,
    loss: np.ndarray,
    count: np.ndarray,
    bins: np.ndarray,
    inverse_interval: np.ndarray,
) -> None:
    """Many sets on the same card-sorted reviews, keeping sums instead of predictions.

    Task `s * blocks + b` replays set `s` on the `b`-th block of cards and adds, per split
    (`split`: 0 training, 1 held out), the log loss and count of its non-first reviews
    (`loss`, `count`: (tasks, 2)), their RMSE(bins) sums (`bins`: (tasks, 2, bins, 3) of
    count, passes, predicted recall; bin = `base_bin * lapse_cells + lapse_bin[lapses]`, lapses
    past the end of `lapse_bin` taking its last entry),
    and 1 / the interval each card ends on (`inverse_interval`: (tasks,)). `elapsed` is days
    since the card's previous review; `quality[grading_of_set[s]]` is set `s`'s grading."""
    n_cards = len(starts) - 1
    n_lapse = len(lapse_bin)
    low, high = math.log(CLIP), math.log(1.0 - CLIP)
    for task in prange(floats.shape[0] * blocks):
        s, b = task // blocks, task % blocks
        g = grading_of_set[s]
        ef_min, first, second = floats[s, EF_MIN], floats[s, FIRST], floats[s, SECOND]
        lapse, max_interval = floats[s, LAPSE], floats[s, MAX_INTERVAL]
        ln_target, pass_q = math.log(floats[s, TARGET_RECALL]), ints[s, PASS_QUALITY]
        on_fail, ef_old, rounding = ints[s, EF_UPDATE_ON_FAIL], ints[s, EF_OLD], ints[s, ROUNDING]
        for c in range(b * n_cards // blocks, (b + 1) * n_cards // blocks):
            ef, reps, interval, lapses = floats[s, EF_INIT], 0, 0.0, 0
            for i in range(starts[c], starts[c + 1]):
                ef_b, interval_b = ef, interval
                ef, reps, interval, passed = review(
                    ef_b,
                    reps,
                    interval_b,
                    quality[g, i],
                    ef_min,
                    first,
                    second,
                    lapse,
                    max_interval,
                    pass_q,
                    on_fail,
                    ef_old,
                    rounding,
                )
                if i > starts[c]:
                    log_p = ln_target * (elapsed[i] / interval_b)
                    log_p = min(max(log_p, low), high)
                    p = math.exp(log_p)
                    sp = split[i]
                    count[task, sp] += 1.0
                    cell = base_bin[i] * lapse_cells + lapse_bin[min(lapses, n_lapse - 1)]
                    bins[task, sp, cell, 0] += 1.0
                    bins[task, sp, cell, 2] += p
                    if passed:
                        loss[task, sp] -= log_p
                        bins[task, sp, cell, 1] += 1.0
                    else:
                        loss[task, sp] -= math.log(1.0 - p)
                if not passed:
                    lapses += 1
            if starts[c + 1] > starts[c]:
                inverse_interval[task] += 1.0 / interval


@njit(cache=True)
def review_cards(
    ef: np.ndarray,
    reps: np.ndarray,
    interval: np.ndarray,
    cards: np.ndarray,
    q: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    passed: np.ndarray,
) -> None:
    """One review of quality `q[j]` for each card `cards[j]`, set 0's update, in place on the
    state arrays (`passed[j]` says whether it passed)."""
    for j in range(len(cards)):
        c = cards[j]
        ef[c], reps[c], interval[c], passed[j] = review(
            ef[c],
            reps[c],
            interval[c],
            q[j],
            floats[0, EF_MIN],
            floats[0, FIRST],
            floats[0, SECOND],
            floats[0, LAPSE],
            floats[0, MAX_INTERVAL],
            ints[0, PASS_QUALITY],
            ints[0, EF_UPDATE_ON_FAIL],
            ints[0, EF_OLD],
            ints[0, ROUNDING],
        )


def threads() -> int:
    return int(numba.get_num_threads())


def frozen(values: np.ndarray) -> np.ndarray:
    """A read-only view (no copy): inputs always reach the kernels read-only, as Polars'
    zero-copy arrays are, so each kernel compiles for one signature only."""
    view = values.view()
    view.flags.writeable = False
    return view
