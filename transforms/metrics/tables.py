"""All metric tables from the warehouse, as of a moment: the read side the assets share."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from transforms.metrics.accuracy import accuracy_by_step, accuracy_daily, word_difficulty
from transforms.metrics.common import learner_cohorts
from transforms.metrics.progress import user_language_progress
from transforms.metrics.retention import (
    cohort_retention,
    first_days,
    forgetting_curve,
    true_retention,
)
from transforms.metrics.risk import risk_tables
from transforms.sm2.store import current_words, params_used
from transforms.warehouse import query, replace_table, transaction

METRIC_TABLES: tuple[str, ...] = (
    "accuracy_daily",
    "accuracy_by_step",
    "word_difficulty",
    "true_retention",
    "forgetting_curve",
    "cohort_retention",
    "user_language_progress",
    "learner_status",
    "at_risk_learners",
    "at_risk_backtest",
)


@dataclass(frozen=True)
class WarehouseInputs:
    attempts: pl.DataFrame
    reviews: pl.DataFrame
    word_progress: pl.DataFrame
    cohorts: pl.DataFrame
    current_words: pl.DataFrame
    pass_quality: int


def read_inputs(con: duckdb.DuckDBPyConnection, as_of: datetime) -> WarehouseInputs:
    """The columns the metrics need, attempts and reviews up to `as_of`."""
    return WarehouseInputs(
        attempts=query(
            con,
            "SELECT user_id, language, word_uid, step_type, correct, "
            "response_time_ms, attempted_at FROM attempts "
            "WHERE attempted_at <= ?",
            [as_of],
        ),
        reviews=query(
            con,
            "SELECT user_id, language, word_uid, reviewed_at, quality, "
            "review_index, elapsed_days, interval_before, p_recall, due_at "
            "FROM reviews WHERE reviewed_at <= ?",
            [as_of],
        ),
        word_progress=query(
            con,
            "SELECT user_id, language, word_uid, easiness, interval_days, "
            "next_review_at, lapses, reviews, first_attempted_at "
            "FROM word_progress",
        ),
        cohorts=query(con, "SELECT user_id, cohort FROM cohorts"),
        current_words=current_words(con, as_of),
        pass_quality=params_used(con).pass_quality,
    )


def build_metrics(inputs: WarehouseInputs, as_of: datetime) -> dict[str, pl.DataFrame]:
    """Every metric table, keyed by its warehouse name."""
    pq = inputs.pass_quality
    daily = accuracy_daily(inputs.attempts, inputs.reviews, inputs.word_progress)
    learners = learner_cohorts(first_days(daily), inputs.cohorts)
    risk = risk_tables(daily, inputs.reviews, as_of, pq)
    return {
        "accuracy_daily": daily,
        "accuracy_by_step": accuracy_by_step(inputs.attempts),
        "word_difficulty": word_difficulty(
            inputs.attempts, inputs.reviews, inputs.word_progress, pq
        ),
        "true_retention": true_retention(inputs.reviews, learners, pq),
        "forgetting_curve": forgetting_curve(inputs.reviews, pq),
        "cohort_retention": cohort_retention(daily, learners, as_of),
        "user_language_progress": user_language_progress(
            inputs.word_progress, inputs.reviews, daily, inputs.current_words, as_of, pq
        ),
        "learner_status": risk.status,
        "at_risk_learners": risk.at_risk,
        "at_risk_backtest": risk.backtest,
    }


@dataclass(frozen=True)
class MetricsRun:
    """The tables a recompute wrote, and where its time went (seconds)."""

    tables: dict[str, pl.DataFrame]
    read_s: float
    build_s: float
    write_s: float


def recompute_metrics(con: duckdb.DuckDBPyConnection, as_of: datetime) -> MetricsRun:
    """Read the inputs as of `as_of` once, build every metric table, and replace them all in
    one transaction (the `analytics_tables` asset, and the metrics benchmark)."""
    began = time.perf_counter()
    inputs = read_inputs(con, as_of)
    read = time.perf_counter()
    tables = build_metrics(inputs, as_of)
    built = time.perf_counter()
    with transaction(con):
        for name, frame in tables.items():
            replace_table(con, name, frame)
    return MetricsRun(tables, read - began, built - read, time.perf_counter() - built)
