"""Section 3 of docs/sm2.md, the update of one graded review, written once.

Every replay calls this: the single-set engine with scalar parameters, the tuning lab with
`(sets, 1)` columns of parameters over `(sets, cards)` state, the simulator over its cards.
NumPy broadcasting makes the arithmetic per review the same in all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from transforms.sm2.params import SM2Params

ROUNDING_CODES = {"ceil": 0, "round": 1, "none": 2}


def round6(x: np.ndarray) -> np.ndarray:
    """Python's `round(x, 6)` elementwise: NumPy's fast rounding, with the rare values near a
    half-way point redone exactly, so the vectorized engine matches a plain loop bit for bit."""
    scaled = x * 1e6
    out = np.round(x, 6)
    frac = np.abs(scaled - np.floor(scaled) - 0.5)
    flat, exact = out.reshape(-1), x.reshape(-1)
    for i in np.flatnonzero(frac.reshape(-1) < 1e-3):
        flat[i] = round(float(exact[i]), 6)
    return out


def apply_rounding(x: np.ndarray, rounding: str) -> np.ndarray:
    if rounding == "ceil":
        return np.ceil(round6(x))
    if rounding == "round":
        return np.floor(round6(x) + 0.5)
    return x


@dataclass(frozen=True)
class UpdateParams:
    """The update's parameters: scalars for one set, or `(sets, 1)` columns for many."""

    ef_min: float | np.ndarray
    first_interval: float | np.ndarray
    second_interval: float | np.ndarray
    lapse_interval: float | np.ndarray
    max_interval: float | np.ndarray
    pass_quality: int | np.ndarray
    ef_update_on_fail: bool | np.ndarray
    ef_old: bool | np.ndarray  # ef_for_interval == "old"
    rounding: str | np.ndarray  # a name, or a column of ROUNDING_CODES

    @classmethod
    def of(cls, params: SM2Params) -> UpdateParams:
        return cls(
            params.ef_min,
            params.first_interval,
            params.second_interval,
            params.lapse_interval,
            params.max_interval,
            params.pass_quality,
            params.ef_update_on_fail,
            params.ef_for_interval == "old",
            params.rounding,
        )

    @classmethod
    def columns(cls, sets: list[SM2Params]) -> UpdateParams:
        def col(values: list[object], dtype: type = np.float64) -> np.ndarray:
            return np.array(values, dtype=dtype)[:, None]

        return cls(
            col([p.ef_min for p in sets]),
            col([p.first_interval for p in sets]),
            col([p.second_interval for p in sets]),
            col([p.lapse_interval for p in sets]),
            col([p.max_interval for p in sets]),
            col([p.pass_quality for p in sets], np.int64),
            col([p.ef_update_on_fail for p in sets], bool),
            col([p.ef_for_interval == "old" for p in sets], bool),
            col([ROUNDING_CODES[p.rounding] for p in sets], np.int64),
        )

    def rounded(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.rounding, str):
            return apply_rounding(x, self.rounding)
        r6 = round6(x)
        return np.where(
            self.rounding == 0, np.ceil(r6), np.where(self.rounding == 1, np.floor(r6 + 0.5), x)
        )


def sm2_update(
    ef: np.ndarray, reps: np.ndarray, interval: np.ndarray, q: np.ndarray, p: UpdateParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(EF after, repetitions after, interval after, passed) for reviews of quality `q` on
    cards in state (`ef`, `reps`, `interval`)."""
    fail = 5 - q
    ef_after = np.maximum(p.ef_min, ef + (0.1 - fail * (0.08 + fail * 0.02)))
    passed = q >= p.pass_quality
    ef_after = np.where(passed | p.ef_update_on_fail, ef_after, ef)
    grown = p.rounded(interval * np.where(p.ef_old, ef, ef_after))
    scheduled = np.where(reps == 0, p.first_interval, np.where(reps == 1, p.second_interval, grown))
    interval_after = np.where(passed, np.minimum(scheduled, p.max_interval), p.lapse_interval)
    reps_after = np.where(passed, reps + 1, 0)
    return ef_after, reps_after, interval_after, passed
