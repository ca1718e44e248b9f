"""Cohort files: which class (and educator) a learner belongs to."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from transforms.ingest.fields import UUID_PATTERN

COHORT_SCHEMA: dict[str, type[pl.DataType]] = {
    "user_id": pl.String,
    "cohort": pl.String,
    "educator": pl.String,
    "source": pl.String,
}


def read_cohorts(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per learner (a later file overrides an earlier one), and the rows rejected."""
    frames = []
    for path in sorted(folder.glob("*.csv")) if folder.exists() else []:
        frame = pl.read_csv(path, infer_schema=False)
        if "educator" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("educator"))
        frames.append(
            frame.select(
                pl.col("user_id").str.strip_chars().str.to_lowercase(),
                pl.col("cohort").str.strip_chars(),
                pl.col("educator").str.strip_chars(),
                pl.lit(str(path)).alias("source"),
            )
        )
    rows = pl.concat(frames) if frames else pl.DataFrame(schema=COHORT_SCHEMA)
    valid = pl.col("user_id").str.contains(UUID_PATTERN) & (pl.col("cohort").fill_null("") != "")
    cohorts = rows.filter(valid.fill_null(False)).unique(
        "user_id", keep="last", maintain_order=True
    )
    return cohorts, rows.filter(~valid.fill_null(False))
