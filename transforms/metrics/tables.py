"""All metric tables from the warehouse, as of a moment: the read side the assets share."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

import duckdb
import polars as pl

from transforms.incremental import clear_pending
from transforms.keys import LEARNER
from transforms.metrics.accuracy import accuracy_by_step, accuracy_daily, word_difficulty
from transforms.metrics.common import learner_cohorts
from transforms.metrics.group_sums import forget_group_sums, full_group_sums
from transforms.metrics.learner_state import (
    card_first_reviews,
    keep_scorer,
    learner_history_state,
    write_learner_state,
)
from transforms.metrics.progress import user_language_progress
from transforms.metrics.retention import (
    cohort_retention,
    first_days,
    forgetting_curve,
    true_retention,
)
from transforms.metrics.risk import RiskTables, risk_tables
from transforms.metrics.status import STATUSES
from transforms.registry import MetricTable, build_all
from transforms.sm2.store import current_words, params_used
from transforms.warehouse import query, replace_table, transaction


@dataclass(frozen=True)
class WarehouseInputs:
    attempts: pl.DataFrame
    reviews: pl.DataFrame
    word_progress: pl.DataFrame
    cohorts: pl.DataFrame
    current_words: pl.DataFrame
    pass_quality: int


ATTEMPTS_READ = (
    "SELECT user_id, language, word_uid, step_type, correct, response_time_ms, attempted_at "
    "FROM attempts WHERE attempted_at <= ?"
)
REVIEWS_READ = (
    "SELECT user_id, language, word_uid, reviewed_at, quality, review_index, elapsed_days, "
    "interval_before, p_recall, due_at FROM reviews WHERE reviewed_at <= ?"
)
WORD_PROGRESS_READ = (
    "SELECT user_id, language, word_uid, easiness, interval_days, next_review_at, lapses, "
    "reviews, first_attempted_at FROM word_progress"
)


def read_inputs(con: duckdb.DuckDBPyConnection, as_of: datetime) -> WarehouseInputs:
    """The columns the metrics need, attempts and reviews up to `as_of`."""
    return WarehouseInputs(
        attempts=query(con, ATTEMPTS_READ, [as_of]),
        reviews=query(con, REVIEWS_READ, [as_of]),
        word_progress=query(con, WORD_PROGRESS_READ),
        cohorts=query(con, "SELECT user_id, cohort FROM cohorts"),
        current_words=current_words(con, as_of),
        pass_quality=params_used(con).pass_quality,
    )


class MetricParts:
    """What the metric tables' builders share: the inputs, the as-of time, and the
    intermediate frames several tables derive from (each computed once, when first used)."""

    def __init__(self, inputs: WarehouseInputs, as_of: datetime) -> None:
        self.inputs = inputs
        self.as_of = as_of

    @cached_property
    def daily(self) -> pl.DataFrame:
        inputs = self.inputs
        return accuracy_daily(inputs.attempts, inputs.reviews, inputs.word_progress)

    @cached_property
    def learners(self) -> pl.DataFrame:
        return learner_cohorts(first_days(self.daily), self.inputs.cohorts)

    def with_cohort(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` (user_id, language, ...) with each learner's `cohort` in that language."""
        cohorts = self.learners.select(*LEARNER, "cohort")
        return frame.join(cohorts, on=LEARNER, how="left", maintain_order="left")

    @cached_property
    def risk(self) -> RiskTables:
        return risk_tables(self.daily, self.inputs.reviews, self.as_of, self.inputs.pass_quality)


def _word_difficulty(m: MetricParts) -> pl.DataFrame:
    i = m.inputs
    return word_difficulty(i.attempts, i.reviews, i.word_progress, i.pass_quality)


def _user_language_progress(m: MetricParts) -> pl.DataFrame:
    i = m.inputs
    return user_language_progress(
        i.word_progress, i.reviews, m.daily, i.current_words, m.as_of, i.pass_quality
    )


