"""The sharded nightly run (`PROGRESS_SHARDED=1`): the heavy assets per learner bucket, on any
engine.

With the setting on, `pipelines.definitions` swaps the single-process `sm2_replay`,
`analytics_tables` and `lms_progress_tables` for:

- `lake_layout` (unpartitioned, before any parallel step): every bucket column holds
  `crc32(user_id) % PROGRESS_BUCKETS`, the SRS lake tables exist, the buckets SM-2 recomputes
  are planned (`transforms/shards.py`: the buckets with new data since the last successful
  run, or all) and their inputs exported to the lake (attempts by bucket, the course words in
  force, as of);
- `sm2_replay_bucket` (partitioned, one partition per bucket): the bucket's learners, read
  from the lake (a worker needs the lake and the code, never the warehouse), replayed into the
  lake's `reviews` and `word_progress`, replacing only that bucket's rows;
- `sm2_replay` (a fan-in, the warehouse's only writer of these tables): the lake's live rows
  into `reviews` and `word_progress`, then compaction and vacuum of the lake;
- `progress_layout` (unpartitioned): the progress lake tables exist, the buckets the
  per-learner tables recompute are planned, every learner's task medians are stored once for
  the buckets (`shard_task_medians`);
- `progress_bucket` (partitioned): one bucket's learners' per-learner metrics and LMS progress
  tables, from the warehouse opened read-only (any number of readers at once), into the lake;
- `progress_fan_in`: the lake's per-learner rows into the warehouse, the tables that span
  learners (cohort and course aggregates, the at-risk model) computed there, the state the
  next run plans from recorded, then compaction and vacuum.

`python -m pipelines.sharded` runs the nightly job in five runs: everything up to
`lake_layout`; one run per planned bucket partition of `srs_shards`, `--workers` at a time,
each on the multiprocess executor (one machine) or on `dagster-celery` workers when
`PROGRESS_CELERY_BROKER` is set; the SRS fan-in up to `progress_layout`; one run per planned
partition of `progress_shards`; then everything after.
"""

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import dagster as dg

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs
from pipelines.defs.metrics.assets import STATE as METRICS_BOOKKEEPING
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.assets import SRS_STATE, TOUCHED
from pipelines.defs.srs.config import SM2ReplayConfig
from transforms import lake
from transforms.as_of import resolve_as_of
from transforms.buckets import ensure_bucket_layout
from transforms.lms.schema import ensure_lms_tables
from transforms.metrics.learner_state import forget_learner_state
from transforms.metrics.tables import metrics_inputs_digest, record_metrics_state
from transforms.settings import Settings
from transforms.shards import (
    PROGRESS,
    PROGRESS_LAKE_TABLES,
    SHARD_SOURCES,
    SHARD_STATE,
    SHARD_TASK_MEDIANS,
    SRS,
    TABLE_GRAINS,
    Plan,
    SharedInputs,
    aggregate_metrics,
    bucket_learners,
    bucket_progress,
    compact_progress_lake,
    connect_read_only,
    ensure_progress_lake,
    full_reason,
    plan_buckets,
    plan_table,
    planned_buckets,
    progress_schemas,
    read_progress_lake,
    record_plan,
    record_shard_state,
    record_task_medians,
    stored_task_medians,
)
from transforms.sm2.shards import (
    compact_srs_lake,
    compute_bucket,
    ensure_srs_lake,
    export_srs_inputs,
    load_srs_from_lake,
    read_bucket,
)
from transforms.warehouse import replace_table, transaction

SHARDS = "shards"
LAKE_REVIEWS = dg.AssetKey(["lake", "reviews"])
LAKE_WORD_PROGRESS = dg.AssetKey(["lake", "word_progress"])
LAKE_PROGRESS = {table: dg.AssetKey(["lake", table]) for table in PROGRESS_LAKE_TABLES}
UPSTREAM = ["attempts", "manifest_words", "manifest_versions", "lms_events"]
PROGRESS_UPSTREAM = [
    "reviews",
    "word_progress",
    "cohorts",
    "course_nodes",
    "course_versions",
    "learning_paths",
    *UPSTREAM,
]


# the state the next sharded run plans its buckets from, written by the last fan-in
SHARD_BOOKKEEPING = {
    SHARD_STATE: "One row: the as-of time and shared-input fingerprints of the last "
    "successful sharded run.",
    SHARD_SOURCES: "One row per attempt or event source (source_id) that run covered.",
}


