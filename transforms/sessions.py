"""Sessions for attempts that carry none: per learner, a new session after 30 idle minutes."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

SESSION_GAP = timedelta(minutes=30)


def with_sessions(
    attempts: pl.LazyFrame, time: str = "attempted_at", tiebreak: str = "uuid_local"
) -> pl.LazyFrame:
    """Fill a missing `session_id` with `derived:<user_id>:<session start, epoch ms>`.

    Gaps are measured between a learner's rows that have no session id (any language or
    course), ordered by `time` then `tiebreak` (attempts by default; learning events pass
    `occurred_at` and `event_id`).
    """
    attempts = attempts.with_columns(pl.col("session_id").cast(pl.String))
    missing = attempts.filter(pl.col("session_id").is_null()).sort("user_id", time, tiebreak)
    # sorted by learner: a row starts a session when it is the learner's first, or comes more
    # than 30 minutes after the previous one (no window functions: the sort already groups)
    new_user = (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True)
    starts = new_user | (pl.col(time).diff() > SESSION_GAP).fill_null(True)
    session_start = pl.when(starts).then(pl.col(time)).forward_fill()
    derived = missing.with_columns(
        pl.format("derived:{}:{}", "user_id", session_start.dt.epoch("ms")).alias("session_id")
    )
    return pl.concat([attempts.filter(pl.col("session_id").is_not_null()), derived])
