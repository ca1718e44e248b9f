"""Dirty rows for generated attempt logs: one corruption per reject reason, retries, conflicts.

Works on a frame whose columns are all strings (the snake_case contract fields), so every
format can carry every corruption its encoding allows.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# reason code -> (column, corrupted value); `None` means "leave the field out".
CORRUPTIONS: dict[str, tuple[str, str | None]] = {
    "missing_field": ("word_uid", None),
    "invalid_uuid": ("uuid_local", "not-a-uuid"),
    "unknown_language": ("language", "xx"),
    "invalid_word_uid": ("word_uid", "no-colons-here"),
    "word_language_mismatch": ("word_uid", "zz:g-x:x"),
    "invalid_step_type": ("step_type", "9-bad step"),
    "invalid_correct": ("correct", "maybe"),
    "invalid_response_time": ("response_time_ms", "fast"),
    "response_time_out_of_range": ("response_time_ms", "-40"),
    "invalid_timestamp": ("attempted_at", "yesterday"),
    "timestamp_too_early": ("attempted_at", "1999-12-31T23:00:00+00:00"),
    "timestamp_in_future": ("attempted_at", "2099-01-01T00:00:00+00:00"),
}
# Corruptions a typed Parquet column can hold.
PARQUET_SAFE = (
    "missing_field",
    "invalid_uuid",
    "unknown_language",
    "invalid_word_uid",
    "word_language_mismatch",
    "invalid_step_type",
    "response_time_out_of_range",
    "timestamp_too_early",
    "timestamp_in_future",
)


def inject(
    frame: pl.DataFrame, share: float, reasons: tuple[str, ...], rng: np.random.Generator
) -> pl.DataFrame:
    """Corrupt about `share` of rows (reasons in turn), then append client retries (exact copies)
    and conflicting duplicates (same uuid, flipped `correct`). Adds a `_dirty` column naming what
    was done to each row, or null."""
    n = frame.height
    out = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_dirty"))
    if n == 0 or share <= 0:
        return out
    out = out.with_row_index("_i")
    picks = rng.choice(n, size=min(n, max(1, round(n * share))), replace=False)
    kinds = np.array(reasons)[np.arange(len(picks)) % len(reasons)]
    mask: list[str | None] = [None] * n
    for i, kind in zip(picks.tolist(), kinds.tolist(), strict=True):
        mask[i] = kind
    out = out.with_columns(pl.Series("_dirty", mask, dtype=pl.String))
    for reason in reasons:
        column, value = CORRUPTIONS[reason]
        out = out.with_columns(
            pl.when(pl.col("_dirty") == reason)
            .then(pl.lit(value, dtype=pl.String))
            .otherwise(pl.col(column))
            .alias(column)
        )
    clean = out.filter(pl.col("_dirty").is_null())
    n_extra = max(1, round(n * share / 2))
    retries = clean.sample(n_extra, seed=int(rng.integers(2**31)), with_replacement=True)
    conflicts = clean.sample(
        max(1, n_extra // 2), seed=int(rng.integers(2**31)), with_replacement=False
    ).with_columns(
        pl.when(pl.col("correct") == "true")
        .then(pl.lit("false"))
        .otherwise(pl.lit("true"))
        .alias("correct")
    )
    extra = pl.concat(
        [
            retries.with_columns(pl.lit("retry").alias("_dirty")),
            conflicts.with_columns(pl.lit("conflicting_duplicate").alias("_dirty")),
        ]
    )
    # Retries and conflicts arrive after their original, at random later positions.
    original = extra["_i"].to_numpy().astype(float)
    later = original + 0.5 + rng.uniform(0, 1, extra.height) * (n - original)
    position = np.concatenate([np.arange(n, dtype=float), later])
    return (
        pl.concat([out, extra])
        .with_columns(pl.Series("_order", position))
        .sort("_order", maintain_order=True)
        .drop("_order", "_i")
    )
