"""Course-platform benchmark: event ingestion per format and the progress tables, each against
DuckDB merely reading the same events into Polars (the floor), printed, never asserted.

    python benchmarks/lms.py [--events 10000000] [--learners 100000]
        [--formats jsonl,csv,parquet,gzip] [--steps ingest,progress] [--work DIR]

Events are synthesized vectorized (three courses of 3 modules × 4 lessons; views, task
attempts, quiz attempts), written as landing files of at most 1M rows (gzip: JSONL gzipped),
then each step runs in a child process so the peak memory printed is its own. With `--work`,
the landing files and the ingested warehouses are kept there and reused by later runs (the
progress step alone, `--steps progress`, needs one format's warehouse). Wall and CPU seconds
are both printed: on a shared machine the CPU time is the steadier figure. The progress
step's floor is the faster of two reads (the first may find the warehouse file cold; the
progress run after them finds it cached). Issue 12's targets:
ingestion within 2× the attempts' rate, progress tables within 3× the floor, under 6 GB.

The ingest step also ingests as many attempts, in the same format, as the attempts' own
ingestion does (benchmarks/ingest.py's child; the attempts synthesized vectorized and written by
the landing generator's writers, gzip as the iOS app's JSONL gzipped), and prints the ratio of
the two rates.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks import ingest as attempts_bench  # noqa: E402
from benchmarks.common import peak_rss_mb, run_child  # noqa: E402
from landing.generate.learners import uuids  # noqa: E402

COURSES = ("py101", "ds201", "web110")
FILE_ROWS = 1_000_000
START = datetime(2026, 7, 1)
NOW = datetime(2026, 12, 1)


def course_doc(course: str) -> dict:
    modules = []
    for m in range(1, 4):
        lessons: list[dict] = [
            {
                "id": f"{course}/m{m}/l{i}",
                "kind": "lesson",
                "completion": {"rule": "all_tasks_solved"},
                "tasks": [{"id": f"{course}/m{m}/l{i}/t{t}"} for t in range(1, 4)],
            }
            for i in range(1, 4)
        ]
        lessons.append(
            {
                "id": f"{course}/m{m}/q",
                "kind": "quiz",
                "passPercent": 50,
                "weight": 10,
                "questions": [{"id": f"{course}/m{m}/q/{k}"} for k in range(1, 5)],
            }
        )
        modules.append({"id": f"{course}/m{m}", "lessons": lessons})
    return {
        "course": course,
        "version": 1,
        "publishedAt": "2026-06-01T00:00:00Z",
        "modules": modules,
    }


def synthesize(events: int, learners: int, seed: int = 3) -> pl.DataFrame:
    """`events` rows (camelCase) over `learners`, each in one course, sorted by time."""
    rng = np.random.default_rng(seed)
    users = uuids(rng, learners)
    user = rng.integers(0, learners, events)
    course = user % len(COURSES)
    m, lesson = rng.integers(1, 4, events), rng.integers(1, 4, events)
    kind = rng.choice(4, events, p=[0.15, 0.6, 0.2, 0.05])  # view, task, answer, quiz start/end
    at = START + pl.Series(rng.integers(0, 150 * 86400_000, events)).cast(pl.Duration("ms"))
    names = pl.Series(COURSES)[course]
    base = pl.format("{}/m{}", names, pl.Series(m))
    frame = pl.DataFrame(
        {
            "eventId": uuids(rng, events),
            "userId": users[user],
            "courseId": names,
            "k": kind,
            "lesson": pl.Series(lesson),
            "t": pl.Series(rng.integers(1, 4, events)),
            "occurredAt": at,
            "ok": pl.Series(rng.random(events) < 0.7),
            "ms": pl.Series(rng.integers(2000, 60000, events)),
            "attempt": pl.Series(rng.integers(0, 3, events)),
            "q": pl.Series(rng.integers(1, 5, events)),
        }
    ).with_columns(base.alias("module"))
    node = (
        pl.when(pl.col("k") == 0)
        .then(pl.format("{}/l{}", "module", "lesson"))
        .when(pl.col("k") == 1)
        .then(pl.format("{}/l{}/t{}", "module", "lesson", "t"))
        .when(pl.col("k") == 2)
        .then(pl.format("{}/q/{}", "module", "q"))
        .otherwise(pl.format("{}/q", "module"))
    )
    etype = pl.Series(["lesson_viewed", "task_attempted", "question_answered", "quiz_submitted"])
    task, answer = pl.col("k") == 1, pl.col("k") == 2
    return (
        frame.with_columns(
            pl.col("k")
            .replace_strict(dict(enumerate(etype)), return_dtype=pl.String)
            .alias("type"),
            node.alias("nodeId"),
        )
        .select(
            "eventId",
            "userId",
            "courseId",
            "type",
            pl.col("occurredAt").dt.replace_time_zone("UTC"),
            "nodeId",
            pl.when(pl.col("k") == 0).then(pl.col("ms") * 3).alias("durationMs"),
            pl.when(task).then(1).alias("tries"),
            pl.when(task | answer).then(pl.col("ms")).alias("timeSpentMs"),
            pl.when(task).then(pl.col("ok")).alias("solved"),
            pl.when(pl.col("k") >= 2)
            .then(pl.format("{}-{}-{}", "userId", "module", "attempt"))
            .alias("attemptId"),
            pl.when(answer).then(pl.col("ok")).alias("correct"),
            pl.when(answer).then(pl.col("ok").cast(pl.Float64)).alias("score"),
            pl.when(answer).then(1.0).alias("maxScore"),
        )
        .sort("occurredAt")
    )


SUFFIX = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "gzip": "jsonl.gz"}


def write(frame: pl.DataFrame, folder: Path, fmt: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    size = 0
    for i, part in enumerate(frame.iter_slices(FILE_ROWS)):
        path = folder / f"part-{i:04d}.{SUFFIX[fmt]}"
        if fmt in ("jsonl", "gzip"):
            text = part.with_columns(
                pl.col("occurredAt").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            ).write_ndjson()
            path.write_bytes(
                gzip.compress(text.encode(), compresslevel=1) if fmt == "gzip" else text.encode()
            )
        elif fmt == "csv":
            part.with_columns(pl.col("occurredAt").dt.epoch("ms")).write_csv(path)
        else:
            part.write_parquet(path)
        size += path.stat().st_size
    return size


def child(step: str, landing: str, warehouse: str, fmt: str) -> None:
    import duckdb

    from transforms.as_of import resolve_as_of
    from transforms.ingest.manifests import json_documents
    from transforms.lms.courses import load_courses
    from transforms.lms.ingest import ingest_events
    from transforms.lms.nightly import build_progress, task_medians
    from transforms.lms.read import course_tree
    from transforms.lms.tree import versions_as_of
    from transforms.warehouse import connect, replace_table, transaction

    # the clocks start after the imports: the floor's child imports DuckDB alone
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    out: dict[str, float] = {}
    if step == "ingest":
        con = connect(warehouse)
        load_courses(con, json_documents(Path(landing) / "courses"))
        began = time.perf_counter()
        files = ingest_events(con, Path(landing), NOW)
        out["rows"] = int(files["accepted"].sum())
    elif step == "read_floor":
        reader = {
            "jsonl": "read_json_auto",
            "gzip": "read_json_auto",
            "csv": "read_csv_auto",
            "parquet": "read_parquet",
        }
        glob = str(Path(landing) / "events" / f"*.{SUFFIX[fmt]}")
        out["rows"] = (
            duckdb.connect().sql(f"SELECT * FROM {reader[fmt]}(?)", params=[glob]).pl().height
        )
    elif step == "progress":
        con = connect(warehouse)
        began = time.perf_counter()
        as_of = resolve_as_of(con, None)
        # the full run of `update_lms_progress`: every learner's task medians, then the tables
        # built a group of learners at a time
        courses = versions_as_of(course_tree(con)[0], as_of)["course_id"].unique().to_list()
        tables = build_progress(con, as_of, None, task_medians(con, as_of, courses))
        with transaction(con):
            for name, frame in tables.items():
                replace_table(con, name, frame)
        out["rows"] = tables["lesson_progress"].height
    elif step == "progress_floor":
        con = connect(warehouse)
        out["rows"] = con.sql("SELECT * FROM lms_events").pl().height
    out["seconds"] = time.perf_counter() - began
    out["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime - cpu_before
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--formats", default="jsonl,csv,parquet,gzip")
    parser.add_argument("--steps", default="ingest,progress")
    parser.add_argument("--work", help="keep the landings and warehouses here, reuse them")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"LMS benchmark: {args.events:,} events of {args.learners:,} learners")
    steps = args.steps.split(",")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-lms-"))
    frame: pl.DataFrame | None = None
    formats = args.formats.split(",")
    try:
        for fmt in formats:  # every landing first, so no child starts while the frame is held
            landing = work / fmt / "landing"
            written = work / fmt / "landing.done"
            if not written.exists():
                if frame is None:
                    began = time.perf_counter()
                    frame = synthesize(args.events, args.learners)
                    print(f"  synthesized in {time.perf_counter() - began:.1f}s")
                shutil.rmtree(work / fmt, ignore_errors=True)
                (landing / "courses").mkdir(parents=True)
                for c in COURSES:
                    (landing / "courses" / f"{c}.json").write_text(json.dumps(course_doc(c)))
                written.write_text(str(write(frame, landing / "events", fmt)))
        frame = None
        if "ingest" in steps:  # the attempts to compare with, as many, in the same formats
            for fmt in formats:
                written = work / fmt / "attempts.done"
                if not written.exists():
                    if frame is None:
                        began = time.perf_counter()
                        frame = attempts_bench.synthesize_attempts(args.events, args.learners)
                        print(f"  attempts synthesized in {time.perf_counter() - began:.1f}s")
                    folder = work / fmt / "attempts-landing" / "attempts"
                    shutil.rmtree(folder, ignore_errors=True)
                    size = attempts_bench.write_attempts(frame, folder, fmt, FILE_ROWS)
                    written.write_text(str(size))
            frame = None
        last_warehouse = ""
        for fmt in formats:
            landing = work / fmt / "landing"
            warehouse = work / fmt / "warehouse.duckdb"
            size = int((work / fmt / "landing.done").read_text())
            if "ingest" in steps:
                warehouse.unlink(missing_ok=True)
                floor = run_child(__file__, "read_floor", str(landing), str(warehouse), fmt)
                ing = run_child(__file__, "ingest", str(landing), str(warehouse), fmt)
                print(
                    f"{fmt:>8}: {ing['rows']:,.0f} events ({size / 2**20:,.0f} MiB) ingested in "
                    f"{ing['seconds']:.1f}s (CPU {ing['cpu_s']:.1f}s) = "
                    f"{ing['rows'] / ing['seconds']:,.0f} events/s, peak "
                    f"{ing['peak_rss_mb']:,.0f} MiB | DuckDB reading them: "
                    f"{floor['seconds']:.1f}s (CPU {floor['cpu_s']:.1f}s) "
                    f"({ing['seconds'] / floor['seconds']:.1f}x wall, "
                    f"{ing['cpu_s'] / floor['cpu_s']:.1f}x CPU), "
                    f"peak {floor['peak_rss_mb']:,.0f} MiB"
                )
                att_warehouse = work / fmt / "attempts.duckdb"
                att_warehouse.unlink(missing_ok=True)
                att = run_child(
                    attempts_bench.__file__,
                    str(work / fmt / "attempts-landing"),
                    str(att_warehouse),
                )
                att_warehouse.unlink(missing_ok=True)
                att_size = int((work / fmt / "attempts.done").read_text())
                events_rate = ing["rows"] / ing["seconds"]
                attempts_rate = att["rows_read"] / att["seconds"]
                events_per_cpu = ing["rows"] / ing["cpu_s"]
                attempts_per_cpu = att["rows_read"] / att["cpu_s"]
                print(
                    f"{'':>8}  {att['rows_read']:,.0f} attempts ({att['accepted']:,.0f} accepted, "
                    f"{att_size / 2**20:,.0f} MiB) "
                    f"ingested in {att['seconds']:.1f}s (CPU {att['cpu_s']:.1f}s) = "
                    f"{attempts_rate:,.0f} attempts/s, peak {att['peak_rss_mb']:,.0f} MiB | "
                    f"events/attempts rate: {events_rate / attempts_rate:.2f} wall, "
                    f"{events_per_cpu / attempts_per_cpu:.2f} CPU (target >= 0.5)"
                )
            if warehouse.exists():
                last_warehouse = str(warehouse)
        if "progress" in steps and last_warehouse:
            # the faster of two reads: the first may find the file cold, and the progress run
            # after them finds it cached
            floor = min(
                (run_child(__file__, "progress_floor", "", last_warehouse, "") for _ in range(2)),
                key=lambda run: run["seconds"],
            )
            prog = run_child(__file__, "progress", "", last_warehouse, "")
            print(
                f"progress tables: {prog['seconds']:.1f}s (CPU {prog['cpu_s']:.1f}s), "
                f"peak {prog['peak_rss_mb']:,.0f} MiB | "
                f"DuckDB reading the events into Polars: {floor['seconds']:.1f}s "
                f"(CPU {floor['cpu_s']:.1f}s) "
                f"({prog['seconds'] / floor['seconds']:.1f}x wall, "
                f"{prog['cpu_s'] / floor['cpu_s']:.1f}x CPU), "
                f"peak {floor['peak_rss_mb']:,.0f} MiB"
            )
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