METRIC_TABLES: tuple[MetricTable[MetricParts], ...] = (
    MetricTable(
        "accuracy_daily",
        "One row per (user_id, language, day) with an attempt.",
        lambda m: m.daily,
        key=("user_id", "language", "day"),
        proportions=("accuracy",),
    ),
    MetricTable(
        "accuracy_by_step",
        "One row per (language, step_type).",
        lambda m: accuracy_by_step(m.inputs.attempts),
        key=("language", "step_type"),
        proportions=("accuracy", "accuracy_low", "accuracy_high"),
    ),
    MetricTable(
        "word_difficulty",
        "One row per (language, word_uid).",
        _word_difficulty,
        key=("language", "word_uid"),
        proportions=("accuracy", "first_review_pass_rate", "lapse_rate"),
    ),
    MetricTable(
        "true_retention",
        "One row per (language, cohort, period_week, maturity).",
        lambda m: true_retention(m.inputs.reviews, m.learners, m.inputs.pass_quality),
        key=("language", "cohort", "period_week", "maturity"),
        proportions=("true_retention", "true_retention_low", "true_retention_high"),
    ),
    MetricTable(
        "forgetting_curve",
        "One row per (language, elapsed_bin) with reviews.",
        lambda m: forgetting_curve(m.inputs.reviews, m.inputs.pass_quality),
        key=("language", "elapsed_bin"),
        proportions=("recall_rate", "recall_rate_low", "recall_rate_high", "mean_p_recall"),
    ),
    MetricTable(
        "cohort_retention",
        "One row per (language, cohort, week_offset).",
        lambda m: cohort_retention(m.daily, m.learners, m.as_of),
        key=("language", "cohort", "week_offset"),
        proportions=("retention", "retention_low", "retention_high", "retention_on_or_after"),
    ),
    MetricTable(
        "learner_cohorts",
        "One row per (user_id, language) with an attempt: the learner's cohort in it.",
        lambda m: m.learners.select(*LEARNER, "first_day", "cohort").sort(LEARNER),
        key=("user_id", "language"),
    ),
    MetricTable(
        "accuracy_by_step_cohort",
        "One row per (language, cohort, step_type): accuracy_by_step within each cohort.",
        lambda m: accuracy_by_step(m.with_cohort(m.inputs.attempts), by=("cohort",)),
        key=("language", "cohort", "step_type"),
        proportions=("accuracy", "accuracy_low", "accuracy_high"),
    ),
    MetricTable(
        "forgetting_curve_cohort",
        "One row per (language, cohort, elapsed_bin) with reviews: forgetting_curve within each "
        "cohort.",
        lambda m: forgetting_curve(
            m.with_cohort(m.inputs.reviews), m.inputs.pass_quality, by=("cohort",)
        ),
        key=("language", "cohort", "elapsed_bin"),
        proportions=("recall_rate", "recall_rate_low", "recall_rate_high", "mean_p_recall"),
    ),
    MetricTable(
        "user_language_progress",
        "One row per (user_id, language).",
        _user_language_progress,
        key=("user_id", "language"),
        proportions=("accuracy", "true_retention"),
    ),
    MetricTable(
        "learner_status",
        "One row per (user_id, course) with activity: active, lapsing or churned.",
        lambda m: m.risk.status,
        key=("user_id", "course"),
        statuses=STATUSES,
    ),
    MetricTable(
        "at_risk_learners",
        "One row per (user_id, course) not churned as of (idle at most 28 days): the risk of no "
        "activity in the next 14 days, flagged or not, with reasons.",
        lambda m: m.risk.at_risk,
        key=("user_id", "course"),
        proportions=("risk", "true_retention_14d"),
    ),
    MetricTable(
        "at_risk_backtest",
        "One row per snapshot Monday: the at-risk model and the rules, scored on that Monday's "
        "learners by a model fitted only on earlier known outcomes.",
        lambda m: m.risk.backtest,
        key=("snapshot_day",),
        proportions=(
            "base_rate",
            "auc",
            "precision",
            "recall",
            "rules_precision",
            "rules_recall",
            "rules_auc",
        ),
    ),
    MetricTable(
        "at_risk_snapshots",
        "One row per (snapshot Monday, user_id, course) not churned that day: the features "
        "known that day, the outcome (no activity in the 14 days after) and the backtest's "
        "out-of-sample risk; the at-risk model's training rows, kept so a nightly run scores "
        "only what changed.",
        lambda m: m.risk.snapshots,
        key=("snapshot_day", "user_id", "course"),
        proportions=("backtest_risk", "true_retention_14d"),
    ),
)


@dataclass(frozen=True)
class MetricsRun:
    """The tables a run wrote (an incremental run: the rows it rebuilt), and where its time
    went (seconds)."""

    tables: dict[str, pl.DataFrame]
    read_s: float
    build_s: float
    write_s: float
    mode: str = "full"  # "full" recompute, or "incremental" over the touched keys
    reason: str = ""
    steps: dict[str, float] = field(default_factory=dict)  # an incremental run: seconds per step


METRICS_CONSUMER = "metrics"  # its name in transforms.incremental's pending sets
METRICS_STATE = "metrics_state"  # one row: the as-of time and inputs the tables were built from


def metrics_inputs_digest(con: duckdb.DuckDBPyConnection, as_of: datetime) -> str:
    """What every metric row depends on beside the learners' own history: the pass quality,
    the cohorts file and the course words in force. When it moves, every row is rebuilt."""
    parts = [
        str(params_used(con).pass_quality),
        query(con, "SELECT user_id, cohort FROM cohorts ORDER BY ALL").write_csv(),
        current_words(con, as_of).select("language", "word_uid").sort(pl.all()).write_csv(),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def record_metrics_state(con: duckdb.DuckDBPyConnection, as_of: datetime, digest: str) -> None:
    """Inside the writing transaction: the tables are up to date as of `as_of`."""
    con.execute(f"CREATE OR REPLACE TABLE {METRICS_STATE} (as_of TIMESTAMP, inputs VARCHAR)")
    con.execute(f"INSERT INTO {METRICS_STATE} VALUES (?, ?)", [as_of, digest])
    clear_pending(con, METRICS_CONSUMER)
    forget_group_sums(con)  # a writer that keeps them up to date records them after


def recompute_metrics(con: duckdb.DuckDBPyConnection, as_of: datetime) -> MetricsRun:
    """Read the inputs as of `as_of` once, build every metric table, and replace them all in
    one transaction (the full path of `update_metrics`, and the metrics benchmark)."""
    began = time.perf_counter()
    inputs = read_inputs(con, as_of)
    digest = metrics_inputs_digest(con, as_of)
    read = time.perf_counter()
    parts = MetricParts(inputs, as_of)
    tables = build_all(METRIC_TABLES, parts)
    sums = full_group_sums(
        inputs.attempts,
        inputs.reviews,
        inputs.word_progress,
        tables["learner_cohorts"].select(*LEARNER, "cohort"),
        inputs.pass_quality,
    )
    built = time.perf_counter()
    state = learner_history_state(tables["accuracy_daily"])
    first_reviews = card_first_reviews(inputs.reviews, inputs.pass_quality)
    with transaction(con):
        for name, frame in tables.items():
            replace_table(con, name, frame)
        write_learner_state(con, state, first_reviews, whole=True)
        keep_scorer(con, as_of, parts.risk.scorer)
        record_metrics_state(con, as_of, digest)
        sums.write_sums(con, as_of)
    return MetricsRun(tables, read - began, built - read, time.perf_counter() - built)
