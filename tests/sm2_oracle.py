"""The plain sequential SM-2 of docs/sm2.md, one review at a time: the engine's test oracle."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from transforms.sm2 import SM2Params


def rounded(x: float, rounding: str) -> float:
    if rounding == "ceil":
        return float(math.ceil(round(x, 6)))
    if rounding == "round":
        return float(math.floor(round(x, 6) + 0.5))
    return x


@dataclass
class OracleRow:
    review_index: int
    elapsed_days: float | None
    interval_before: float | None
    p_recall: float | None
    ef_before: float
    ef_after: float
    reps_after: int
    lapses_after: int
    interval_days: float


def replay_card(times: list[datetime], qualities: list[int], p: SM2Params) -> list[OracleRow]:
    """One card's reviews, already in order."""
    ef, reps, interval, lapses = p.ef_init, 0, 0.0, 0
    last: datetime | None = None
    out = []
    for i, (t, q) in enumerate(zip(times, qualities, strict=True)):
        ef_after = max(p.ef_min, ef + (0.1 - (5 - q) * (0.08 + (5 - q) * 0.02)))
        if q < p.pass_quality and not p.ef_update_on_fail:
            ef_after = ef
        ef_used = ef if p.ef_for_interval == "old" else ef_after
        before = interval
        if q >= p.pass_quality:
            if reps == 0:
                interval = p.first_interval
            elif reps == 1:
                interval = p.second_interval
            else:
                interval = rounded(interval * ef_used, p.rounding)
            interval = min(interval, p.max_interval)
            reps += 1
        else:
            interval = p.lapse_interval
            reps = 0
            lapses += 1
        elapsed: float | None = None
        if last is not None:  # microsecond-exact fractional days, as the engine computes them
            delta = t - last
            micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
            elapsed = micros / 86_400_000_000
        out.append(
            OracleRow(
                review_index=i + 1,
                elapsed_days=elapsed,
                interval_before=None if i == 0 else before,
                p_recall=None if elapsed is None else p.target_recall ** (elapsed / before),
                ef_before=ef,
                ef_after=ef_after,
                reps_after=reps,
                lapses_after=lapses,
                interval_days=interval,
            )
        )
        ef = ef_after
        last = t
    return out
