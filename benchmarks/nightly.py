"""Nightly benchmark: one night's run (SM-2 and every metric table) against a full recompute,
and how the night's cost grows with the history at a fixed day's size.

    flock /work/wt/bench.lock python benchmarks/nightly.py [--history 10000000 30000000]
        [--day-share 0.01] [--day-learner-share 0.1]

For each history size: a warehouse of generated attempts (SQL, no files) by a fixed population
of learners (10M / 700, as in `benchmarks/sm2.py`), the history's days growing with its size
(90 days per 10M attempts); a full recompute (`update_srs` + `update_metrics`, the functions
the assets call) as the baseline; then one new day of `--day-share` x 10M attempts (1%: 100k)
by `--day-learner-share` of the learners, landed as one file, and the nightly run over it.
Prints wall and CPU seconds (CPU: all threads of this process) and peak memory.

`--keep DIR` saves each built history (the warehouse before the day lands, and the full
recompute's figures) in DIR and reuses it on the next run, so measuring a change to the night
takes seconds instead of rebuilding the history (minutes at 30M).

A history above `--part` attempts (10M: a full recompute of 10M peaks at about 8 GB, so 30M
does not fit in 24 GB) is landed in parts of its own days, one after the other: the full
recompute runs over the first part, and each later part is one big nightly run (every learner
touched) that builds the stored state; the baseline printed for it is the full recompute of the
first part, a lower bound of the whole history's. Last, the growth of the night with the
history, step by step (`MetricsRun.steps` and SM-2).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import peak_rss_mb  # noqa: E402
from transforms.as_of import resolve_as_of  # noqa: E402
from transforms.metrics.nightly import update_metrics  # noqa: E402
from transforms.metrics.tables import MetricsRun  # noqa: E402
from transforms.sm2 import SM2Params  # noqa: E402
from transforms.sm2.store import update_srs  # noqa: E402
from transforms.warehouse import connect, scalar  # noqa: E402

BASE_ATTEMPTS = 10_000_000
LEARNERS = BASE_ATTEMPTS // 700
DAYS_PER_BASE = 90
START = "TIMESTAMP '2026-01-01'"
T = TypeVar("T")


def _land(con: object, source: str, sql: str, params: list[object]) -> None:
    """Insert generated attempts as the ingested file `source`."""
    con.execute(  # type: ignore[attr-defined]
        f"""INSERT INTO attempts
        SELECT uuid()::VARCHAR, 'user-' || u, 'es', 'es:g:' || (random() * 300)::INT,
               'typing', random() < 0.8, (500 + random() * 12000)::INT, attempted,
               NULL, NULL, NULL, '{source}', i, NULL  -- bucket: only the sharded run needs it
        FROM ({sql})""",
        params,
    )
    con.execute(  # type: ignore[attr-defined]
        "INSERT INTO ingested_files (content_hash, source_kind, path, status, rows_read, "
        "accepted, duplicates, rejected, ingested_at) VALUES (?, 'file', ?, 'ingested', 0, 0, "
        f"0, 0, {START})",
        [source, source],
    )


@dataclass
class Timed:
    wall: float
    cpu: float


def _timed(step: Callable[[], T]) -> tuple[Timed, T]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step()
    return Timed(time.perf_counter() - wall, time.process_time() - cpu), result


def run(
    history: int,
    day_share: float,
    day_learner_share: float,
    batches: int,
    part: int,
    keep: Path | None = None,
) -> dict[str, float]:
    days = max(1, round(DAYS_PER_BASE * history / BASE_ATTEMPTS))
    day_attempts = int(BASE_ATTEMPTS * day_share)
    day_learners = max(1, int(LEARNERS * day_learner_share))
    params = SM2Params()
    parts = max(1, -(-history // part))
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(Path(tmp) / "warehouse.duckdb")

        def land_part(k: int) -> None:
            first, last = days * k // parts, days * (k + 1) // parts
            _land(
                con,
                f"history-{k}",
                f"SELECT i, i % ? AS u, {START} + INTERVAL (?) DAY "
                "+ to_microseconds((random() * ? * 86400e6)::BIGINT) AS attempted "
                "FROM range(?, ?) t(i)",
                [LEARNERS, first, last - first, history * k // parts, history * (k + 1) // parts],
            )

        kept = None if keep is None else keep / f"history-{history}.duckdb"
        kept_label: str | None = None
        kept_figures = None if kept is None else kept.with_suffix(".json")

        def nightly(full: bool) -> tuple[Timed, Timed, str, MetricsRun]:
            as_of = resolve_as_of(con, None)
            srs_t, srs = _timed(lambda: update_srs(con, params, as_of, batches, full))
            met_t, met = _timed(lambda: update_metrics(con, as_of, full))
            return srs_t, met_t, f"{srs.mode}: {srs.reason} / {met.mode}: {met.reason}", met

        if kept is not None and kept_figures is not None and kept_figures.exists():
            con.close()
            shutil.copyfile(kept, Path(tmp) / "warehouse.duckdb")
            con = connect(Path(tmp) / "warehouse.duckdb")
            figures = json.loads(kept_figures.read_text())
            full_srs, full_met = Timed(**figures["srs"]), Timed(**figures["metrics"])
            built = [*figures["built"], f"  (history reused from {kept})"]
            kept_label = figures.get("label")
        else:
            land_part(0)
            full_srs, full_met, _, _ = nightly(full=True)
            built = []
            for k in range(1, parts):
                land_part(k)
                srs_t, met_t, part_modes, _ = nightly(full=False)
                built.append(
                    f"  part {k + 1} of {parts} as one nightly run: SM-2 {srs_t.wall:.1f} s, "
                    f"metrics {met_t.wall:.1f} s wall, {srs_t.cpu + met_t.cpu:.1f} s CPU "
                    f"({part_modes})"
                )
            if kept is not None and kept_figures is not None:
                con.close()
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(tmp) / "warehouse.duckdb", kept)
                kept_figures.write_text(
                    json.dumps(
                        {
                            "srs": vars(full_srs),
                            "metrics": vars(full_met),
                            "built": built,
                            "label": "history"
                            if parts == 1
                            else f"first part, {history // parts:,} attempts",
                        }
                    )
                )
                con = connect(Path(tmp) / "warehouse.duckdb")
        _land(
            con,
            "day",
            f"SELECT i, (i % ?) * ? AS u, {START} + INTERVAL (?) DAY "
            "+ to_microseconds((random() * 86400e6)::BIGINT) AS attempted FROM range(?) t(i)",
            [day_learners, LEARNERS // day_learners, days, day_attempts],
        )
        # the ingest step's commit writes the day into the file; the night starts after it
        con.execute("CHECKPOINT")
        night_srs, night_met, modes, night_run = nightly(full=False)
        steps = night_run.steps
        # a night that adds a snapshot Monday (one night in seven): drop the latest one and run
        # again with no new attempts, so the at-risk step builds it for every learner
        latest = scalar(con, "SELECT max(snapshot_day) FROM at_risk_snapshots")
        con.execute("DELETE FROM at_risk_snapshots WHERE snapshot_day = ?", [latest])
        monday_t, monday = _timed(lambda: update_metrics(con, resolve_as_of(con, None)))
        total = int(str(scalar(con, "SELECT count(*) FROM attempts")))
        con.close()
    full = full_srs.wall + full_met.wall
    night = night_srs.wall + night_met.wall
    print(
        f"history {history:,} attempts ({days} days, {LEARNERS:,} learners) + a day of "
        f"{day_attempts:,} by {day_learners:,} learners = {total:,}"
    )
    label = "history" if parts == 1 else f"first part, {history // parts:,} attempts"
    label = str(kept_label or label)
    print(
        f"  full recompute ({label}):  {full:7.1f} s wall "
        f"{full_srs.cpu + full_met.cpu:7.1f} s CPU"
        f"  (SM-2 {full_srs.wall:.1f} s, metrics {full_met.wall:.1f} s)"
    )
    for line in built:
        print(line)
    print(
        f"  nightly run (the day):     {night:7.1f} s wall "
        f"{night_srs.cpu + night_met.cpu:7.1f} s CPU  (SM-2 {night_srs.wall:.1f} s, "
        f"metrics {night_met.wall:.1f} s)  = {night / full:.1%} of the full recompute"
    )
    print(f"  modes: {modes}")
    print("  nightly metrics by step (wall s):")
    for name, seconds in steps.items():
        print(f"    {name:<72} {seconds:6.2f}")
    print(
        f"  a night adding a snapshot Monday ({latest}), no new attempts: metrics "
        f"{monday_t.wall:.1f} s wall {monday_t.cpu:.1f} s CPU; at-risk step "
        f"{monday.steps['learner_status, at_risk_*']:.2f} s"
    )
    print(f"  peak RSS so far: {peak_rss_mb():,.0f} MiB")
    return {"SM-2": night_srs.wall, **steps, "night (wall)": night}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--history", type=int, nargs="+", default=[10_000_000, 30_000_000])
    parser.add_argument("--day-share", type=float, default=0.01)
    parser.add_argument("--day-learner-share", type=float, default=0.1)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--part", type=int, default=BASE_ATTEMPTS)
    parser.add_argument("--keep", type=Path, default=None, help="save/reuse built histories")
    args = parser.parse_args()
    nights = {
        history: run(
            history, args.day_share, args.day_learner_share, args.batches, args.part, args.keep
        )
        for history in args.history
    }
    sizes = list(nights)
    print("the night by step, wall s: " + " | ".join(f"{h:,}" for h in sizes))
    for name in nights[sizes[0]]:
        figures = "  ".join(f"{nights[h].get(name, 0.0):6.2f}" for h in sizes)
        growth = (
            f"  x{nights[sizes[-1]].get(name, 0.0) / nights[sizes[0]][name]:.2f}"
            if len(sizes) > 1 and nights[sizes[0]][name] > 0
            else ""
        )
        print(f"  {name:<72} {figures}{growth}")


if __name__ == "__main__":
    main()
