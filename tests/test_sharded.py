"""The sharded run: learner buckets stored at ingest, SM-2 and the per-learner progress tables
(language metrics, LMS progress) per bucket into the Delta lake, fan-ins into the warehouse.
Whatever the bucket count, the partitions run, the buckets a later run recomputes, the lake's
store (folder or S3) or the engine, the warehouse's tables are the single-process recompute's."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.generate.landing import GeneratorConfig, generate_landing
from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing
from pipelines.defs.metrics.assets import STATE as METRICS_BOOKKEEPING
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.assets import SRS_STATE, TOUCHED
from pipelines.sharded import (
    LAKE_PROGRESS,
    LAKE_REVIEWS,
    LAKE_WORD_PROGRESS,
    SHARD_BOOKKEEPING,
    shard_assets,
)
from tests.warehouse_tables import tables_without_an_asset
from transforms import lake
from transforms.as_of import resolve_as_of
from transforms.buckets import bucket_of, ensure_bucket_layout, stored_buckets
from transforms.ingest.landing import ingest_landing
from transforms.lms.progress import build_lms_progress
from transforms.lms.read import read_lms_inputs
from transforms.metrics.tables import recompute_metrics
from transforms.shards import (
    AGGREGATE_METRICS,
    LEARNER_METRICS,
    LMS_TABLE_NAMES,
    PROGRESS,
    PROGRESS_LAKE_TABLES,
    SRS,
    Plan,
    SharedInputs,
    plan_buckets,
    plan_table,
    planned_buckets,
)
from transforms.sm2 import SM2Params
from transforms.sm2.store import recompute_srs
from transforms.warehouse import connect, insert_frame, query, replace_table

ROOT = Path(__file__).resolve().parents[1]
SRS_TABLES = ("reviews", "word_progress")
# every table the sharded run writes: SM-2's, the language metrics (per learner, and the
# aggregates the fan-in computes) and the LMS progress tables
TABLES = (*SRS_TABLES, *LEARNER_METRICS, *AGGREGATE_METRICS, *LMS_TABLE_NAMES)
ORDER = {"reviews": [*("user_id", "language", "word_uid"), "reviewed_at", "uuid_local"]}


def _order(table: str) -> list[str]:
    return ORDER.get(table, ["user_id", "language", "word_uid"])


def warehouse_tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every compared table, rows in the order of all their columns."""
    con = connect(warehouse)
    try:
        frames = {t: query(con, f'SELECT * FROM "{t}"') for t in TABLES}
    finally:
        con.close()
    return {t: f.sort(f.columns, nulls_last=True) for t, f in frames.items()}


def assert_same_tables(got: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    for table in TABLES:
        assert_frame_equal(got[table], expected[table], check_column_order=False)


def single_process(path: Path) -> dict[str, pl.DataFrame]:
    """The single-process full recompute (SM-2, metrics, LMS progress) of the warehouse at
    `path`, in place; its tables."""
    con = connect(path)
    as_of = resolve_as_of(con, None)
    recompute_srs(con, SM2Params(), as_of, batches=3)
    recompute_metrics(con, as_of)
    for name, frame in build_lms_progress(read_lms_inputs(con, as_of), as_of).items():
        replace_table(con, name, frame)
    con.close()
    return warehouse_tables(path)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A warehouse with a small landing ingested (no derived tables), and the landing: 20
    language learners and 15 course-platform learners over the same 14 days."""
    root = tmp_path_factory.mktemp("sharded")
    landing = root / "landing"
    generate_landing(
        landing, GeneratorConfig(learners=20, days=14, words_per_language=15, languages=("es",))
    )
    generate_lms_landing(landing, LmsGeneratorConfig(learners=15, days=14, xapi_share=0.0))
    con = connect(root / "ingested.duckdb")
    ingest_landing(con, landing, datetime(2026, 11, 1))
    con.close()
    return root / "ingested.duckdb", landing


@pytest.fixture(scope="module")
def reference(ingested: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The single-process recompute's tables."""
    path = tmp_path_factory.mktemp("reference") / "w.duckdb"
    shutil.copy(ingested[0], path)
    tables = single_process(path)
    empty = [t for t in TABLES if not tables[t].height]
    # the small landing (14 days) reaches every table but the at-risk model's snapshot Mondays
    assert empty == ["at_risk_backtest", "at_risk_snapshots"]
    return tables


def fresh_warehouse(ingested: tuple[Path, Path], folder: Path) -> Path:
    path = folder / "warehouse.duckdb"
    shutil.copy(ingested[0], path)
    return path


def resources(warehouse: Path, lake_path: str, buckets: int) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(database=str(warehouse)),
        "settings": ProgressSettings(
            PROGRESS_WAREHOUSE=str(warehouse),
            PROGRESS_LAKE=lake_path,
            PROGRESS_BUCKETS=str(buckets),
        ),
    }


