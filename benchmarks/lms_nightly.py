"""The LMS progress tables' nightly run against a full rebuild, printed, never asserted.

    python benchmarks/lms_nightly.py [--history 2000000] [--learners 20000] [--day-share 0.01]
        [--day-events N] [--whole]

History: `--history` events of `--learners` learners over 150 days (`benchmarks/lms.py`'s
synthesized courses), ingested and built once (a full run, which records the stored state).
The night: `--day-share` × history new events (or `--day-events`), by a tenth of the learners,
all on the day after the history, as one new file. Each step runs in a child process so its
peak memory is its own: the night's ingestion, the nightly runs (`update_lms_progress`,
`update_assessment`) and, on a copy of the same warehouse, full rebuilds (`full_refresh`);
with `--whole`, the CPU time of the LMS steps still rebuilt whole every night (competencies,
analytics). Wall and CPU seconds
are both printed: on a shared machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.common import peak_rss_mb, run_child  # noqa: E402
from benchmarks.lms import COURSES, course_doc, synthesize, write  # noqa: E402
from landing.generate.learners import uuids  # noqa: E402

NOW = datetime(2027, 1, 1)  # ingestion provenance
WHOLE_STEPS = ("competencies", "analytics")


def night(history: pl.DataFrame, events: int, seed: int = 5) -> pl.DataFrame:
    """`events` events, drawn from a tenth of the learners' history rows, with new
    event ids, on the day after the history."""
    rng = np.random.default_rng(seed)
    users = history["userId"].unique().sort()
    chosen = users.sample(fraction=0.1, seed=seed)
    pool = history.filter(pl.col("userId").is_in(chosen.implode()))
    rows = pool.sample(n=events, with_replacement=True, seed=seed)
    at = pl.Series(rng.integers(0, 86400_000, rows.height)).cast(pl.Duration("ms"))
    day = pl.col("occurredAt").max().dt.truncate("1d") + timedelta(days=1)
    return rows.with_columns(
        pl.Series("eventId", uuids(rng, rows.height)),
        (history.select(day).item() + at).alias("occurredAt"),
    ).sort("occurredAt")


def child(step: str, landing: str, warehouse: str) -> None:
    from transforms.as_of import resolve_as_of
    from transforms.ingest.manifests import json_documents
    from transforms.lms.courses import load_courses
    from transforms.lms.ingest import ingest_events
    from transforms.lms.nightly import update_assessment, update_lms_progress
    from transforms.sm2 import SM2Params
    from transforms.warehouse import connect

    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    out: dict[str, float | str] = {}
    with connect(warehouse) as con:
        if step == "whole":
            out |= _whole_tables(con)
        elif step == "ingest":
            load_courses(con, json_documents(Path(landing) / "courses"))
            files = ingest_events(con, Path(landing), NOW)
            out["rows"] = int(files["accepted"].sum()) if files.height else 0
        elif step.startswith("assessment"):
            as_of = resolve_as_of(con, None)
            run = update_assessment(con, as_of, full_refresh=step.endswith("full"))
            out |= {"mode": run.mode, "learners": run.learners, "reason": run.reason}
        else:
            as_of = resolve_as_of(con, None)
            run = update_lms_progress(con, as_of, SM2Params(), full_refresh=step == "full")
            out |= {"mode": run.mode, "learners": run.learners, "reason": run.reason}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["seconds"] = time.perf_counter() - began
    out["cpu_s"] = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def _whole_tables(con: duckdb.DuckDBPyConnection) -> dict[str, float | str]:
    """CPU seconds of each LMS step still rebuilt whole every night (built, not written)."""
    from transforms.as_of import resolve_as_of
    from transforms.lms.achievements import competency_tables
    from transforms.lms.analytics import build_learning_analytics
    from transforms.lms.read import read_lms_inputs
    from transforms.warehouse import query

    as_of = resolve_as_of(con, None)
    out: dict[str, float | str] = {}
    began = time.process_time()
    competency_tables(con, as_of)
    out["competencies"] = time.process_time() - began
    began = time.process_time()
    attempts = query(
        con, "SELECT user_id, course_id, status, completed_at, score_percent FROM quiz_attempts"
    )
    progress = query(con, "SELECT user_id, course_id, percent_complete FROM course_progress")
    build_learning_analytics(read_lms_inputs(con, as_of), as_of, attempts, progress)
    out["analytics"] = time.process_time() - began
    return out


def _line(name: str, r: dict) -> str:
    return (
        f"{name}: {r['seconds']:.1f}s wall, {r['cpu_s']:.1f} CPU s, "
        f"peak {r['peak_rss_mb']:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, default=2_000_000)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--day-share", type=float, default=0.01)
    parser.add_argument("--day-events", type=int, help="a fixed night (else --day-share)")
    parser.add_argument("--whole", action="store_true", help="also time the whole-table steps")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    history = synthesize(args.history, args.learners)
    day = night(history, args.day_events or int(args.history * args.day_share))
    print(
        f"LMS nightly: {args.history:,} events of history ({args.learners:,} learners), "
        f"a night of {day.height:,} events by {day['userId'].n_unique():,} learners"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-lms-nightly-"))
    try:
        landing = work / "landing"
        (landing / "courses").mkdir(parents=True)
        for c in COURSES:
            (landing / "courses" / f"{c}.json").write_text(json.dumps(course_doc(c)))
        write(history, landing / "events", "parquet")
        warehouse = work / "nightly.duckdb"
        run_child(__file__, "ingest", str(landing), str(warehouse))
        first = run_child(__file__, "nightly", str(landing), str(warehouse))
        print(_line(f"history build, progress ({first['mode']})", first))
        first = run_child(__file__, "assessment", str(landing), str(warehouse))
        print(_line(f"history build, assessment ({first['mode']})", first))
        write(day, landing / "night", "parquet")
        (landing / "night" / "part-0000.parquet").rename(landing / "events" / "night.parquet")
        ingest = run_child(__file__, "ingest", str(landing), str(warehouse))
        print(_line(f"the night's ingestion ({ingest['rows']:,.0f} events)", ingest))
        copy = work / "full.duckdb"
        shutil.copy(warehouse, copy)
        for name, nightly_step, full_step in (
            ("progress", "nightly", "full"),
            ("assessment", "assessment", "assessment_full"),
        ):
            nightly = run_child(__file__, nightly_step, str(landing), str(warehouse))
            full = run_child(__file__, full_step, str(landing), str(copy))
            print(_line(f"{name} nightly ({nightly['mode']}: {nightly['reason']})", nightly))
            print(_line(f"{name} full rebuild", full))
            print(
                f"{name} nightly / full: {nightly['seconds'] / full['seconds']:.0%} wall, "
                f"{nightly['cpu_s'] / full['cpu_s']:.0%} CPU"
            )
        if args.whole:
            whole = run_child(__file__, "whole", str(landing), str(copy))
            print(
                "still rebuilt whole every night (CPU s, built only): "
                + ", ".join(f"{k} {whole[k]:.1f}" for k in WHOLE_STEPS)
                + f"; peak {whole['peak_rss_mb']:,.0f} MiB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
