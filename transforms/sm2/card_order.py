"""Reviews in card order: the row of each review by card then time, and where each card starts.

The compiled kernels (`transforms.sm2.kernel`) and Leitner's closed form read a frame's
columns through this order; when the frame already is in it (the pipeline's case), nothing is
sorted or copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl


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
class CardOrder:
    """Card `c`'s reviews are rows `rows[starts[c]] .. rows[starts[c + 1] - 1]`, in time order."""

    rows: np.ndarray  # int64: row index of each review, by card then time
    starts: np.ndarray  # int64, one more than the cards: where each card begins in `rows`
    rows_sorted: bool  # the frame's rows already are by card then time (`rows` is 0, 1, ...)

    @property
    def kernel_rows(self) -> np.ndarray:
        """`rows` as the kernels take them: empty when the rows already are in card order."""
        return self.rows[:0] if self.rows_sorted else self.rows

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def in_row_order(self, values: np.ndarray) -> np.ndarray:
        """`values` given in card order (as `rows`), back in the frame's row order."""
        if self.rows_sorted:
            return values
        out = np.empty_like(values)
        out[self.rows] = values
        return out

    def in_card_order(self, values: np.ndarray) -> np.ndarray:
        """`values` given in the frame's row order, in card order."""
        return values if self.rows_sorted else values[self.rows]

    def card_start_of_each(self) -> np.ndarray:
        """For each position of `rows`, the position where its card begins."""
        return np.repeat(self.starts[:-1], self.lengths)

    @classmethod
    def of(cls, reviews: pl.DataFrame) -> CardOrder:
        """`reviews` by `card_id`, `reviewed_at`, then `tiebreak` when there is one."""
        order = ["card_id", "reviewed_at", *(["tiebreak"] if "tiebreak" in reviews.columns else [])]
        n = reviews.height
        keys = reviews.select(order)
        rows_sorted = _is_sorted(keys, order)
        if rows_sorted:
            rows = np.arange(n, dtype=np.int64)
            card = keys["card_id"]
        else:
            ranked = keys.with_row_index("_row").sort(order, maintain_order=True)
            rows = ranked["_row"].to_numpy().astype(np.int64)
            card = ranked["card_id"]
        boundary = np.ones(n, dtype=bool)
        if n > 1:
            boundary[1:] = (card.slice(1) != card.slice(0, n - 1)).fill_null(True).to_numpy()
            boundary[1:] |= (card.slice(1).is_null() != card.slice(0, n - 1).is_null()).to_numpy()
        starts = np.append(np.flatnonzero(boundary), n).astype(np.int64)
        return cls(rows, starts, rows_sorted)


def epoch_micros(column: pl.Series) -> np.ndarray:
    """A Datetime column as int64 epoch microseconds (no copy when it is stored in them)."""
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "us" and column.null_count() == 0:
        return np.asarray(column.to_physical().to_numpy(), dtype=np.int64)
    return np.asarray(column.dt.epoch("us").to_numpy(), dtype=np.int64)


def micros_to_datetime(values: np.ndarray, like: pl.Series, name: str) -> pl.Series:
    """Epoch microseconds back to a Datetime series with `like`'s time zone."""
    dtype = like.dtype
    tz = getattr(dtype, "time_zone", None)
    out = pl.Series(name, values, dtype=pl.Int64).cast(pl.Datetime("us"))
    return out.dt.replace_time_zone("UTC").dt.convert_time_zone(tz) if tz else out