def run_sharded_in_process(
    warehouse: Path,
    lake_path: str,
    buckets: int,
    partitions: list[int] | None = None,
    stages: int = 5,
) -> dict[str, list[int]]:
    """The sharded assets in process, as `pipelines.sharded.run_sharded` runs them: the SRS
    layout, its partitions (the planned ones by default), the SRS fan-in and the progress
    layout, the progress partitions, the progress fan-in (the first `stages` of these). A
    given list of partitions skips the progress fan-in. Returns the partitions run."""
    assets = shard_assets(buckets)
    res = resources(warehouse, lake_path, buckets)
    ran: dict[str, list[int]] = {}

    def materialize(selection: list[Any], partition: int | None = None) -> None:
        key = None if partition is None else str(partition)
        assert dg.materialize(assets, selection=selection, partition_key=key, resources=res).success

    def shards(stage: str, selection: list[Any]) -> None:
        if partitions is None:
            con = connect(warehouse)
            ran[stage] = planned_buckets(con, stage)
            con.close()
        else:
            ran[stage] = partitions
        for bucket in ran[stage]:
            materialize(selection, bucket)

    steps = [
        lambda: materialize(["lake_layout", "bucket_layout", plan_table(SRS)]),
        lambda: shards(SRS, [LAKE_REVIEWS, LAKE_WORD_PROGRESS]),
        lambda: materialize(
            [*SRS_TABLES, *SRS_STATE, *TOUCHED, "progress_layout", plan_table(PROGRESS)]
        ),
        lambda: shards(PROGRESS, list(LAKE_PROGRESS.values())),
        lambda: materialize([*TABLES[2:], *METRICS_BOOKKEEPING, *SHARD_BOOKKEEPING]),
    ]
    for step in steps[: stages if partitions is None else min(stages, 4)]:
        step()
    return ran


def test_a_bucket_is_crc32_of_the_lower_case_id_modulo_b() -> None:
    # crc32(b"abc") = 0x352441C2 = 891,568,578 = 64 * 13,930,759 + 2 = 8 * 111,446,072 + 2
    assert zlib.crc32(b"abc") == 891_568_578
    assert bucket_of("abc", 64) == 2
    assert bucket_of("ABC", 64) == 2  # the canonical lower-case id
    assert bucket_of("abc", 8) == 2
    assert bucket_of("abc", 1) == 0


def test_ingest_stores_each_attempts_bucket_and_an_old_warehouse_migrates(
    ingested: tuple[Path, Path], tmp_path: Path
) -> None:
    con = connect(ingested[0])
    rows = query(con, "SELECT DISTINCT user_id, bucket FROM attempts")
    con.close()
    assert rows.height == 20
    for user_id, bucket in rows.iter_rows():
        assert bucket == zlib.crc32(user_id.encode()) % 64
    # a warehouse from before buckets: the column appears, filled, on the next connection
    old = tmp_path / "old.duckdb"
    shutil.copy(ingested[0], old)
    raw = duckdb.connect(str(old))
    raw.execute("ALTER TABLE attempts DROP COLUMN bucket")
    raw.close()
    con = connect(old)
    migrated = query(con, "SELECT DISTINCT user_id, bucket FROM attempts")
    assert stored_buckets(con) == 64
    # a row written around ingestion, without its bucket: the sharded run's layout fills it
    con.execute("UPDATE attempts SET bucket = NULL WHERE user_id = ?", [rows["user_id"][0]])
    assert not ensure_bucket_layout(con, 64)  # same B: nothing moves
    filled = query(con, "SELECT DISTINCT user_id, bucket FROM attempts")
    assert_frame_equal(filled, rows, check_row_order=False)
    ensure_bucket_layout(con, 8)  # another B: every row moves to crc32 % 8
    moved = query(con, "SELECT DISTINCT user_id, bucket FROM attempts")
    con.close()
    assert_frame_equal(migrated, rows, check_row_order=False)
    assert_frame_equal(
        moved,
        rows.with_columns(pl.col("bucket") % 8),
        check_row_order=False,
    )


