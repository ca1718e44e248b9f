"""Sharded run benchmark: the SM-2 bucket steps and the progress bucket steps (per-learner
metrics and LMS progress) on 1 and 2 worker processes against the single-process recomputes in
the same run, each partition's peak memory, the fan-ins, and the whole sharded Dagster run
(five runs: prepare, SM-2 bucket runs, SM-2 fan-in, progress bucket runs, the rest).

Each bucket step runs in a fresh process (so its peak resident memory is the partition's own,
interpreter and libraries included); wall seconds and CPU seconds (all processes) are printed.
Run it under `flock /work/wt/bench.lock` on a shared machine.

    python benchmarks/scale.py [--learners 2000] [--lms-learners 500] [--buckets 16]
        [--dagster-buckets 4]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import peak_rss_mb  # noqa: E402
from landing.generate.landing import GeneratorConfig, generate_landing  # noqa: E402
from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing  # noqa: E402
from transforms import lake  # noqa: E402
from transforms.as_of import resolve_as_of  # noqa: E402
from transforms.buckets import ensure_bucket_layout  # noqa: E402
from transforms.ingest.landing import ingest_landing  # noqa: E402
from transforms.lms.progress import build_lms_progress  # noqa: E402
from transforms.lms.read import read_lms_inputs  # noqa: E402
from transforms.metrics.tables import recompute_metrics  # noqa: E402
from transforms.shards import (  # noqa: E402
    aggregate_metrics,
    bucket_learners,
    bucket_progress,
    connect_read_only,
    ensure_progress_lake,
    progress_schemas,
    read_progress_lake,
)
from transforms.sm2 import SM2Params  # noqa: E402
from transforms.sm2.shards import (  # noqa: E402
    compact_srs_lake,
    compute_bucket,
    ensure_srs_lake,
    export_srs_inputs,
    load_srs_from_lake,
    read_bucket,
)
from transforms.sm2.store import recompute_srs  # noqa: E402
from transforms.warehouse import connect, replace_table, scalar, transaction  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """`fn()`, its wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    out = fn()
    return out, time.perf_counter() - wall, cpu_seconds() - cpu


