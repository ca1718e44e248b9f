"""`headline_figures`: the index page's figures, each at the as-of day and a week before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import polars as pl

from transforms.metrics.status import language_course, learner_status

WEEK = 7
FIGURE_SCHEMA: dict[str, pl.DataType] = {
    "figure": pl.String(),
    "unit": pl.String(),  # learners, attempts or share (a proportion in 0..1)
    "higher_is_better": pl.Boolean(),
    "value": pl.Float64(),
    "previous_day": pl.Date(),
    "previous": pl.Float64(),
}


def _window(day: pl.Expr, end: date, days: int) -> pl.Expr:
    """`day` within the `days` days ending on `end` (both ends included)."""
    return day.is_between(end - timedelta(days=days - 1), end)


def _active_learners(daily: pl.DataFrame, end: date, days: int) -> float:
    return float(daily.filter(_window(pl.col("day"), end, days))["user_id"].n_unique())


def _attempts(daily: pl.DataFrame, end: date) -> float:
    return float(daily.filter(_window(pl.col("day"), end, WEEK))["attempts"].sum())


def _accuracy(daily: pl.DataFrame, end: date) -> float | None:
    attempts, correct = (
        daily.filter(_window(pl.col("day"), end, WEEK))
        .select(pl.col("attempts").sum(), pl.col("correct").sum())
        .row(0)
    )
    return correct / attempts if attempts else None


def _true_retention(reviews: pl.DataFrame, end: date, pass_quality: int) -> float | None:
    """Passed share of the graded reviews after a card's first, in the week ending on `end`."""
    week = reviews.filter(
        (pl.col("review_index") > 1) & _window(pl.col("reviewed_at").dt.date(), end, WEEK)
    )
    if week.height == 0:
        return None
    return float(week.select((pl.col("quality") >= pass_quality).mean()).item())


def _churned(status: pl.DataFrame) -> float:
    return float(status.filter(pl.col("status") == "churned").height)


def _backtest_flagged(backtest: pl.DataFrame | None, day: date) -> tuple[date | None, float | None]:
    """The latest backtest snapshot on or before `day` and the learners it flagged."""
    if backtest is None:
        return None, None
    before = backtest.filter(pl.col("snapshot_day") <= day).sort("snapshot_day")
    if before.height == 0 or before["flagged"][-1] is None:
        return None, None
    return before["snapshot_day"][-1], float(before["flagged"][-1])


def headline_figures(
    accuracy_daily: pl.DataFrame,
    reviews: pl.DataFrame,
    as_of: datetime,
    pass_quality: int,
    learner_status_table: pl.DataFrame | None = None,
    at_risk_learners: pl.DataFrame | None = None,
    at_risk_backtest: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per headline figure: its `value` on the as-of `day`, its `previous` value on
    `previous_day` (7 days before, or the backtest snapshot for learners at risk), and
    `change` = value − previous (null when either is unknown).

    `accuracy_daily` has user_id, language, day, attempts, correct (days up to as of);
    `reviews` has reviewed_at, review_index, quality. Windows are the 7 (or 28) days ending on
    the day, both ends included. Learners churned are counted per (user_id, course): now from
    `learner_status_table`, a week before by `learner_status` at that day. Learners at risk are
    the flagged rows of `at_risk_learners`, a week before the `flagged` count of the latest
    `at_risk_backtest` snapshot on or before that day (whose `snapshot_day` is then the
    row's `previous_day`: the backtest has only Mondays whose next 14 days are known, so it
    can be up to 20 days before the as-of day). A table passed as None (missing from
    the warehouse) leaves its figure null."""
    today = as_of.date()
    before = today - timedelta(days=WEEK)
    reviews = reviews.filter(pl.col("reviewed_at") <= as_of)
    activity = accuracy_daily.select(
        "user_id", language_course(pl.col("language")).alias("course"), "day"
    )
    flagged_day, flagged_before = _backtest_flagged(at_risk_backtest, before)
    # (figure, unit, its value on a day): higher is better, and the previous value is the
    # same figure 7 days before
    on_day: list[tuple[str, str, Callable[[date], float | None]]] = [
        (
            "Learners active, last 7 days",
            "learners",
            lambda day: _active_learners(accuracy_daily, day, WEEK),
        ),
        (
            "Learners active, last 28 days",
            "learners",
            lambda day: _active_learners(accuracy_daily, day, 4 * WEEK),
        ),
        ("Attempts, last 7 days", "attempts", lambda day: _attempts(accuracy_daily, day)),
        ("Accuracy, last 7 days", "share", lambda day: _accuracy(accuracy_daily, day)),
        (
            "True retention, last 7 days",
            "share",
            lambda day: _true_retention(reviews, day, pass_quality),
        ),
    ]
    rows: list[tuple[str, str, bool, float | None, date | None, float | None]] = [
        (figure, unit, True, value(today), before, value(before)) for figure, unit, value in on_day
    ]
    # Lower is better; now from the tables as of, a week before as known then.
    rows += [
        (
            "Learners at risk",
            "learners",
            False,
            None
            if at_risk_learners is None
            else float(at_risk_learners.filter(pl.col("flagged")).height),
            flagged_day,
            flagged_before,
        ),
        (
            "Learners churned",
            "learners",
            False,
            None if learner_status_table is None else _churned(learner_status_table),
            before,
            _churned(learner_status(activity, before)),
        ),
    ]
    return (
        pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row")
        .with_columns(
            pl.lit(today).alias("day"), (pl.col("value") - pl.col("previous")).alias("change")
        )
        .select(
            "figure",
            "unit",
            "higher_is_better",
            "day",
            "value",
            "previous_day",
            "previous",
            "change",
        )
    )


def weekly_active_learners(
    accuracy_daily: pl.DataFrame, as_of: datetime, weeks: int = 12
) -> pl.DataFrame:
    """One row per week (the 7 days ending on `week_end` = as-of day − 7k, k < `weeks`, oldest
    first): `active_learners`, distinct user ids with an attempt; the latest two rows are the
    headline's "learners active, last 7 days" and its week-before figure."""
    ends = [as_of.date() - timedelta(days=WEEK * k) for k in reversed(range(weeks))]
    return pl.DataFrame(
        {
            "week_end": ends,
            "active_learners": [int(_active_learners(accuracy_daily, end, WEEK)) for end in ends],
        },
        schema={"week_end": pl.Date, "active_learners": pl.Int64},
    )