def _in_bucket(frame: pl.DataFrame, bucket: int, buckets: int) -> pl.DataFrame:
    return frame.filter(
        pl.col("user_id").map_elements(lambda u: bucket_of(u, buckets), pl.Int64) == bucket
    )


def sharded_graph_keys(monkeypatch: pytest.MonkeyPatch) -> set[dg.AssetKey]:
    """The asset keys of the code location with `PROGRESS_SHARDED=1`."""
    from pipelines.definitions import defs

    monkeypatch.setenv("PROGRESS_SHARDED", "1")
    monkeypatch.setenv("PROGRESS_BUCKETS", "8")
    return set(defs().resolve_asset_graph().get_all_asset_keys())


def test_b1_and_b8_and_a_bucket_alone_give_the_single_process_tables(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for buckets in (1, 8):
        folder = tmp_path / f"b{buckets}"
        folder.mkdir()
        warehouse = fresh_warehouse(ingested, folder)
        ran = run_sharded_in_process(warehouse, str(folder / "lake"), buckets)
        assert ran == {SRS: list(range(buckets)), PROGRESS: list(range(buckets))}
        assert_same_tables(warehouse_tables(warehouse), reference)
        con = connect(warehouse)
        assert stored_buckets(con) == buckets
        assert query(con, "SELECT max(bucket) AS b FROM attempts")["b"][0] < buckets
        con.close()
    # every table the sharded run wrote, its planning state included, is an asset
    keys = {k.to_user_string() for k in sharded_graph_keys(monkeypatch)}
    assert tables_without_an_asset(warehouse, keys) == []
    # one partition alone (B = 8): exactly its learners' rows, the other buckets absent
    folder = tmp_path / "one"
    folder.mkdir()
    warehouse = fresh_warehouse(ingested, folder)
    run_sharded_in_process(warehouse, str(folder / "lake"), 8, partitions=[3])
    for table in (*SRS_TABLES, *PROGRESS_LAKE_TABLES):
        uri = lake.table_uri(str(folder / "lake"), table)
        got = lake.scan(uri, {}).collect()
        assert set(got["bucket"].unique()) <= {3}
        expected = _in_bucket(reference[table], 3, 8)
        assert_frame_equal(
            got.drop("bucket").sort(expected.columns, nulls_last=True),
            expected,
            check_column_order=False,
        )
        if table in ("reviews", "accuracy_daily", "enrollments"):
            assert expected.height > 0, table  # bucket 3 has language and LMS learners


def test_a_second_run_recomputes_only_the_buckets_with_new_data(
    ingested: tuple[Path, Path], tmp_path: Path
) -> None:
    warehouse = fresh_warehouse(ingested, tmp_path)
    lake_path = str(tmp_path / "lake")
    assert run_sharded_in_process(warehouse, lake_path, 8) == {
        SRS: list(range(8)),
        PROGRESS: list(range(8)),
    }
    # one new learner's file: a copy of a learner's attempts (same times: as of stays)
    con = connect(warehouse)
    copied = query(
        con, "SELECT * FROM attempts WHERE user_id = (SELECT min(user_id) FROM attempts)"
    )
    new_learner = "zz-new-learner"
    insert_frame(
        con,
        "attempts",
        copied.with_columns(
            pl.lit(new_learner).alias("user_id"),
            (pl.col("uuid_local") + "-new").alias("uuid_local"),
            pl.lit("new-learner-file").alias("source_id"),
            pl.lit(None, pl.Int16).alias("bucket"),  # written around ingestion: the layout fills it
        ),
    )
    con.close()
    bucket, everything = bucket_of(new_learner, 8), list(range(8))
    assert run_sharded_in_process(warehouse, lake_path, 8) == {SRS: [bucket], PROGRESS: [bucket]}
    full = tmp_path / "full.duckdb"
    shutil.copy(warehouse, full)
    assert_same_tables(warehouse_tables(warehouse), single_process(full))
    assert (
        warehouse_tables(warehouse)["word_progress"].filter(pl.col("user_id") == new_learner).height
    )
    # nothing new: no bucket runs, the tables stay
    assert run_sharded_in_process(warehouse, lake_path, 8) == {SRS: [], PROGRESS: []}
    assert_same_tables(warehouse_tables(warehouse), warehouse_tables(full))
    # a lake table lost: created again, every bucket of its stage recomputed
    shutil.rmtree(Path(lake_path) / "task_queue")
    assert run_sharded_in_process(warehouse, lake_path, 8) == {SRS: [], PROGRESS: everything}
    assert_same_tables(warehouse_tables(warehouse), warehouse_tables(full))
    # what every learner shares, or the as-of time, moving: every bucket
    con = connect(warehouse)
    as_of = resolve_as_of(con, None)

    def plan(stage: str, moment: datetime, params: SM2Params, full: str = "") -> Plan:
        return plan_buckets(con, stage, moment, SharedInputs.of(con, moment, 8, params), 8, full)

    assert plan(SRS, as_of, SM2Params()) == Plan([], False, "0 bucket(s) with new data")
    assert plan(SRS, as_of, SM2Params(), full="full refresh requested").buckets == everything
    assert plan(SRS, as_of, SM2Params(ef_init=2.6)).buckets == everything
    assert plan(PROGRESS, as_of - timedelta(days=1), SM2Params()).buckets == everything
    later = as_of + timedelta(days=1)  # SM-2: no attempt after as of; progress: as-of columns
    assert plan(SRS, later, SM2Params()).buckets == []
    assert plan(PROGRESS, later, SM2Params()).buckets == everything
    con.close()


KILLED_STEP = """
import sys
from transforms.lake import write_buckets
from transforms.sm2.shards import compute_bucket, read_bucket
from transforms.sm2 import SM2Params
lake, bucket = sys.argv[1], int(sys.argv[2])
frames = compute_bucket(read_bucket(lake, {}, bucket), SM2Params(), bucket)
write_buckets(frames, bucket, lake, {})
"""


def test_a_killed_bucket_step_leaves_each_table_with_the_bucket_whole_or_absent(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path
) -> None:
    warehouse = fresh_warehouse(ingested, tmp_path)
    lake_path = str(tmp_path / "lake")
    run_sharded_in_process(warehouse, lake_path, 8, stages=1)  # the layout and tables

    def step(failpoint: str | None) -> int:
        env = {k: v for k, v in os.environ.items() if k != "PROGRESS_FAILPOINT"}
        if failpoint:
            env["PROGRESS_FAILPOINT"] = failpoint
        args = [sys.executable, "-c", KILLED_STEP, lake_path, "5"]
        return subprocess.run(args, env=env, cwd=ROOT, timeout=120).returncode

    def bucket_rows() -> dict[str, int]:
        return {t: lake.bucket_rows(lake.table_uri(lake_path, t), {}).get(5, 0) for t in SRS_TABLES}

    expected = {
        t: reference[t]
        .filter(pl.col("user_id").map_elements(lambda u: bucket_of(u, 8), pl.Int64) == 5)
        .height
        for t in SRS_TABLES
    }
    assert min(expected.values()) > 0
    assert step("lake:bucket@1") == -9  # killed before the first commit: absent everywhere
    assert bucket_rows() == {"reviews": 0, "word_progress": 0}
    assert step("lake:bucket@2") == -9  # killed between the tables' commits
    assert bucket_rows() == {"reviews": expected["reviews"], "word_progress": 0}
    assert step(None) == 0  # the rerun writes the bucket whole, once
    assert bucket_rows() == expected


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3_lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3 bucket on moto's server, on 127.0.0.1 and a free port, stopped afterwards."""
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket="lake")
        yield "s3://lake/progress"
    finally:
        server.stop()


