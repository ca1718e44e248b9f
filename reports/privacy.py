"""What keeps learners private in reports: pseudonyms and small-cohort suppression."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

MIN_COHORT = 5
SUPPRESSED = "fewer than 5 learners"


def pseudonym(user_id: str, key: bytes) -> str:
    """A stable pseudonym: a keyed hash (HMAC-SHA256) of the user id, never the id itself."""
    digest = hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()
    return f"learner-{digest[:10]}"


def pseudonymize(frame: pl.DataFrame, key: bytes, column: str = "user_id") -> pl.DataFrame:
    """Replace `column` by `learner` pseudonyms."""
    return frame.with_columns(
        pl.col(column)
        .map_elements(lambda u: pseudonym(u, key), return_dtype=pl.String)
        .alias("learner")
    ).drop(column)


def large_cohorts(cohort_sizes: pl.DataFrame) -> pl.DataFrame:
    """The (language, cohort) rows of `cohort_sizes` with at least 5 learners."""
    return cohort_sizes.filter(pl.col("cohort_size") >= MIN_COHORT)


def small_cohorts(cohort_sizes: pl.DataFrame) -> list[str]:
    """The cohorts of `cohort_sizes` (language, cohort, cohort_size) with no language of at
    least 5 learners: left out of the educator views, named on the index."""
    large = large_cohorts(cohort_sizes).select("cohort")
    return sorted(cohort_sizes.join(large, on="cohort", how="anti")["cohort"].unique().to_list())