def own_peak_mb() -> float:
    """Peak resident memory of this process image, in MiB: /proc's VmHWM starts afresh at
    exec, unlike `ru_maxrss`, which a spawned worker inherits from its (large) parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def bucket_step(job: tuple[str, int]) -> tuple[int, int, float, float, float]:
    """One partition in this (fresh) process: (bucket, attempts, seconds, peak MiB, CPU
    seconds of the step alone, all threads, imports excluded)."""
    lake_path, bucket = job
    began, cpu = time.perf_counter(), time.process_time()
    inputs = read_bucket(lake_path, {}, bucket)
    frames = compute_bucket(inputs, SM2Params(), bucket, workers=1)
    lake.write_buckets(frames, bucket, lake_path, {})
    return (
        bucket,
        inputs.attempts.height,
        time.perf_counter() - began,
        own_peak_mb(),
        time.process_time() - cpu,
    )


def progress_step(job: tuple[str, str, int]) -> tuple[int, int, float, float, float]:
    """One progress partition in this (fresh) process, the warehouse opened read-only:
    (bucket, learners, seconds, peak MiB, CPU seconds of the step alone)."""
    warehouse, lake_path, bucket = job
    began, cpu = time.perf_counter(), time.process_time()
    con = connect_read_only(warehouse)
    as_of = resolve_as_of(con, None)
    learners = bucket_learners(con, bucket)
    frames = bucket_progress(con, as_of, learners, bucket)
    con.close()
    lake.write_buckets(frames, bucket, lake_path, {})
    return (
        bucket,
        learners.height,
        time.perf_counter() - began,
        own_peak_mb(),
        time.process_time() - cpu,
    )


def idle_process_mb(_: int) -> float:
    return own_peak_mb()


def sharded(step: Callable[[Any], tuple], jobs: list[Any], workers: int) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, maxtasksperchild=1) as pool:
        return pool.map(step, jobs, 1)


def describe(steps: list[tuple], unit: str) -> str:
    """Per-partition figures: seconds, peak MiB (the largest partition's), CPU seconds."""
    largest = max(steps, key=lambda s: s[1])
    return (
        f"per partition {min(s[2] for s in steps):.1f} to {max(s[2] for s in steps):.1f} s, "
        f"peak {min(s[3] for s in steps):.0f} to {max(s[3] for s in steps):.0f} MiB "
        f"(largest bucket {largest[1]:,} {unit}: {largest[3]:.0f} MiB); the steps alone "
        f"{sum(s[4] for s in steps):.1f} CPU s"
    )


def single_process_progress(con: Any, as_of: datetime) -> None:
    """The single-process metrics and LMS progress recompute (the baseline)."""
    recompute_metrics(con, as_of)
    tables = build_lms_progress(read_lms_inputs(con, as_of), as_of, SM2Params())
    with transaction(con):
        for name, frame in tables.items():
            replace_table(con, name, frame)


def progress_fan_in(con: Any, lake_path: str, as_of: datetime) -> int:
    """The progress fan-in's work: the lake's rows and the aggregates into the warehouse."""
    loaded = read_progress_lake(lake_path, {}, progress_schemas(con, as_of))
    tables = loaded | aggregate_metrics(con, as_of, loaded["accuracy_daily"])
    with transaction(con):
        for name, frame in tables.items():
            replace_table(con, name, frame)
    return sum(f.height for f in tables.values())


def dagster_run(root: Path, warehouse: Path, buckets: int, workers: int) -> tuple[float, float]:
    """`python -m pipelines.sharded` on a copy of the warehouse: wall and CPU seconds."""
    env = {
        **os.environ,
        "PROGRESS_SHARDED": "1",
        "PROGRESS_BUCKETS": str(buckets),
        "PROGRESS_WAREHOUSE": str(warehouse),
        "PROGRESS_LAKE": str(root / f"lake-dagster-{workers}"),
        "PROGRESS_LANDING": str(root / "landing"),
        "PROGRESS_REPORTS": str(root / "reports"),
        "PROGRESS_OUTBOX": str(root / "outbox"),
        "PROGRESS_EXPORT_PNG": "0",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    (root / "dagster_home").mkdir(exist_ok=True)
    command = [sys.executable, "-m", "pipelines.sharded", "--workers", str(workers)]
    _, wall, cpu = timed(lambda: subprocess.run(command, env=env, cwd=ROOT, check=True))
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--lms-learners", type=int, default=500)
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--dagster-buckets", type=int, default=4, help="0 skips the Dagster run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_landing(root / "landing", GeneratorConfig(learners=args.learners))
        generate_lms_landing(root / "landing", LmsGeneratorConfig(learners=args.lms_learners))
        warehouse = root / "w.duckdb"
        con = connect(warehouse)
        ingest_landing(con, root / "landing", datetime(2027, 1, 1))
        ensure_bucket_layout(con, args.buckets)
        attempts = int(str(scalar(con, "SELECT count(*) FROM attempts")))
        events = int(str(scalar(con, "SELECT count(*) FROM lms_events")))
        as_of = resolve_as_of(con, None)
        print(
            f"{args.learners} language learners, {attempts:,} attempts; {args.lms_learners} "
            f"course-platform learners, {events:,} events; B = {args.buckets}"
        )
        _, wall, cpu = timed(lambda: recompute_srs(con, SM2Params(), as_of, 4, workers=1))
        print(
            f"single-process SM-2 (1 compute thread): {wall:.1f} s wall, {cpu:.1f} CPU s, "
            f"{attempts / wall:,.0f} attempts/s"
        )
        baseline = wall
        _, progress_wall, progress_cpu = timed(lambda: single_process_progress(con, as_of))
        print(
            f"single-process metrics and LMS progress: {progress_wall:.1f} s wall, "
            f"{progress_cpu:.1f} CPU s"
        )
        con.close()
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            idle = pool.map(idle_process_mb, [0])[0]
        print(f"an idle worker process (libraries imported): {idle:.0f} MiB")
        for workers in (1, 2):
            lake_path = str(root / f"lake-{workers}")
            con = connect(warehouse)
            ensure_srs_lake(con, lake_path, {})
            ensure_progress_lake(con, lake_path, {}, as_of, empty=False)
            _, export_wall, export_cpu = timed(
                partial(export_srs_inputs, con, lake_path, {}, as_of)
            )
            con.close()
            print(
                f"export of the SM-2 steps' inputs to the lake: {export_wall:.1f} s wall, "
                f"{export_cpu:.1f} CPU s"
            )
            srs_jobs = [(lake_path, b) for b in range(args.buckets)]
            steps, wall, cpu = timed(partial(sharded, bucket_step, srs_jobs, workers))
            print(
                f"{workers} worker(s), {args.buckets} SM-2 bucket steps: {wall:.1f} s wall "
                f"({baseline / wall:.2f} x the single process), {cpu:.1f} CPU s; "
                f"{describe(steps, 'attempts')}, "
                f"{attempts / sum(s[4] for s in steps):,.0f} attempts per CPU second"
            )
            progress_jobs = [(str(warehouse), lake_path, b) for b in range(args.buckets)]
            steps, wall, cpu = timed(partial(sharded, progress_step, progress_jobs, workers))
            print(
                f"{workers} worker(s), {args.buckets} progress bucket steps: {wall:.1f} s wall "
                f"({progress_wall / wall:.2f} x the single process), {cpu:.1f} CPU s; "
                f"{describe(steps, 'learners')}"
            )
        con = connect(warehouse)
        _, wall, cpu = timed(
            lambda: load_srs_from_lake(con, str(root / "lake-2"), {}, SM2Params(), as_of)
        )
        print(f"SM-2 fan-in (lake -> warehouse): {wall:.1f} s wall, {cpu:.1f} CPU s")
        rows, wall, cpu = timed(lambda: progress_fan_in(con, str(root / "lake-2"), as_of))
        print(
            f"progress fan-in (lake -> warehouse, {rows:,} rows, the aggregates and the "
            f"at-risk model computed): {wall:.1f} s wall, {cpu:.1f} CPU s"
        )
        con.close()
        _, wall, cpu = timed(lambda: compact_srs_lake(str(root / "lake-2"), {}))
        print(f"compact and vacuum (SM-2 tables): {wall:.1f} s wall, {cpu:.1f} CPU s")
        if args.dagster_buckets:
            for workers in (1, 2):
                wall, cpu = dagster_run(root, warehouse, args.dagster_buckets, workers)
                print(
                    f"Dagster sharded run, B = {args.dagster_buckets}, {workers} run(s) at a "
                    f"time (multiprocess executor): {wall:.1f} s wall, {cpu:.1f} CPU s"
                )
        print(f"peak memory of this process: {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
