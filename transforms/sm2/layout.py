"""Step-major layout: the k-th review of every card side by side, for step-synchronous replay.

A card's reviews form a sequential recurrence, but the k-th reviews of different cards are
independent. Cards are ranked by review count (longest first) so that the cards still active at
step k are exactly ranks `0 .. n_k - 1`: each step reads a contiguous slice and updates a prefix
of the state arrays. The arithmetic per review is the same as a plain sequential loop.

Cards are laid out in chunks of about `CHUNK_REVIEWS` reviews (a card is never split), so the
step-major shuffle of each chunk stays within a cache-sized window of the sorted input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

MICROS_PER_DAY = 86_400_000_000
CHUNK_REVIEWS = 1 << 18


def _is_sorted(frame: pl.DataFrame, order: list[str]) -> bool:
    """Whether rows already follow `order` lexicographically (nulls not allowed)."""
    if frame.height < 2 or frame.select(pl.any_horizontal(pl.all().is_null()).any()).item():
        return frame.height < 2
    ascending = pl.lit(False)
    equal_so_far = pl.lit(True)
    for name in order:
        col, prev = pl.col(name), pl.col(name).shift(1)
        ascending = ascending | (equal_so_far & (col > prev))
        equal_so_far = equal_so_far & (col == prev)
    ok = (ascending | equal_so_far).slice(1)
    return bool(frame.select(ok.all()).item())


@dataclass(frozen=True)
class StepLayout:
    """One chunk of cards in step-major order."""

    step_rows: np.ndarray  # original row index of each review, in step-major order
    step_offsets: np.ndarray  # step k occupies step_rows[offsets[k] : offsets[k + 1]]
    n_cards: int

    @classmethod
    def for_cards(cls, sorted_rows: np.ndarray, lengths: np.ndarray) -> StepLayout:
        """`sorted_rows`: these cards' reviews in card-then-time order; `lengths` per card."""
        n = len(sorted_rows)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        rank_order = np.argsort(-lengths, kind="stable")  # card rank -> card
        rank_of_card = np.empty_like(rank_order)
        rank_of_card[rank_order] = np.arange(len(rank_order))
        max_len = int(lengths.max()) if n else 0
        active = np.bincount(lengths, minlength=max_len + 1)[::-1].cumsum()[::-1][1:]  # n_k
        offsets = np.concatenate([[0], np.cumsum(active)]).astype(np.int64)
        step = np.arange(n) - np.repeat(starts, lengths)
        dest = offsets[step] + np.repeat(rank_of_card, lengths)
        step_rows = np.empty(n, dtype=np.int64)
        step_rows[dest] = sorted_rows
        return cls(step_rows, offsets, len(lengths))

    def steps(self) -> Iterator[tuple[int, slice, int]]:
        """(k, slice of step-major positions, active cards n_k) for each step."""
        for k in range(len(self.step_offsets) - 1):
            lo, hi = int(self.step_offsets[k]), int(self.step_offsets[k + 1])
            yield k, slice(lo, hi), hi - lo


@dataclass(frozen=True)
class ReviewLayout:
    """Every card of a frame, in chunks of step-major layouts, and in card-major order."""

    chunks: list[StepLayout]
    n_rows: int
    sorted_rows: np.ndarray  # row index of each review, by card then time
    card_lengths: np.ndarray  # reviews per card, in that order
    rows_sorted: bool  # the frame's rows already are by card then time

    def in_row_order(self, values: np.ndarray) -> np.ndarray:
        """`values` given by card then time (as `sorted_rows`), back in the frame's row order."""
        if self.rows_sorted:
            return values
        out = np.empty_like(values)
        out[self.sorted_rows] = values
        return out

    def card_start_of_each(self) -> np.ndarray:
        """For each position of `sorted_rows`, the position where its card begins."""
        lengths = self.card_lengths.astype(np.int64)
        return np.repeat(np.cumsum(lengths) - lengths, lengths)

    @classmethod
    def build(
        cls, reviews: pl.DataFrame, order: list[str], chunk_reviews: int = CHUNK_REVIEWS
    ) -> ReviewLayout:
        """Lay out `reviews` by card (`card_id`), then by the rest of `order`."""
        n = reviews.height
        keys = reviews.select(order)
        rows_sorted = _is_sorted(keys, order)
        if rows_sorted:
            sorted_rows = np.arange(n, dtype=np.int64)
            card = keys["card_id"]
        else:
            ranked = keys.with_row_index("_row").sort(order, maintain_order=True)
            sorted_rows = ranked["_row"].to_numpy().astype(np.int64)
            card = ranked["card_id"]
        boundary = np.ones(n, dtype=bool)
        if n > 1:
            boundary[1:] = (card.slice(1) != card.slice(0, n - 1)).fill_null(True).to_numpy()
            boundary[1:] |= (card.slice(1).is_null() != card.slice(0, n - 1).is_null()).to_numpy()
        starts = np.flatnonzero(boundary)
        lengths = np.diff(np.append(starts, n))
        # chunk boundaries at card starts, about `chunk_reviews` apart
        cut = np.searchsorted(starts, np.arange(chunk_reviews, n, chunk_reviews))
        card_bounds = np.unique(np.concatenate([[0], cut, [len(starts)]]))
        chunks = []
        for c0, c1 in itertools.pairwise(card_bounds):
            lo = int(starts[c0]) if c0 < len(starts) else n
            hi = int(starts[c1]) if c1 < len(starts) else n
            chunks.append(StepLayout.for_cards(sorted_rows[lo:hi], lengths[c0:c1]))
        return cls(chunks, n, sorted_rows, lengths, rows_sorted)


def epoch_micros(column: pl.Series) -> np.ndarray:
    return column.dt.epoch("us").to_numpy().astype(np.int64)


def micros_to_datetime(values: np.ndarray, like: pl.Series, name: str) -> pl.Series:
    """Epoch microseconds back to a Datetime series with `like`'s time zone."""
    dtype = like.dtype
    tz = getattr(dtype, "time_zone", None)
    out = pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("us"))
    return out.dt.replace_time_zone("UTC").dt.convert_time_zone(tz) if tz else out
