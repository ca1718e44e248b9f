"""The sharded run's per-learner progress tables by learner bucket, and which buckets a run
recomputes.

**Per-learner tables.** Every table keyed by learner depends on that learner's rows alone: the
language metrics' `LEARNER_METRICS` and every LMS progress table (`LMS_TABLES`, all keyed by
`user_id`). `bucket_progress` computes them for one bucket's learners (the stored `bucket`
column of `attempts` and `lms_events`) with the single-process builders, reading the warehouse
read-only: many bucket steps read it at once, none writes. The tables that span learners
(cohort and course aggregates, the at-risk model fitted over every learner) are the fan-in's,
from the warehouse once the per-learner rows are in (`aggregate_metrics`).

**The plan.** A bucket is recomputed when it has data the last successful sharded run did not
cover: a row of a source (file, Postgres batch) not ingested then, or a row the as-of time
now reaches (`attempted_at`/`occurred_at` after the last run's as of). Everything is recomputed
with no recorded state, on `PROGRESS_FULL_REFRESH`, when the as-of time moves back, or when an
input every learner shares changes (`SharedInputs`: B, the SM-2 parameters, the course words in
force; for the progress tables also the cohorts, course trees, paths and manifests). The
per-learner progress tables also hold as-of columns (due now, streaks, idle days, the task
queue), so when the as-of time moves every bucket's progress step runs; SM-2 still runs only the
buckets with new attempts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from transforms import lake
from transforms.lms.nightly import learner_inputs, task_medians
from transforms.lms.progress import LMS_TABLES, build_lms_progress
from transforms.lms.read import course_tree
from transforms.lms.tasks import MEDIAN
from transforms.lms.tree import versions_as_of
from transforms.metrics.risk import course_activity
from transforms.metrics.status import learner_status
from transforms.metrics.tables import (
    ATTEMPTS_READ,
    METRIC_TABLES,
    REVIEWS_READ,
    WORD_PROGRESS_READ,
    MetricParts,
    WarehouseInputs,
    read_inputs,
)
from transforms.registry import build_all, table_names
from transforms.settings import Settings
from transforms.sm2 import SM2Params
from transforms.sm2.store import current_words, params_used
from transforms.warehouse import (
    duckdb_config,
    query,
    replace_table,
    scalar,
    table_exists,
    transaction,
)

# the language metrics keyed by learner: one bucket's learners give exactly their rows
LEARNER_METRICS: tuple[str, ...] = (
    "accuracy_daily",
    "learner_cohorts",
    "user_language_progress",
    "learner_status",
)
AGGREGATE_METRICS: tuple[str, ...] = tuple(
    t.name for t in METRIC_TABLES if t.name not in LEARNER_METRICS
)
LMS_TABLE_NAMES: tuple[str, ...] = table_names(LMS_TABLES)
PROGRESS_LAKE_TABLES: tuple[str, ...] = LEARNER_METRICS + LMS_TABLE_NAMES
TABLE_KEYS: dict[str, tuple[str, ...]] = {t.name: t.key for t in METRIC_TABLES} | {
    t.name: t.key for t in LMS_TABLES
}
TABLE_GRAINS: dict[str, str] = {t.name: t.grain for t in METRIC_TABLES} | {
    t.name: t.grain for t in LMS_TABLES
}

SRS, PROGRESS = "srs", "progress"  # the two bucket stages
SHARD_STATE = "shard_state"  # one row: the as of and shared inputs of the last successful run
SHARD_SOURCES = "shard_sources"  # one row per source (attempts and events) that run covered
SHARD_PLAN = "shard_plan"  # shard_plan_<stage>: one row per bucket the stage recomputes this run


def connect_read_only(
    path: Path | str, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """The warehouse opened read-only: any number of processes may at once, while none writes."""
    limit = memory_limit or Settings.from_env().duckdb_memory
    return duckdb.connect(str(path), read_only=True, config=duckdb_config(limit))


def bucket_learners(con: duckdb.DuckDBPyConnection, bucket: int) -> pl.DataFrame:
    """One column, `user_id`: the learners of `bucket`, from the stored bucket columns."""
    parts = ["SELECT user_id FROM attempts WHERE bucket = $b"]
    if table_exists(con, "lms_events"):
        parts.append("SELECT user_id FROM lms_events WHERE bucket = $b")
    return con.sql(f"{' UNION '.join(parts)} ORDER BY user_id", params={"b": bucket}).pl()


def learner_metrics(
    con: duckdb.DuckDBPyConnection, as_of: datetime, learners: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The `LEARNER_METRICS` rows of `learners` (one column, `user_id`), as of `as_of`: the
    single-process builders over those learners' attempts, reviews and cards."""
    with_learners = "SEMI JOIN _learners USING (user_id)"
    con.register("_learners", learners)
    try:
        inputs = WarehouseInputs(
            attempts=query(con, f"SELECT * FROM ({ATTEMPTS_READ}) {with_learners}", [as_of]),
            reviews=query(con, f"SELECT * FROM ({REVIEWS_READ}) {with_learners}", [as_of]),
            word_progress=query(con, f"SELECT * FROM ({WORD_PROGRESS_READ}) {with_learners}"),
            cohorts=query(con, "SELECT user_id, cohort FROM cohorts"),
            current_words=current_words(con, as_of),
            pass_quality=params_used(con).pass_quality,
        )
    finally:
        con.unregister("_learners")
    parts = MetricParts(inputs, as_of)
    tables = build_all((t for t in METRIC_TABLES if t.name in LEARNER_METRICS[:-1]), parts)
    # `learner_status` as `risk_tables` gives it, without fitting the at-risk model
    day = as_of.date()
    known = parts.daily.filter(pl.col("day") <= day)
    tables["learner_status"] = learner_status(course_activity(known), day)
    return tables


