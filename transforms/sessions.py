"""Sessions for attempts that carry none: per learner, a new session after 30 idle minutes."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

SESSION_GAP = timedelta(minutes=30)


def with_sessions(attempts: pl.LazyFrame) -> pl.LazyFrame:
    """Fill a missing `session_id` with `derived:<user_id>:<session start, epoch ms>`.

    Gaps are measured between a learner's attempts that have no session id (any language).
    """
    attempts = attempts.with_columns(pl.col("session_id").cast(pl.String))
    missing = attempts.filter(pl.col("session_id").is_null()).sort(
        "user_id", "attempted_at", "uuid_local"
    )
    starts = (
        pl.col("attempted_at").diff().over("user_id").fill_null(SESSION_GAP + SESSION_GAP)
        > SESSION_GAP
    )
    session_start = pl.when(starts).then(pl.col("attempted_at")).forward_fill().over("user_id")
    derived = missing.with_columns(
        pl.format("derived:{}:{}", "user_id", session_start.dt.epoch("ms")).alias("session_id")
    )
    return pl.concat([attempts.filter(pl.col("session_id").is_not_null()), derived])