def plan_metadata(as_of: datetime, plan: Plan, created: list[str]) -> dict[str, str | int]:
    """What a layout step planned: the as-of time, the buckets to recompute and why, and the
    lake tables it created (each of those makes every bucket run)."""
    return {
        "as_of": as_of.isoformat(),
        "buckets_planned": len(plan.buckets),
        "plan_reason": plan.reason,
        "tables_created": ", ".join(created) or "none",
    }


def bucket_partitions(buckets: int) -> dg.StaticPartitionsDefinition:
    """One partition per bucket id, "0" .. "B-1"."""
    return dg.StaticPartitionsDefinition([str(b) for b in range(buckets)])


def shard_assets(buckets: int) -> list[dg.AssetsDefinition]:
    """The sharded assets for B = `buckets` (the module docstring)."""

    @dg.multi_asset(
        group_name=SHARDS,
        specs=[
            dg.AssetSpec("lake_layout", deps=UPSTREAM),
            *bookkeeping_specs(
                {
                    "bucket_layout": "One row: the B every bucket column holds (`buckets`).",
                    plan_table(SRS): "One row per bucket SM-2 recomputes this run.",
                }
            ),
        ],
    )
    def lake_layout(
        config: SM2ReplayConfig, warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """One row of `bucket_layout` (the B every bucket column holds); the SRS lake tables
        created empty, partitioned by bucket; the buckets SM-2 recomputes planned
        (`shard_plan_srs`) and their inputs exported (attempts, the words in force, as of): run
        before any parallel step."""
        params = config.resolve(settings.base_sm2_params())
        with warehouse.connect() as con:
            moved = ensure_bucket_layout(con, settings.buckets)
            created = ensure_srs_lake(con, settings.lake, settings.lake_options, empty=moved)
            as_of = resolve_as_of(con, settings.as_of_time)
            shared = SharedInputs.of(con, as_of, settings.buckets, params)
            # a table just created (a first run, a lake deleted) holds no bucket yet
            full = full_reason(settings.full_refresh or config.full_refresh, created)
            plan = plan_buckets(con, SRS, as_of, shared, settings.buckets, full)
            record_plan(con, SRS, plan)
            exported = export_srs_inputs(
                con, settings.lake, settings.lake_options, as_of, plan.buckets
            )
            bookkeeping = list(bookkeeping_results(con, ["bucket_layout", plan_table(SRS)]))
        yield from bookkeeping
        yield dg.MaterializeResult(
            asset_key="lake_layout",
            metadata={
                **plan_metadata(as_of, plan, created),
                "attempts_exported": exported,
                "buckets": settings.buckets,
                "rebucketed": moved,
                "lake": settings.lake,
            },
        )

    @dg.multi_asset(
        group_name=SHARDS,
        partitions_def=bucket_partitions(buckets),
        specs=[
            dg.AssetSpec(
                LAKE_REVIEWS,
                description="Lake table, partitioned by bucket: one row per graded review "
                "(the warehouse's `reviews` columns and `bucket`).",
                deps=["lake_layout"],
            ),
            dg.AssetSpec(
                LAKE_WORD_PROGRESS,
                description="Lake table, partitioned by bucket: one row per card (the "
                "warehouse's `word_progress` columns and `bucket`).",
                deps=["lake_layout"],
            ),
        ],
    )
    def sm2_replay_bucket(
        context: dg.AssetExecutionContext, config: SM2ReplayConfig, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """One bucket's learners replayed over their full histories, read from the lake; their
        rows replace the bucket's rows of each lake table (one atomic commit per table)."""
        bucket = int(context.partition_key)
        params = config.resolve(settings.base_sm2_params())
        began = time.perf_counter()
        inputs = read_bucket(settings.lake, settings.lake_options, bucket)
        frames = compute_bucket(inputs, params, bucket)
        as_of = inputs.as_of
        computed = time.perf_counter()
        lake.write_buckets(frames, bucket, settings.lake, settings.lake_options)
        shared: dict[str, Any] = {
            "bucket": bucket,
            "as_of": as_of.isoformat(),
            "seconds_computing": round(computed - began, 2),
            "seconds_writing": round(time.perf_counter() - computed, 2),
        }
        for key, table in ((LAKE_REVIEWS, "reviews"), (LAKE_WORD_PROGRESS, "word_progress")):
            yield dg.MaterializeResult(
                asset_key=key, metadata={"dagster/row_count": frames[table].height, **shared}
            )

    @dg.multi_asset(
        group_name="srs",
        specs=[
            dg.AssetSpec(
                "reviews",
                description="One row per graded review (docs/sm2.md §2), loaded from the lake.",
                deps=[LAKE_REVIEWS, LAKE_WORD_PROGRESS],
            ),
            dg.AssetSpec(
                "word_progress",
                description="One row per card (user_id, language, word_uid), loaded from the lake.",
                deps=[LAKE_REVIEWS, LAKE_WORD_PROGRESS],
            ),
            *bookkeeping_specs(SRS_STATE | TOUCHED),
        ],
        name="sm2_replay",
    )
    def sm2_replay_fan_in(
        config: SM2ReplayConfig, warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """The fan-in: the lake's live rows replace the warehouse's `reviews` and
        `word_progress` (one transaction), then the lake is compacted and vacuumed."""
        params = config.resolve(settings.base_sm2_params())
        with warehouse.connect() as con:
            as_of = resolve_as_of(con, settings.as_of_time)
            rows = load_srs_from_lake(con, settings.lake, settings.lake_options, params, as_of)
            srs_bookkeeping = list(bookkeeping_results(con, [*SRS_STATE, *TOUCHED]))
        files = compact_srs_lake(settings.lake, settings.lake_options)
        shared: dict[str, Any] = {
            "as_of": as_of.isoformat(),
            "sm2_params": dg.MetadataValue.json(params.to_dict()),
            "mode": "sharded",
            **{f"lake_{key}": value for key, value in files.items()},
        }
        for table in ("reviews", "word_progress"):
            yield dg.MaterializeResult(
                asset_key=table, metadata={"dagster/row_count": rows[table], **shared}
            )
        yield from srs_bookkeeping

    @dg.multi_asset(
        group_name=SHARDS,
        specs=[
            dg.AssetSpec("progress_layout", deps=PROGRESS_UPSTREAM),
            *bookkeeping_specs(
                {
                    plan_table(PROGRESS): "One row per bucket the progress steps recompute.",
                    SHARD_TASK_MEDIANS: "One row per task attempted up to the run's as of: "
                    "every learner's median attempt time, computed once for the progress "
                    "buckets.",
                }
            ),
        ],
    )
    def progress_layout(
        config: SM2ReplayConfig, warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """The progress lake tables (per-learner metrics and LMS progress) created empty,
        partitioned by bucket, and the buckets they recompute planned
        (`shard_plan_progress`); a plan of every bucket empties them first (B may have
        changed). Every learner's task medians, which each bucket reads
        (`shard_task_medians`). Before any parallel step."""
        params = config.resolve(settings.base_sm2_params())
        with warehouse.connect() as con:
            ensure_lms_tables(con)
            as_of = resolve_as_of(con, settings.as_of_time)
            shared = SharedInputs.of(con, as_of, settings.buckets, params)
            created = ensure_progress_lake(con, settings.lake, settings.lake_options, as_of)
            # new or reshaped tables hold no bucket yet
            full = full_reason(settings.full_refresh or config.full_refresh, created)
            plan = plan_buckets(con, PROGRESS, as_of, shared, settings.buckets, full)
            if plan.everything:  # empty every table: B may have changed
                ensure_progress_lake(con, settings.lake, settings.lake_options, as_of, empty=True)
            record_plan(con, PROGRESS, plan)
            record_task_medians(con, as_of)
            plan_bookkeeping = list(
                bookkeeping_results(con, [plan_table(PROGRESS), SHARD_TASK_MEDIANS])
            )
        yield dg.MaterializeResult(
            asset_key="progress_layout", metadata=plan_metadata(as_of, plan, created)
        )
        yield from plan_bookkeeping

    @dg.multi_asset(
        group_name=SHARDS,
        partitions_def=bucket_partitions(buckets),
        specs=[
            dg.AssetSpec(
                key,
                description=f"Lake table, partitioned by bucket: {TABLE_GRAINS[table]} (the "
                f"warehouse's `{table}` columns and `bucket`).",
                deps=["progress_layout"],
            )
            for table, key in LAKE_PROGRESS.items()
        ],
    )
    def progress_bucket(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """One bucket's learners (the stored bucket column): their per-learner metric and LMS
        progress rows, from the warehouse opened read-only, replace the bucket's rows of each
        lake table (one atomic commit per table)."""
        bucket = int(context.partition_key)
        began = time.perf_counter()
        con = connect_read_only(warehouse.database)
        try:
            as_of = resolve_as_of(con, settings.as_of_time)
            learners = bucket_learners(con, bucket)
            frames = bucket_progress(con, as_of, learners, bucket, stored_task_medians(con))
        finally:
            con.close()
        computed = time.perf_counter()
        lake.write_buckets(frames, bucket, settings.lake, settings.lake_options)
        shared: dict[str, Any] = {
            "bucket": bucket,
            "learners": learners.height,
            "as_of": as_of.isoformat(),
            "seconds_computing": round(computed - began, 2),
            "seconds_writing": round(time.perf_counter() - computed, 2),
        }
        for table, key in LAKE_PROGRESS.items():
            yield dg.MaterializeResult(
                asset_key=key, metadata={"dagster/row_count": frames[table].height, **shared}
            )

    lake_deps = list(LAKE_PROGRESS.values())

    @dg.multi_asset(
        group_name=SHARDS,
        specs=[
            dg.AssetSpec(name, description=grain, deps=[*lake_deps, *PROGRESS_UPSTREAM])
            for name, grain in TABLE_GRAINS.items()
        ]
        + bookkeeping_specs({**METRICS_BOOKKEEPING, **SHARD_BOOKKEEPING}),
        name="progress_fan_in",
    )
    def progress_fan_in(
        config: SM2ReplayConfig, warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """The fan-in: the lake's per-learner rows and the tables that span learners (computed
        here, from the warehouse) replace every metric and LMS progress table in one
        transaction, which also records the state the next run plans from; then the lake is
        compacted and vacuumed."""
        params = config.resolve(settings.base_sm2_params())
        with warehouse.connect() as con:
            ensure_lms_tables(con)
            as_of = resolve_as_of(con, settings.as_of_time)
            loaded = read_progress_lake(
                settings.lake, settings.lake_options, progress_schemas(con, as_of)
            )
            tables = loaded | aggregate_metrics(con, as_of, loaded["accuracy_daily"])
            shared = SharedInputs.of(con, as_of, settings.buckets, params)
            digest = metrics_inputs_digest(con, as_of)
            with transaction(con):
                for name, frame in tables.items():
                    replace_table(con, name, frame)
                record_metrics_state(con, as_of, digest)
                forget_learner_state(con)
                record_shard_state(con, as_of, shared)
            metrics_bookkeeping = list(
                bookkeeping_results(con, [*METRICS_BOOKKEEPING, *SHARD_BOOKKEEPING])
            )
        files = compact_progress_lake(settings.lake, settings.lake_options)
        common: dict[str, Any] = {
            "as_of": as_of.isoformat(),
            "mode": "sharded",
            **{f"lake_{key}": value for key, value in files.items()},
        }
        for name in TABLE_GRAINS:
            origin = "lake" if name in PROGRESS_LAKE_TABLES else "fan-in"
            yield dg.MaterializeResult(
                asset_key=name,
                metadata={
                    "dagster/row_count": tables[name].height,
                    "computed_in": origin,
                    **common,
                },
            )
        yield from metrics_bookkeeping

    return [
        lake_layout,
        sm2_replay_bucket,
        sm2_replay_fan_in,
        progress_layout,
        progress_bucket,
        progress_fan_in,
    ]


def shard_executor(settings: Settings) -> dg.ExecutorDefinition:
    """Celery workers when a broker is set, else a process per step on this machine."""
    if settings.celery_broker:
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {"broker": settings.celery_broker, "backend": settings.celery_broker}
        )
    return dg.multiprocess_executor


REPLACED = ("sm2_replay", "analytics_tables", "lms_progress_tables")
PREPARE = dg.AssetSelection.assets("lake_layout").upstream().required_multi_asset_neighbors()
SRS_STEPS = dg.AssetSelection.assets(LAKE_REVIEWS, LAKE_WORD_PROGRESS)
SRS_FAN_IN = (
    dg.AssetSelection.assets("progress_layout").upstream().required_multi_asset_neighbors()
    - PREPARE
    - SRS_STEPS
)
PROGRESS_STEPS = dg.AssetSelection.assets(*LAKE_PROGRESS.values())
STAGES = (
    ("sharded_prepare", PREPARE),
    ("srs_shards", SRS_STEPS),
    ("sharded_srs", SRS_FAN_IN),
    ("progress_shards", PROGRESS_STEPS),
)
SHARD_JOBS = {"srs_shards": SRS, "progress_shards": PROGRESS}


def sharded_definitions(folder: dg.Definitions, settings: Settings) -> dg.Definitions:
    """`folder` (every definition under pipelines/defs/) with the sharded assets in place of
    `sm2_replay`, `analytics_tables` and `lms_progress_tables`, and the sharded run's jobs."""
    assets = [
        a
        for a in folder.assets or []
        if not (isinstance(a, dg.AssetsDefinition) and a.node_def.name in REPLACED)
    ]
    nightly = dg.AssetSelection.all() - dg.AssetSelection.groups("tuning")
    jobs: list[Any] = []
    done: dg.AssetSelection = dg.AssetSelection.assets()
    for name, selection in STAGES:
        partitioned = name in SHARD_JOBS  # partitioned like its assets, by bucket
        jobs.append(
            dg.define_asset_job(
                name,
                selection=selection,
                executor_def=shard_executor(settings) if partitioned else None,
            )
        )
        done = done | selection
    jobs.append(dg.define_asset_job("sharded_finish", selection=nightly - done))
    return dg.Definitions(
        assets=[*assets, *shard_assets(settings.buckets)],
        asset_checks=folder.asset_checks,
        jobs=[j for j in folder.jobs or [] if getattr(j, "name", "") != "nightly"] + jobs,
        schedules=[],  # the sharded run is five Dagster runs: cron runs this module
        sensors=folder.sensors,
        resources=folder.resources,
        executor=folder.executor,
    )


def _job(name: str) -> dg.JobDefinition:
    from pipelines.definitions import defs

    return defs().resolve_job_def(name)


def sharded_prepare_job() -> dg.JobDefinition:
    return _job("sharded_prepare")


def srs_shards_job() -> dg.JobDefinition:
    return _job("srs_shards")


def sharded_srs_job() -> dg.JobDefinition:
    return _job("sharded_srs")


def progress_shards_job() -> dg.JobDefinition:
    return _job("progress_shards")


def sharded_finish_job() -> dg.JobDefinition:
    return _job("sharded_finish")


def _execute(
    job: Any, instance: dg.DagsterInstance, run_config: dict[str, Any], tags: dict[str, str]
) -> dg.DagsterRun:
    result = dg.execute_job(
        dg.reconstructable(job), instance=instance, run_config=run_config, tags=tags
    )
    if not result.success:
        raise RuntimeError(f"run {result.run_id} of {result.job_def.name} failed ({tags})")
    return result.dagster_run


def _planned(settings: Settings, stage: str) -> list[int]:
    con = connect_read_only(settings.warehouse)
    try:
        return planned_buckets(con, stage)
    finally:
        con.close()


def _partitions(
    job: Any,
    instance: dg.DagsterInstance,
    run_config: dict[str, Any],
    keys: list[int],
    workers: int,
) -> None:
    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(
            pool.map(
                lambda key: _execute(job, instance, run_config, {"dagster/partition": str(key)}),
                keys,
            )
        )


def run_sharded(
    instance: dg.DagsterInstance,
    workers: int,
    buckets: Sequence[int] | None = None,
    sm2_config: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The nightly run, sharded: prepare, the planned SRS bucket partitions (`workers` runs at
    a time, each on the shard executor), the SRS fan-in and the progress layout, the planned
    progress bucket partitions, then the rest. `buckets` overrides the plans. Returns the
    seconds of each stage and the number of bucket runs of each shard stage."""
    settings = Settings.from_env()
    if not settings.sharded:
        raise RuntimeError("set PROGRESS_SHARDED=1 for the sharded run")
    config = {"config": sm2_config or {}}
    figures: dict[str, float] = {}

    def stage(name: str, fn: Any) -> None:
        began = time.perf_counter()
        fn()
        figures[name] = time.perf_counter() - began

    def shards(job: Any, stage_name: str, op: str) -> None:
        keys = list(buckets) if buckets is not None else _planned(settings, stage_name)
        figures[f"{stage_name}_buckets"] = len(keys)
        run_config = {"ops": {op: config}} if op else {}
        _partitions(job, instance, run_config, keys, workers)

    stage(
        "prepare", lambda: _execute(sharded_prepare_job, instance, _ops(config, "lake_layout"), {})
    )
    stage("srs_shards", lambda: shards(srs_shards_job, SRS, "sm2_replay_bucket"))
    stage(
        "srs_fan_in",
        lambda: _execute(
            sharded_srs_job, instance, _ops(config, "sm2_replay", "progress_layout"), {}
        ),
    )
    stage("progress_shards", lambda: shards(progress_shards_job, PROGRESS, ""))
    stage(
        "finish",
        lambda: _execute(sharded_finish_job, instance, _ops(config, "progress_fan_in"), {}),
    )
    return figures


def _ops(config: dict[str, Any], *ops: str) -> dict[str, Any]:
    return {"ops": dict.fromkeys(ops, config)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="bucket runs at a time")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        figures = run_sharded(instance, args.workers)
    print(
        " ".join(
            f"{name} {value:.0f}" if name.endswith("_buckets") else f"{name} {value:.1f} s"
            for name, value in figures.items()
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
