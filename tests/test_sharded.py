"""The sharded run: learner buckets stored at ingest, SM-2 per bucket into the Delta lake, one
fan-in into the warehouse. Whatever the bucket count, the partitions run, the lake's store
(folder or S3) or the engine, the warehouse's `reviews` and `word_progress` are the
single-process recompute's."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.generate.landing import GeneratorConfig, generate_landing
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.assets import SRS_STATE
from pipelines.sharded import LAKE_REVIEWS, LAKE_WORD_PROGRESS, shard_assets
from transforms import lake
from transforms.as_of import resolve_as_of
from transforms.buckets import bucket_of, ensure_bucket_layout, stored_buckets
from transforms.ingest.attempts import ingest_landing_files
from transforms.ingest.manifests import json_documents, load_manifests
from transforms.sm2 import SM2Params
from transforms.sm2.store import recompute_srs
from transforms.warehouse import connect, query

ROOT = Path(__file__).resolve().parents[1]
SRS_TABLES = ("reviews", "word_progress")
ORDER = {"reviews": [*("user_id", "language", "word_uid"), "reviewed_at", "uuid_local"]}


def _order(table: str) -> list[str]:
    return ORDER.get(table, ["user_id", "language", "word_uid"])


def srs_tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    con = connect(warehouse)
    try:
        return {t: query(con, f"SELECT * FROM {t}").sort(_order(t)) for t in SRS_TABLES}
    finally:
        con.close()


def assert_same_srs(got: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    for table in SRS_TABLES:
        assert got[table].height > 0, table
        assert_frame_equal(got[table], expected[table], check_column_order=False)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A warehouse with a small landing ingested (no SRS tables), and the landing."""
    root = tmp_path_factory.mktemp("sharded")
    landing = root / "landing"
    generate_landing(
        landing, GeneratorConfig(learners=20, days=14, words_per_language=15, languages=("es",))
    )
    con = connect(root / "ingested.duckdb")
    ingest_landing_files(con, landing / "attempts", datetime(2026, 11, 1))
    load_manifests(con, json_documents(landing / "manifests"))
    con.close()
    return root / "ingested.duckdb", landing


@pytest.fixture(scope="module")
def reference(ingested: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The single-process recompute's `reviews` and `word_progress`."""
    path = tmp_path_factory.mktemp("reference") / "w.duckdb"
    shutil.copy(ingested[0], path)
    con = connect(path)
    recompute_srs(con, SM2Params(), resolve_as_of(con, None), batches=3)
    con.close()
    return srs_tables(path)


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
    warehouse: Path, lake_path: str, buckets: int, partitions: list[int] | None = None
) -> None:
    """The sharded assets in process: the layout, each partition (all by default), the fan-in
    (only when every partition ran)."""
    assets = shard_assets(buckets)
    res = resources(warehouse, lake_path, buckets)
    assert dg.materialize(assets, selection=["lake_layout", "bucket_layout"], resources=res).success
    for bucket in range(buckets) if partitions is None else partitions:
        assert dg.materialize(
            assets,
            selection=[LAKE_REVIEWS, LAKE_WORD_PROGRESS],
            partition_key=str(bucket),
            resources=res,
        ).success
    if partitions is None:
        assert dg.materialize(assets, selection=[*SRS_TABLES, *SRS_STATE], resources=res).success


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


def test_b1_and_b8_and_a_bucket_alone_give_the_single_process_tables(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path
) -> None:
    for buckets in (1, 8):
        folder = tmp_path / f"b{buckets}"
        folder.mkdir()
        warehouse = fresh_warehouse(ingested, folder)
        run_sharded_in_process(warehouse, str(folder / "lake"), buckets)
        assert_same_srs(srs_tables(warehouse), reference)
        con = connect(warehouse)
        assert stored_buckets(con) == buckets
        assert query(con, "SELECT max(bucket) AS b FROM attempts")["b"][0] < buckets
        con.close()
    # one partition alone (B = 8): exactly its learners' rows, the other buckets absent
    folder = tmp_path / "one"
    folder.mkdir()
    warehouse = fresh_warehouse(ingested, folder)
    run_sharded_in_process(warehouse, str(folder / "lake"), 8, partitions=[3])
    for table in SRS_TABLES:
        uri = lake.table_uri(str(folder / "lake"), table)
        got = lake.scan(uri, {}).collect()
        assert set(got["bucket"].unique()) == {3}
        expected = reference[table].filter(
            pl.col("user_id").map_elements(lambda u: bucket_of(u, 8), pl.Int64) == 3
        )
        assert expected.height > 0
        assert_frame_equal(got.drop("bucket").sort(_order(table)), expected)


KILLED_STEP = """
import sys
from transforms.sm2.shards import compute_bucket, read_bucket, write_bucket
from transforms.sm2 import SM2Params
lake, bucket = sys.argv[1], int(sys.argv[2])
frames = compute_bucket(read_bucket(lake, {}, bucket), SM2Params(), bucket)
write_bucket(frames, bucket, lake, {})
"""


def test_a_killed_bucket_step_leaves_each_table_with_the_bucket_whole_or_absent(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path
) -> None:
    warehouse = fresh_warehouse(ingested, tmp_path)
    lake_path = str(tmp_path / "lake")
    run_sharded_in_process(warehouse, lake_path, 8, partitions=[])  # the layout and tables

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
    assert_same_srs(srs_tables(warehouse), reference)
    options = lake.storage_options(s3_lake)
    files = lake.live_files(lake.table_uri(s3_lake, "reviews"), options)
    assert files and all(f.startswith("s3://lake/progress/reviews/") for f in files)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_all_partitions_on_two_celery_workers_give_the_single_process_tables(
    ingested: tuple[Path, Path], reference: dict, tmp_path: Path
) -> None:
    from pipelines.celery_local import run_on_celery

    warehouse = fresh_warehouse(ingested, tmp_path)
    (tmp_path / "home").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROGRESS_")},
        "PROGRESS_LANDING": str(ingested[1]),
        "PROGRESS_WAREHOUSE": str(warehouse),
        "PROGRESS_REPORTS": str(tmp_path / "reports"),
        "PROGRESS_LAKE": str(tmp_path / "lake"),
        "PROGRESS_OUTBOX": str(tmp_path / "outbox"),
        "PROGRESS_BUCKETS": "4",
        "PROGRESS_EXPORT_PNG": "0",
        "PROGRESS_REPORT_LEARNERS": "1",
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    logs = run_on_celery(2, env, tmp_path)
    assert_same_srs(srs_tables(warehouse), reference)
    steps = [log.read_text(errors="replace").count("succeeded in") for log in logs]
    # one task per bucket partition; which worker takes which is Celery's choice (both usually
    # do, but a fast worker may drain the queue alone, so that is not asserted)
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
    assert {"sharded_prepare", "srs_shards", "sharded_finish"} <= {
        job.name for job in sharded.resolve_all_job_defs()
    }
    monkeypatch.setenv("PROGRESS_SHARDED", "0")  # the default: no lake, no partitions
    assert LAKE_REVIEWS not in defs().resolve_asset_graph().get_all_asset_keys()