def test_the_lake_on_s3_gives_the_same_tables(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path, s3_lake: str
) -> None:
    warehouse = fresh_warehouse(ingested, tmp_path)
    run_sharded_in_process(warehouse, s3_lake, 4)
    assert_same_tables(warehouse_tables(warehouse), reference)
    options = lake.storage_options(s3_lake)
    files = lake.live_files(lake.table_uri(s3_lake, "reviews"), options)
    assert files and all(f.startswith("s3://lake/progress/reviews/") for f in files)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_all_partitions_on_two_celery_workers_give_the_single_process_tables(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path
) -> None:
    """Redis, two Celery worker processes and Dagster's instance on Postgres (a throwaway
    server; a SQLite instance in the test's folder when PostgreSQL is not installed)."""
    from pipelines.celery_local import postgres_instance
    from tests import pg_server

    warehouse = fresh_warehouse(ingested, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    with contextlib.ExitStack() as stack:
        if pg_server.available():
            postgres_instance(home, stack.enter_context(pg_server.postgres_server()))
        celery_run(ingested, warehouse, tmp_path, reference)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs()
            storage = type(instance.run_storage).__name__
    # the five stages' runs and one run per bucket of each shard stage, all in the instance
    jobs = sorted((run.job_name, run.tags.get("dagster/partition", "")) for run in runs)
    assert jobs == sorted(
        [("sharded_prepare", ""), ("sharded_srs", ""), ("sharded_finish", "")]
        + [(job, key) for job in ("srs_shards", "progress_shards") for key in ("0", "1")]
    )
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    assert storage == ("PostgresRunStorage" if pg_server.available() else "SqliteRunStorage")


def celery_run(
    ingested: tuple[Path, Path], warehouse: Path, tmp_path: Path, reference: dict
) -> None:
    from pipelines.celery_local import run_on_celery

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROGRESS_")},
        "PROGRESS_LANDING": str(ingested[1]),
        "PROGRESS_WAREHOUSE": str(warehouse),
        "PROGRESS_REPORTS": str(tmp_path / "reports"),
        "PROGRESS_LAKE": str(tmp_path / "lake"),
        "PROGRESS_OUTBOX": str(tmp_path / "outbox"),
        "PROGRESS_BUCKETS": "2",
        "PROGRESS_EXPORT_PNG": "0",
        "PROGRESS_REPORT_LEARNERS": "1",
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    logs = run_on_celery(2, env, tmp_path)
    assert_same_tables(warehouse_tables(warehouse), reference)
    steps = [log.read_text(errors="replace").count("succeeded in") for log in logs]
    # one task per bucket partition of each stage (SM-2, progress); which worker takes which is
    # Celery's choice (both usually do, but a fast worker may drain the queue alone)
    assert sum(steps) == 4, steps


def test_the_sharded_setting_swaps_sm2_replay_for_the_bucket_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.definitions import defs

    monkeypatch.setenv("PROGRESS_SHARDED", "1")
    monkeypatch.setenv("PROGRESS_BUCKETS", "8")
    sharded = defs()
    shards = sharded.resolve_job_def("srs_shards")
    assert shards.partitions_def is not None
    assert shards.partitions_def.get_partition_keys() == [str(b) for b in range(8)]
    graph = sharded.resolve_asset_graph()
    assert graph.get(dg.AssetKey("reviews")).parent_keys == {LAKE_REVIEWS, LAKE_WORD_PROGRESS}
    # every metric and LMS progress table comes from the progress fan-in, after the buckets
    for table in (*LEARNER_METRICS, *AGGREGATE_METRICS, *LMS_TABLE_NAMES):
        assert set(LAKE_PROGRESS.values()) <= graph.get(dg.AssetKey(table)).parent_keys
    stages = ["sharded_prepare", "srs_shards", "sharded_srs", "progress_shards", "sharded_finish"]
    assert set(stages) <= {job.name for job in sharded.resolve_all_job_defs()}
    progress = sharded.resolve_job_def("progress_shards")
    assert progress.partitions_def is not None
    assert len(progress.partitions_def.get_partition_keys()) == 8
    monkeypatch.setenv("PROGRESS_SHARDED", "0")  # the default: no lake, no partitions
    assert LAKE_REVIEWS not in defs().resolve_asset_graph().get_all_asset_keys()
