"""Memory retention (`true_retention`, `forgetting_curve`) and learner retention
(`cohort_retention`)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.metrics.common import graded_non_first, week_start, wilson

ELAPSED_EDGES: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64)
ELAPSED_LABELS: tuple[str, ...] = (
    "[0,1)",
    "[1,2)",
    "[2,4)",
    "[4,8)",
    "[8,16)",
    "[16,32)",
    "[32,64)",
    "[64,inf)",
)


# `forgetting_curve`'s columns after its keys (language, and cohort in its per-cohort form)
FORGETTING_CURVE_COLUMNS = [
    "elapsed_bin",
    "reviews",
    "recall_rate",
    "recall_rate_low",
    "recall_rate_high",
    "mean_p_recall",
]


def first_days(daily: pl.DataFrame) -> pl.DataFrame:
    """(user_id, language, first_day) from `accuracy_daily`."""
    return daily.group_by("user_id", "language").agg(pl.col("day").min().alias("first_day"))


def true_retention(
    reviews: pl.DataFrame, cohorts_by_learner: pl.DataFrame, pass_quality: int
) -> pl.DataFrame:
    """One row per (language, cohort, period_week, maturity) over graded non-first reviews:
    reviews, passed, true_retention with its Wilson interval. `period_week` is the Monday of
    the review's week; `maturity` is young when interval_before < 21 days."""
    keys = ["language", "cohort", "period_week", "maturity"]
    return (
        graded_non_first(reviews, pass_quality)
        .join(
            cohorts_by_learner.select("user_id", "language", "cohort"),
            on=["user_id", "language"],
            how="left",
        )
        .group_by(
            "language",
            "cohort",
            week_start(pl.col("reviewed_at").dt.date()).alias("period_week"),
            "maturity",
        )
        .agg(
            pl.len().cast(pl.Int64).alias("reviews"),
            pl.col("passed").sum().cast(pl.Int64).alias("passed"),
        )
        .with_columns(wilson("passed", "reviews", "true_retention"))
        .sort(keys)
    )


def forgetting_curve(
    reviews: pl.DataFrame, pass_quality: int, by: tuple[str, ...] = ()
) -> pl.DataFrame:
    """One row per (language, *by, elapsed_bin) with reviews: observed recall with its Wilson
    interval against SM-2's mean predicted recall for the same reviews. `by` are further
    columns of `reviews` (a learner's `cohort`)."""
    graded = graded_non_first(reviews, pass_quality)
    return (
        graded.with_columns(
            pl.sum_horizontal(
                [(pl.col("elapsed_days") >= e).cast(pl.Int32) for e in ELAPSED_EDGES]
            ).alias("bin_index")
        )
        .with_columns(
            pl.col("bin_index")
            .replace_strict(dict(enumerate(ELAPSED_LABELS)), return_dtype=pl.String)
            .alias("elapsed_bin")
        )
        .group_by("language", *by, "elapsed_bin", "bin_index")
        .agg(
            pl.len().cast(pl.Int64).alias("reviews"),
            pl.col("passed").sum().cast(pl.Int64).alias("_passed"),
            pl.col("p_recall").mean().alias("mean_p_recall"),
        )
        .with_columns(wilson("_passed", "reviews", "recall_rate"))
        .sort("language", *by, "bin_index")
        .select("language", *by, *FORGETTING_CURVE_COLUMNS)
    )


COHORT_KEYS = ["language", "cohort", "week_offset"]
COHORT_RETENTION_COLUMNS: tuple[str, ...] = (
    *COHORT_KEYS,
    "cohort_size",
    "active_learners",
    "retention",
    "retention_low",
    "retention_high",
    "retention_on_or_after",
    "retention_on_or_after_low",
    "retention_on_or_after_high",
    "complete",
)


