"""Step-major layout: the k-th review of every card side by side, for step-synchronous replay.

A card's reviews form a sequential recurrence, but the k-th reviews of different cards are
independent. Cards are ranked by review count (longest first) so that the cards still active at
step k are exactly ranks `0 .. n_k - 1`: each step reads a contiguous slice and updates a prefix
of the state arrays. The arithmetic per review is the same as a plain sequential loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class StepLayout:
    sorted_rows: np.ndarray  # original row index of each review, sorted by card then time
    step_major: np.ndarray  # sorted position of each review, in step-major order
    step_offsets: np.ndarray  # step k occupies step_major[offsets[k] : offsets[k + 1]]
    n_cards: int

    @classmethod
    def build(cls, reviews: pl.DataFrame, order: list[str]) -> StepLayout:
        """Lay out `reviews` by card (`card_id`) and then by the `order` columns."""
        n = reviews.height
        ranked = reviews.select(order).with_row_index("_row").sort(order, maintain_order=True)
        sorted_rows = ranked["_row"].to_numpy().astype(np.int64)
        card = ranked["card_id"]
        boundary = np.ones(n, dtype=bool)
        if n > 1:
            boundary[1:] = (card.slice(1) != card.slice(0, n - 1)).fill_null(True).to_numpy()
            boundary[1:] |= (card.slice(1).is_null() != card.slice(0, n - 1).is_null()).to_numpy()
        starts = np.flatnonzero(boundary)
        lengths = np.diff(np.append(starts, n))
        rank_order = np.argsort(-lengths, kind="stable")  # card rank -> card
        rank_of_card = np.empty_like(rank_order)
        rank_of_card[rank_order] = np.arange(len(rank_order))
        max_len = int(lengths.max()) if n else 0
        active = np.bincount(lengths, minlength=max_len + 1)[::-1].cumsum()[::-1][1:]  # n_k
        offsets = np.concatenate([[0], np.cumsum(active)]).astype(np.int64)
        step = np.arange(n) - np.repeat(starts, lengths)
        dest = offsets[step] + np.repeat(rank_of_card, lengths)
        step_major = np.empty(n, dtype=np.int64)
        step_major[dest] = np.arange(n)
        return cls(sorted_rows, step_major, offsets, len(starts))

    def steps(self) -> Iterator[tuple[int, slice, int]]:
        """(k, slice of step-major positions, active cards n_k) for each step."""
        for k in range(len(self.step_offsets) - 1):
            lo, hi = int(self.step_offsets[k]), int(self.step_offsets[k + 1])
            yield k, slice(lo, hi), hi - lo

    def gather(self, values: np.ndarray) -> np.ndarray:
        """Values per original row -> step-major order."""
        return values[self.sorted_rows[self.step_major]]

    def scatter(self, values: np.ndarray) -> np.ndarray:
        """Step-major values -> original row order."""
        out = np.empty_like(values)
        out[self.sorted_rows[self.step_major]] = values
        return out


def epoch_micros(column: pl.Series) -> np.ndarray:
    return column.dt.epoch("us").to_numpy().astype(np.int64)


def micros_to_datetime(values: np.ndarray, like: pl.Series, name: str) -> pl.Series:
    """Epoch microseconds back to a Datetime series with `like`'s time zone."""
    dtype = like.dtype
    tz = getattr(dtype, "time_zone", None)
    out = pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("us"))
    return out.dt.replace_time_zone("UTC").dt.convert_time_zone(tz) if tz else out
