"""Sharded SM-2 benchmark: the bucket steps on 1 and 2 worker processes against the
single-process recompute in the same run, each partition's peak memory, the fan-in, and the
whole sharded Dagster run (prepare, bucket runs on the multiprocess executor, fan-in).

Each bucket step runs in a fresh process (so its peak resident memory is the partition's own,
interpreter and libraries included); wall seconds and CPU seconds (all processes) are printed.
Run it under `flock /work/wt/bench.lock` on a shared machine.

    python benchmarks/scale.py [--learners 2000] [--buckets 16] [--dagster-buckets 4]
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
from transforms.as_of import resolve_as_of  # noqa: E402
from transforms.buckets import ensure_bucket_layout  # noqa: E402
from transforms.ingest.attempts import ingest_landing_files  # noqa: E402
from transforms.ingest.manifests import json_documents, load_manifests  # noqa: E402
from transforms.sm2 import SM2Params  # noqa: E402
from transforms.sm2.shards import (  # noqa: E402
    compact_srs_lake,
    compute_bucket,
    ensure_srs_lake,
    export_srs_inputs,
    load_srs_from_lake,
    read_bucket,
    write_bucket,
)
from transforms.sm2.store import recompute_srs  # noqa: E402
from transforms.warehouse import connect, scalar  # noqa: E402


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
    write_bucket(frames, bucket, lake_path, {})
    return (
        bucket,
        inputs.attempts.height,
        time.perf_counter() - began,
        own_peak_mb(),
        time.process_time() - cpu,
    )


def idle_process_mb(_: int) -> float:
    return own_peak_mb()


def sharded(lake_path: str, buckets: int, workers: int) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, maxtasksperchild=1) as pool:
        return pool.map(bucket_step, [(lake_path, b) for b in range(buckets)], 1)


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
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--dagster-buckets", type=int, default=4, help="0 skips the Dagster run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_landing(root / "landing", GeneratorConfig(learners=args.learners))
        warehouse = root / "w.duckdb"
        con = connect(warehouse)
        ingest_landing_files(con, root / "landing" / "attempts", datetime.now())
        load_manifests(con, json_documents(root / "landing" / "manifests"))
        ensure_bucket_layout(con, args.buckets)
        attempts = int(str(scalar(con, "SELECT count(*) FROM attempts")))
        as_of = resolve_as_of(con, None)
        print(f"{args.learners} learners, {attempts:,} attempts, B = {args.buckets}")
        _, wall, cpu = timed(lambda: recompute_srs(con, SM2Params(), as_of, 4, workers=1))
        print(
            f"single process (1 compute thread): {wall:.1f} s wall, {cpu:.1f} CPU s, "
            f"{attempts / wall:,.0f} attempts/s"
        )
        baseline = wall
        con.close()
        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            idle = pool.map(idle_process_mb, [0])[0]
        print(f"an idle worker process (libraries imported): {idle:.0f} MiB")
        for workers in (1, 2):
            lake_path = str(root / f"lake-{workers}")
            con = connect(warehouse)
            ensure_srs_lake(con, lake_path, {})
            _, export_wall, export_cpu = timed(
                partial(export_srs_inputs, con, lake_path, {}, as_of)
            )
            con.close()
            print(
                f"export of the bucket steps' inputs to the lake: {export_wall:.1f} s wall, "
                f"{export_cpu:.1f} CPU s"
            )
            steps, wall, cpu = timed(partial(sharded, lake_path, args.buckets, workers))
            per = sorted(steps, key=lambda s: s[1])
            largest = per[-1]
            print(
                f"{workers} worker(s), {args.buckets} bucket steps: {wall:.1f} s wall "
                f"({baseline / wall:.2f} x the single process), {cpu:.1f} CPU s, "
                f"{attempts / wall:,.0f} attempts/s; per partition: "
                f"{min(s[2] for s in steps):.1f} to {max(s[2] for s in steps):.1f} s, "
                f"peak {min(s[3] for s in steps):.0f} to {max(s[3] for s in steps):.0f} MiB "
                f"(largest bucket {largest[1]:,} attempts: {largest[3]:.0f} MiB); the steps "
                f"alone {sum(s[4] for s in steps):.1f} CPU s, "
                f"{attempts / sum(s[4] for s in steps):,.0f} attempts per CPU second"
            )
        con = connect(warehouse)
        _, wall, cpu = timed(
            lambda: load_srs_from_lake(con, str(root / "lake-2"), {}, SM2Params(), as_of)
        )
        con.close()
        print(f"fan-in (lake -> warehouse): {wall:.1f} s wall, {cpu:.1f} CPU s")
        _, wall, cpu = timed(lambda: compact_srs_lake(str(root / "lake-2"), {}))
        print(f"compact and vacuum: {wall:.1f} s wall, {cpu:.1f} CPU s")
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