# One row per task attempted up to the run's as of: every learner's median attempt time
# (`task_medians`), computed once before the progress buckets, which each read it: a bucket's
# learners' task state needs the medians over every learner.
SHARD_TASK_MEDIANS = "shard_task_medians"


def record_task_medians(con: duckdb.DuckDBPyConnection, as_of: datetime) -> int:
    """Every learner's task medians as of `as_of` into `SHARD_TASK_MEDIANS`; their count."""
    courses = versions_as_of(course_tree(con)[0], as_of)["course_id"].unique().to_list()
    medians = task_medians(con, as_of, courses)
    replace_table(con, SHARD_TASK_MEDIANS, medians)
    return medians.height


def stored_task_medians(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The medians `record_task_medians` stored for this run."""
    return query(con, f"SELECT * FROM {SHARD_TASK_MEDIANS}")


def bucket_progress(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    learners: pl.DataFrame,
    bucket: int,
    medians: pl.DataFrame,
) -> dict[str, pl.DataFrame]:
    """Every `PROGRESS_LAKE_TABLES` row of `learners` (a bucket's), with its `bucket` column;
    `medians`, every learner's task medians (`stored_task_medians`)."""
    tables = learner_metrics(con, as_of, learners)
    lms = build_lms_progress(learner_inputs(con, as_of, learners, medians), as_of, SM2Params())
    stamp = pl.lit(bucket, dtype=pl.Int16).alias(lake.BUCKET)
    return {name: frame.with_columns(stamp) for name, frame in (tables | lms).items()}


def progress_schemas(con: duckdb.DuckDBPyConnection, as_of: datetime) -> dict[str, pl.Schema]:
    """Each progress table's schema: what `bucket_progress` gives for no learners."""
    none = pl.DataFrame(schema={"user_id": pl.String})
    no_medians = pl.DataFrame(schema={"node_id": pl.String, MEDIAN: pl.Float64})
    return {name: f.schema for name, f in bucket_progress(con, as_of, none, -1, no_medians).items()}


def ensure_progress_lake(
    con: duckdb.DuckDBPyConnection,
    lake_path: str,
    options: Mapping[str, str],
    as_of: datetime,
    empty: bool = False,
) -> list[str]:
    """`lake.ensure_tables` for the progress tables (their schemas as of `as_of`)."""
    return lake.ensure_tables(lake_path, progress_schemas(con, as_of), options, empty)


def read_progress_lake(
    lake_path: str, options: Mapping[str, str], schemas: Mapping[str, pl.Schema]
) -> dict[str, pl.DataFrame]:
    """The lake's live rows of every progress table, without `bucket`, in the types the
    builders give (the lake has no unsigned or categorical types), sorted by key."""
    frames = {}
    for table, schema in schemas.items():
        frame = lake.scan(lake.table_uri(lake_path, table), options).collect()
        frame = frame.select(pl.col(c).cast(t) for c, t in schema.items() if c != lake.BUCKET)
        frames[table] = frame.sort(list(TABLE_KEYS[table]), nulls_last=True)
    return frames


def aggregate_metrics(
    con: duckdb.DuckDBPyConnection, as_of: datetime, daily: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The metric tables that span learners (`AGGREGATE_METRICS`), from the warehouse and the
    every-learner `accuracy_daily` the bucket steps gave."""
    parts = MetricParts(read_inputs(con, as_of), as_of)
    parts.daily = daily  # the buckets' rows: not computed again
    return build_all((t for t in METRIC_TABLES if t.name in AGGREGATE_METRICS), parts)


def compact_progress_lake(lake_path: str, options: Mapping[str, str]) -> dict[str, int]:
    """Compact and vacuum every progress lake table; the summed file counts."""
    totals: dict[str, int] = {}
    for table in PROGRESS_LAKE_TABLES:
        uri = lake.table_uri(lake_path, table)
        for key, value in lake.compact_and_vacuum(uri, options).items():
            totals[key] = totals.get(key, 0) + value
    return totals


# --- the plan: which buckets this run recomputes --------------------------------------------


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _table_text(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """A digest of the table's rows, in any order (each row as DuckDB's text of it)."""
    if not table_exists(con, table):
        return ""
    text = "CAST(t AS VARCHAR)"
    return str(
        scalar(con, f'SELECT md5(string_agg({text}, chr(10) ORDER BY {text})) FROM "{table}" t')
    )


@dataclass(frozen=True)
class SharedInputs:
    """What every learner's rows depend on beside their own data, as digests: a change
    recomputes every bucket (SM-2: B, the parameters, the course words in force; the progress
    tables: those, the cohorts, course trees, paths and manifests)."""

    srs: str
    progress: str

    @classmethod
    def of(
        cls, con: duckdb.DuckDBPyConnection, as_of: datetime, buckets: int, params: SM2Params
    ) -> SharedInputs:
        words = current_words(con, as_of).sort(pl.all()).write_csv()
        srs = _digest(str(buckets), json.dumps(params.to_dict(), sort_keys=True), words)
        tables = ("cohorts", "course_versions", "course_nodes", "learning_paths")
        shared = [_table_text(con, t) for t in (*tables, "manifest_versions", "manifest_words")]
        return cls(srs, _digest(srs, *shared))


@dataclass(frozen=True)
class Plan:
    """The buckets a stage recomputes, and why."""

    buckets: list[int]
    everything: bool
    reason: str


def _stored_state(con: duckdb.DuckDBPyConnection) -> tuple[datetime, str, str] | None:
    if not table_exists(con, SHARD_STATE) or not table_exists(con, SHARD_SOURCES):
        return None
    rows = query(con, f"SELECT as_of, srs, progress FROM {SHARD_STATE}").rows()
    return (rows[0][0], rows[0][1], rows[0][2]) if len(rows) == 1 else None


def _new_data_buckets(
    con: duckdb.DuckDBPyConnection, table: str, time_column: str, since: datetime, as_of: datetime
) -> set[int]:
    """The buckets with a row up to `as_of` that is after `since` or from a source the last
    run did not cover."""
    if not table_exists(con, table):
        return set()
    rows = query(
        con,
        f"""SELECT DISTINCT bucket FROM "{table}" t
        WHERE {time_column} <= ? AND ({time_column} > ?
           OR NOT EXISTS (SELECT 1 FROM {SHARD_SOURCES} s WHERE s.source_id = t.source_id))""",
        [as_of, since],
    )
    return {int(b) for b in rows["bucket"].drop_nulls()}


def plan_buckets(
    con: duckdb.DuckDBPyConnection,
    stage: str,
    as_of: datetime,
    shared: SharedInputs,
    buckets: int,
    everything: str = "",
) -> Plan:
    """The buckets `stage` (`SRS` or `PROGRESS`) recomputes this run (the module docstring);
    `everything`, when not empty, is a reason the caller has to recompute every bucket (a
    full refresh requested, lake tables just created)."""
    stored = _stored_state(con)
    digest = shared.srs if stage == SRS else shared.progress
    reason = (
        everything
        if everything
        else "no successful sharded run recorded"
        if stored is None
        else "as-of time moved back"
        if as_of < stored[0]
        else "B, SM-2 parameters or course words changed"
        if stored[1] != shared.srs
        else "cohorts, course trees, paths or manifests changed"
        if stage == PROGRESS and stored[2] != digest
        else "the as-of time moved (the progress tables hold as-of columns)"
        if stage == PROGRESS and as_of != stored[0]
        else ""
    )
    if reason or stored is None:
        return Plan(list(range(buckets)), True, reason)
    dirty = _new_data_buckets(con, "attempts", "attempted_at", stored[0], as_of)
    if stage == PROGRESS:
        dirty |= _new_data_buckets(con, "lms_events", "occurred_at", stored[0], as_of)
    return Plan(sorted(dirty), False, f"{len(dirty)} bucket(s) with new data")


def full_reason(full_refresh: bool, created: list[str]) -> str:
    """Why every bucket is recomputed whatever the stored state says, or ""."""
    if full_refresh:
        return "full refresh requested"
    return f"lake tables created or reshaped: {', '.join(created)}" if created else ""


def plan_table(stage: str) -> str:
    """The table of the buckets `stage` recomputes this run (one per stage, so each is the
    declared output of its own layout step)."""
    return f"{SHARD_PLAN}_{stage}"


def record_plan(con: duckdb.DuckDBPyConnection, stage: str, plan: Plan) -> None:
    """Store the buckets `stage` recomputes this run (the driver reads them)."""
    table = plan_table(stage)
    with transaction(con):
        con.execute(f"CREATE OR REPLACE TABLE {table} (bucket INTEGER NOT NULL)")
        if plan.buckets:
            con.executemany(f"INSERT INTO {table} VALUES (?)", [[b] for b in plan.buckets])


def planned_buckets(con: duckdb.DuckDBPyConnection, stage: str) -> list[int]:
    """The buckets `record_plan` stored for `stage`."""
    table = plan_table(stage)
    if not table_exists(con, table):
        return []
    return [int(b) for b in query(con, f"SELECT bucket FROM {table} ORDER BY 1")["bucket"]]


def record_shard_state(
    con: duckdb.DuckDBPyConnection, as_of: datetime, shared: SharedInputs
) -> None:
    """Inside the last fan-in's transaction: every bucket is up to date as of `as_of` with
    `shared`, covering every source now in the warehouse."""
    con.execute(
        f"CREATE OR REPLACE TABLE {SHARD_STATE} (as_of TIMESTAMP, srs VARCHAR, progress VARCHAR)"
    )
    con.execute(f"INSERT INTO {SHARD_STATE} VALUES (?, ?, ?)", [as_of, shared.srs, shared.progress])
    sources = ["SELECT source_id FROM attempts"]
    if table_exists(con, "lms_events"):
        sources.append("SELECT source_id FROM lms_events")
    con.execute(f"CREATE OR REPLACE TABLE {SHARD_SOURCES} AS {' UNION '.join(sources)}")
