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
    derived = missing.with_columns(derived_session_id(session_starts(time), time))
    return pl.concat([attempts.filter(pl.col("session_id").is_not_null()), derived])


def session_starts(time: str, user: str = "user_id") -> pl.Expr:
    """On rows sorted by learner then `time`: whether the row starts a session (the learner's
    first row, or more than 30 minutes after the previous one). No window functions: the
    sort already groups the learner's rows."""
    new_user = (pl.col(user) != pl.col(user).shift(1)).fill_null(True)
    return new_user | (pl.col(time).diff() > SESSION_GAP).fill_null(True)


def derived_session_id(starts: pl.Expr, time: str, user: str = "user_id") -> pl.Expr:
    """`derived:<user_id>:<session start, epoch ms>` from `session_starts` on the same rows."""
    session_start = pl.when(starts).then(pl.col(time)).forward_fill()
    return pl.format(
        "derived:{}:{}", pl.col(user).cast(pl.String), session_start.dt.epoch("ms")
    ).alias("session_id")
