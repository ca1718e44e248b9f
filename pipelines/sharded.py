"""The sharded nightly run (`PROGRESS_SHARDED=1`): SM-2 per learner bucket, on any engine.

With the setting on, `pipelines.definitions` swaps the single-process `sm2_replay` for:

- `lake_layout` (unpartitioned, before any parallel step): every bucket column holds
  `crc32(user_id) % PROGRESS_BUCKETS`, every lake table exists, and the bucket steps' inputs
  are exported to the lake (attempts by bucket, the course words in force, as of);
- `sm2_replay_bucket` (partitioned, one partition per bucket): the bucket's learners, read
  from the lake (a worker needs the lake and the code, never the warehouse), replayed into the
  lake's `reviews` and `word_progress`, replacing only that bucket's rows;
- `sm2_replay` (the fan-in, the warehouse's only writer of these tables): the lake's live rows
  into `reviews` and `word_progress`, then compaction and vacuum of the lake.

`python -m pipelines.sharded` runs the nightly job in three runs: everything up to
`lake_layout`; one run per bucket partition of `srs_shards`, `--workers` at a time, each on the
multiprocess executor (one machine) or on `dagster-celery` workers when
`PROGRESS_CELERY_BROKER` is set; then everything after the fan-in's inputs.
"""

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.assets import SRS_STATE
from pipelines.defs.srs.config import SM2ReplayConfig
from transforms.as_of import resolve_as_of
from transforms.buckets import ensure_bucket_layout
from transforms.settings import Settings
from transforms.sm2.shards import (
    compact_srs_lake,
    compute_bucket,
    ensure_srs_lake,
    export_srs_inputs,
    load_srs_from_lake,
    read_bucket,
    write_bucket,
)

SHARDS = "shards"
LAKE_REVIEWS = dg.AssetKey(["lake", "reviews"])
LAKE_WORD_PROGRESS = dg.AssetKey(["lake", "word_progress"])
UPSTREAM = ["attempts", "manifest_words", "manifest_versions", "lms_events"]


def bucket_partitions(buckets: int) -> dg.StaticPartitionsDefinition:
    """One partition per bucket id, "0" .. "B-1"."""
    return dg.StaticPartitionsDefinition([str(b) for b in range(buckets)])


def shard_assets(buckets: int) -> list[dg.AssetsDefinition]:
    """The sharded SM-2 assets for B = `buckets` (the module docstring)."""

    @dg.multi_asset(
        group_name=SHARDS,
        specs=[
            dg.AssetSpec("lake_layout", deps=UPSTREAM),
            *bookkeeping_specs(
                {"bucket_layout": "One row: the B every bucket column holds (`buckets`)."}
            ),
        ],
    )
    def lake_layout(
        warehouse: WarehouseResource, settings: ProgressSettings
    ) -> Iterator[dg.MaterializeResult]:
        """One row of `bucket_layout` (the B every bucket column holds); the lake's output
        tables created empty, partitioned by bucket, and the bucket steps' inputs exported
        (attempts by bucket, the words in force, as of): run before any parallel step."""
        with warehouse.connect() as con:
            moved = ensure_bucket_layout(con, settings.buckets)
            created = ensure_srs_lake(con, settings.lake, settings.lake_options, empty=moved)
            as_of = resolve_as_of(con, settings.as_of_time)
            exported = export_srs_inputs(con, settings.lake, settings.lake_options, as_of)
            bookkeeping = list(bookkeeping_results(con, ["bucket_layout"]))
        yield from bookkeeping
        yield dg.MaterializeResult(
            asset_key="lake_layout",
            metadata={
                "as_of": as_of.isoformat(),
                "attempts_exported": exported,
                "buckets": settings.buckets,
                "rebucketed": moved,
                "lake": settings.lake,
                "tables_created": ", ".join(created) or "none",
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
        write_bucket(frames, bucket, settings.lake, settings.lake_options)
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
            *bookkeeping_specs(SRS_STATE),
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
            bookkeeping = list(bookkeeping_results(con, list(SRS_STATE)))
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
        yield from bookkeeping

    return [lake_layout, sm2_replay_bucket, sm2_replay_fan_in]


def shard_executor(settings: Settings) -> dg.ExecutorDefinition:
    """Celery workers when a broker is set, else a process per step on this machine."""
    if settings.celery_broker:
        from dagster_celery import celery_executor

        return celery_executor.configured(
            {"broker": settings.celery_broker, "backend": settings.celery_broker}
        )
    return dg.multiprocess_executor


PREPARE = dg.AssetSelection.assets("lake_layout").upstream().required_multi_asset_neighbors()
SHARD_STEPS = dg.AssetSelection.groups(SHARDS) - PREPARE  # bucket_layout is the layout's


def sharded_definitions(folder: dg.Definitions, settings: Settings) -> dg.Definitions:
    """`folder` (every definition under pipelines/defs/) with the sharded SM-2 in place of
    `sm2_replay`, and the jobs of the sharded nightly run."""
    assets = [
        a
        for a in folder.assets or []
        if not (isinstance(a, dg.AssetsDefinition) and a.node_def.name == "sm2_replay")
    ]
    nightly = dg.AssetSelection.all() - dg.AssetSelection.groups("tuning")
    jobs: list[Any] = [
        dg.define_asset_job("sharded_prepare", selection=PREPARE),
        dg.define_asset_job(
            "srs_shards",
            selection=SHARD_STEPS,  # partitioned like its assets, by bucket
            executor_def=shard_executor(settings),
        ),
        dg.define_asset_job("sharded_finish", selection=nightly - PREPARE - SHARD_STEPS),
    ]
    return dg.Definitions(
        assets=[*assets, *shard_assets(settings.buckets)],
        asset_checks=folder.asset_checks,
        jobs=[j for j in folder.jobs or [] if getattr(j, "name", "") != "nightly"] + jobs,
        schedules=[],  # the sharded run is three Dagster runs: cron runs this module
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


def run_sharded(
    instance: dg.DagsterInstance,
    workers: int,
    buckets: Sequence[int] | None = None,
    sm2_config: dict[str, Any] | None = None,
) -> dict[str, float]:
    """The nightly run, sharded: prepare, every bucket partition (`workers` runs at a time,
    each on the shard executor), then the rest. Returns the seconds of each stage."""
    settings = Settings.from_env()
    if not settings.sharded:
        raise RuntimeError("set PROGRESS_SHARDED=1 for the sharded run")
    config = {"config": sm2_config or {}}
    seconds: dict[str, float] = {}
    began = time.perf_counter()
    _execute(sharded_prepare_job, instance, {}, {})
    seconds["prepare"] = time.perf_counter() - began
    began = time.perf_counter()
    keys = [str(b) for b in (range(settings.buckets) if buckets is None else buckets)]
    shard_config = {"ops": {"sm2_replay_bucket": config}}
    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(
            pool.map(
                lambda key: _execute(
                    srs_shards_job, instance, shard_config, {"dagster/partition": key}
                ),
                keys,
            )
        )
    seconds["shards"] = time.perf_counter() - began
    began = time.perf_counter()
    _execute(sharded_finish_job, instance, {"ops": {"sm2_replay": config}}, {})
    seconds["finish"] = time.perf_counter() - began
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="bucket runs at a time")
    args = parser.parse_args(argv)
    with dg.DagsterInstance.get() as instance:
        seconds = run_sharded(instance, args.workers)
    print(" ".join(f"{stage} {s:.1f} s" for stage, s in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
