"""What the latest ingestion loaded: the index page's data-quality panel.

Every source one ingestion run loads gets the same `ingested_at` (the run's one wall-clock
reading), so the latest run is the rows of `ingested_files` with the greatest `ingested_at`
(a run that found nothing new adds no rows: the panel then shows the run before it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

COUNTS = ("rows_read", "accepted", "duplicates", "rejected")


@dataclass(frozen=True)
class LastIngestion:
    """`ingested_at` of the latest run (None before any), its `totals` (one row: sources,
    failed_sources and the row counts), its `rejected_by_reason` (reason, rows; most first)
    and its `failed_files` (path, error)."""

    ingested_at: datetime | None
    totals: pl.DataFrame
    rejected_by_reason: pl.DataFrame
    failed_files: pl.DataFrame


def last_ingestion(ingested_files: pl.DataFrame, attempt_rejects: pl.DataFrame) -> LastIngestion:
    """`ingested_files` has content_hash, path, status, error, the row counts and ingested_at;
    `attempt_rejects` has source_id (a content hash) and reason."""
    latest = ingested_files["ingested_at"].max() if ingested_files.height else None
    run = (
        ingested_files.filter(pl.col("ingested_at") == latest)
        if latest is not None
        else ingested_files.clear()
    )
    totals = run.select(
        pl.len().cast(pl.Int64).alias("sources"),
        (pl.col("status") == "failed").sum().cast(pl.Int64).alias("failed_sources"),
        *(pl.col(c).sum().cast(pl.Int64) for c in COUNTS),
    )
    rejected = (
        attempt_rejects.join(
            run.select(pl.col("content_hash").alias("source_id")), on="source_id", how="semi"
        )
        .group_by("reason")
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .sort(["rows", "reason"], descending=[True, False])
    )
    failed = run.filter(pl.col("status") == "failed").select("path", "error").sort("path")
    return LastIngestion(latest if isinstance(latest, datetime) else None, totals, rejected, failed)
