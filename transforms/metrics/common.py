"""Pieces every metric table shares: Wilson intervals, cohorts, ISO weeks, the review set."""

from __future__ import annotations

import polars as pl

Z95 = 1.959964
MATURE_DAYS = 21.0


def wilson(successes: str | pl.Expr, n: str | pl.Expr, name: str, z: float = Z95) -> list[pl.Expr]:
    """`name` = successes / n with its Wilson score interval as `name_low`, `name_high`
    (all null when n = 0)."""
    k = pl.col(successes) if isinstance(successes, str) else successes
    total = pl.col(n) if isinstance(n, str) else n
    p = k / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * ((p * (1 - p) / total + z * z / (4 * total * total)).sqrt()) / denom
    has = total > 0
    return [
        pl.when(has).then(p).alias(name),
        # at k = 0 and k = n the bounds are exactly 0 and 1 (float noise aside)
        pl.when(has)
        .then(pl.when(k == 0).then(0.0).otherwise((centre - half).clip(0.0, 1.0)))
        .alias(f"{name}_low"),
        pl.when(has)
        .then(pl.when(k == total).then(1.0).otherwise((centre + half).clip(0.0, 1.0)))
        .alias(f"{name}_high"),
    ]


def iso_week_label(day: pl.Expr) -> pl.Expr:
    """`YYYY-Www` of the ISO week (Monday-based, ISO year) containing `day`."""
    return day.dt.strftime("%G-W%V")


def week_start(day: pl.Expr) -> pl.Expr:
    """The Monday of the week containing `day` (a Date)."""
    return day.dt.truncate("1w")


def learner_cohorts(first_days: pl.DataFrame, cohorts: pl.DataFrame) -> pl.DataFrame:
    """(user_id, language) -> `cohort`: the cohorts file's class, else the ISO week of the
    learner's first attempt in that language. `first_days` has user_id, language, first_day."""
    return (
        first_days.join(
            cohorts.select("user_id", pl.col("cohort").alias("_named")), on="user_id", how="left"
        )
        .with_columns(pl.coalesce("_named", iso_week_label(pl.col("first_day"))).alias("cohort"))
        .drop("_named")
    )


def graded_non_first(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """Graded reviews after a card's first, with `passed` and `maturity`."""
    return reviews.filter(pl.col("review_index") > 1).with_columns(
        (pl.col("quality") >= pass_quality).alias("passed"),
        pl.when(pl.col("interval_before") < MATURE_DAYS)
        .then(pl.lit("young"))
        .otherwise(pl.lit("mature"))
        .alias("maturity"),
    )
