"""Badge rules over a large event history against DuckDB merely reading the same rows (the
floor), printed, never asserted.

    flock /work/wt/bench.lock python benchmarks/badges.py [--events 10000000] [--learners 100000]

The history is synthesized vectorized (views, task attempts with tries/time/solved, answers over
150 days) and written as Parquet with the completion facts the rules read (modules, courses,
lessons, quiz scores, competencies, learned words); then, each in a child process so its peak
memory is its own: `read` — DuckDB reads every row into Polars; `badges` — the same read, then
every rule of the generator's badge set (all eleven types, nested all_of/any_of) evaluated
(`transforms.lms.badges.evaluate_badges`). Wall and CPU seconds are both printed: on a shared
machine the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.common import peak_rss_mb  # noqa: E402
from landing.generate.lms import BADGE_RULES  # noqa: E402
from transforms.lms.badges import BadgeFacts, evaluate_badges, parse_badge_rules  # noqa: E402

START = datetime(2026, 3, 1)
COURSES = ("py101", "ds201", "web110")
FACTS = ("events", "modules", "courses", "lessons", "quizzes", "competencies", "words")


def synthesize(folder: Path, events: int, learners: int, seed: int = 5) -> None:
    """Write `events.parquet` and one Parquet file per completion fact."""
    rng = np.random.default_rng(seed)
    users = pl.Series([f"user-{i:07d}" for i in range(learners)])
    user = rng.integers(0, learners, events)
    kind = rng.choice(3, events, p=[0.2, 0.6, 0.2])
    module, lesson, task = (rng.integers(1, 4, events) for _ in range(3))
    course = pl.Series(COURSES)[user % 3]
    nodes = pl.format(
        "{}/m{}/l{}/t{}", course, pl.Series(module), pl.Series(lesson), pl.Series(task)
    )
    frame = pl.DataFrame(
        {
            "user_id": users[user],
            "course_id": course,
            "type": pl.Series(["lesson_viewed", "task_attempted", "question_answered"])[kind],
            "occurred_at": START
            + pl.Series(rng.integers(0, 150 * 86_400_000, events)).cast(pl.Duration("ms")),
            "tries": rng.integers(1, 4, events).astype(np.int32),
            "time_spent_ms": rng.lognormal(10, 0.7, events).astype(np.int64),
            "solved": rng.random(events) < 0.7,
            "event_id": pl.int_range(events, eager=True).cast(pl.String),
        }
    ).with_columns(pl.select(nodes).to_series().alias("node_id"))
    frame.sort("occurred_at").write_parquet(folder / "events.parquet")

    def completions(n: int, column: str, names: pl.Series, at: str) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "user_id": users[rng.integers(0, learners, n)],
                column: names[rng.integers(0, len(names), n)],
                at: START + pl.Series(rng.integers(0, 150 * 86_400_000, n)).cast(pl.Duration("ms")),
            }
        )

    modules = pl.Series([f"{c}/m{m}" for c in ("py101", "ds201", "web110") for m in (1, 2, 3)])
    lessons = pl.Series([f"{m}/l{i}" for m in modules for i in (1, 2, 3)])
    quizzes = pl.Series([f"{m}/quiz" for m in modules])
    n = max(events // 20, 1)
    facts = {
        "modules": completions(n // 10, "module_id", modules, "completed_at"),
        "courses": completions(n // 50, "course_id", pl.Series(COURSES), "completed_at"),
        "lessons": completions(n, "lesson_id", lessons, "completed_at"),
        "quizzes": completions(n, "quiz_id", quizzes, "submitted_at").with_columns(
            pl.Series(rng.integers(0, 101, n).astype(np.float64)).alias("score_percent")
        ),
        "competencies": completions(
            n // 5, "competency_id", pl.Series(["py101-m1", "ds201-m2"]), "acquired_at"
        ),
        "words": completions(n, "item_id", pl.Series([f"es-{i}" for i in range(500)]), "solved_at"),
    }
    for name, frame in facts.items():
        frame.write_parquet(folder / f"{name}.parquet")


def _read(folder: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect()
    try:
        return {f: con.sql(f"SELECT * FROM '{folder / f}.parquet'").pl() for f in FACTS}
    finally:
        con.close()


def step(name: str, folder: Path) -> dict[str, float]:
    start = time.perf_counter()
    frames = _read(folder)
    read_s = time.perf_counter() - start
    out = {"read_s": read_s, "rows": float(sum(f.height for f in frames.values()))}
    if name == "badges":
        rules, _ = parse_badge_rules([("rules.json", json.dumps(BADGE_RULES))])
        t = time.perf_counter()
        facts = BadgeFacts(
            frames["events"],
            frames["modules"],
            frames["courses"],
            frames["lessons"],
            frames["quizzes"],
            frames["competencies"],
            frames["words"],
        )
        awards = evaluate_badges(rules, facts)
        out["rules_s"] = time.perf_counter() - t
        out["awards"] = float(awards.height)
    out["wall_s"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime
    out["peak_mb"] = peak_rss_mb()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--step", choices=["read", "badges"])
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.data)))
        return
    with tempfile.TemporaryDirectory(prefix="badges-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        synthesize(folder, args.events, args.learners)
        print(f"synthesized {args.events:,} events over {args.learners:,} learners "
              f"in {time.perf_counter() - t:.1f} s")  # fmt: skip
        results = {}
        for name in ("read", "badges"):
            done = subprocess.run(
                [sys.executable, __file__, "--step", name, "--data", str(folder)],
                capture_output=True,
                text=True,
                check=True,
            )
            results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    floor, badges = results["read"], results["badges"]
    rows = floor["rows"]
    print(f"DuckDB reading the rows:   {floor['wall_s']:7.2f} s wall  {floor['cpu_s']:7.2f} s CPU  "
          f"{rows / floor['wall_s']:13,.0f} rows/s  peak {floor['peak_mb']:,.0f} MiB")  # fmt: skip
    print(f"read + {len(BADGE_RULES) - 1} active rules:  {badges['wall_s']:7.2f} s wall  "
          f"{badges['cpu_s']:7.2f} s CPU  {rows / badges['wall_s']:13,.0f} rows/s  "
          f"peak {badges['peak_mb']:,.0f} MiB  ({badges['rules_s']:.2f} s in the rules, "
          f"{badges['awards']:,.0f} awards)")  # fmt: skip
    print(f"ratio to the floor: {badges['wall_s'] / floor['wall_s']:.2f}x wall, "
          f"{badges['cpu_s'] / floor['cpu_s']:.2f}x CPU")  # fmt: skip


if __name__ == "__main__":
    main()