def _cohort_horizon(cohorts_by_learner: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """(language, cohort, week_offset, cohort_size, _last): every week offset that has started
    for some learner of the cohort by as of, with the cohort's size and latest first day."""
    return (
        cohorts_by_learner.group_by("language", "cohort")
        .agg(
            pl.len().cast(pl.Int64).alias("cohort_size"),
            pl.col("first_day").min().alias("_first"),
            pl.col("first_day").max().alias("_last"),
        )
        .with_columns(
            ((pl.lit(as_of.date()) - pl.col("_first")).dt.total_days() // 7)
            .cast(pl.Int32)
            .alias("_max_k")
        )
        .with_columns(pl.int_ranges(0, pl.col("_max_k") + 1, dtype=pl.Int32).alias("week_offset"))
        .explode("week_offset")
        .select(*COHORT_KEYS, "cohort_size", "_last")
    )


def _complete(as_of: datetime) -> pl.Expr:
    """Week k has ended by as of for every learner of the cohort (its latest first day's)."""
    end_of_week = pl.col("_last").cast(pl.Datetime("us")) + pl.duration(
        days=7 * (pl.col("week_offset") + 1)
    )
    return (end_of_week <= pl.lit(as_of)).alias("complete")


def _retention_rows(counted: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """The table's rows from the horizon with `active_learners` and `_on_or_after` counts."""
    return (
        counted.with_columns(pl.col("active_learners", "_on_or_after").fill_null(0))
        .with_columns(
            *wilson("active_learners", "cohort_size", "retention"),
            *wilson("_on_or_after", "cohort_size", "retention_on_or_after"),
            _complete(as_of),
        )
        .select(COHORT_RETENTION_COLUMNS)
        .sort(COHORT_KEYS)
    )


def cohort_retention(
    daily: pl.DataFrame, cohorts_by_learner: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    """One row per (language, cohort, week_offset): week k of a learner is the 7 days from
    `first_day + 7k`. `active_learners` studied in week k, `retention` = active / cohort_size,
    `retention_on_or_after` counts learners with any attempt in week k or later; `complete`
    says week k has ended by as of for every learner of the cohort."""
    learners = cohorts_by_learner.select("user_id", "language", "cohort", "first_day")
    weeks = (
        daily.join(learners, on=["user_id", "language"])
        .select(
            "user_id",
            "language",
            "cohort",
            ((pl.col("day") - pl.col("first_day")).dt.total_days() // 7)
            .cast(pl.Int32)
            .alias("week_offset"),
        )
        .unique()
    )
    horizon = _cohort_horizon(learners, as_of)
    last_week = weeks.group_by("user_id", "language", "cohort").agg(
        pl.col("week_offset").max().alias("_last_k")
    )
    active = weeks.group_by(COHORT_KEYS).agg(pl.len().cast(pl.Int64).alias("active_learners"))
    on_or_after = (
        last_week.join(horizon.select(COHORT_KEYS), on=["language", "cohort"])
        .filter(pl.col("_last_k") >= pl.col("week_offset"))
        .group_by(COHORT_KEYS)
        .agg(pl.len().cast(pl.Int64).alias("_on_or_after"))
    )
    counted = horizon.join(active, on=COHORT_KEYS, how="left").join(
        on_or_after, on=COHORT_KEYS, how="left"
    )
    return _retention_rows(counted, as_of)


def cohort_retention_moved_on(
    stored: pl.DataFrame,
    cohorts_by_learner: pl.DataFrame,
    week_changes: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """`cohort_retention` of cohorts whose learners kept their first day, from their stored
    rows and what a night changed: `week_changes` (language, cohort, week_offset, `active`,
    `on_or_after`) are the learners that became active in a week, and that now have activity
    in it or later, which they had not before (days are only ever added, so both only grow).
    The stored `_on_or_after` count is `retention_on_or_after` x the stored `cohort_size`
    rounded (a float of k / n times n is k within an ulp). Weeks begun since, and learners
    who joined, count as the changes say; `cohort_size`, the weeks and `complete` come from
    `cohorts_by_learner` (those cohorts' learners now), as in a full build."""
    counts = stored.select(
        *COHORT_KEYS,
        pl.col("active_learners").alias("_active"),
        (pl.col("retention_on_or_after") * pl.col("cohort_size"))
        .round(0)
        .cast(pl.Int64)
        .alias("_after"),
    )
    changes = week_changes.group_by(COHORT_KEYS).agg(
        pl.col("active").sum().cast(pl.Int64).alias("_d_active"),
        pl.col("on_or_after").sum().cast(pl.Int64).alias("_d_after"),
    )
    counted = (
        _cohort_horizon(cohorts_by_learner, as_of)
        .join(counts, on=COHORT_KEYS, how="left")
        .join(changes, on=COHORT_KEYS, how="left")
        .with_columns(pl.col("_active", "_after", "_d_active", "_d_after").fill_null(0))
        .with_columns(
            (pl.col("_active") + pl.col("_d_active")).alias("active_learners"),
            (pl.col("_after") + pl.col("_d_after")).alias("_on_or_after"),
        )
    )
    return _retention_rows(counted, as_of)
