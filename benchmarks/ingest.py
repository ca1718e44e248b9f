"""Ingest benchmark: attempts/s and peak memory ingesting generated logs, one format at a time.

    python benchmarks/ingest.py [--attempts 10000000] [--formats jsonl,csv,parquet]

Each format is generated, then ingested into a fresh warehouse in a child process, so the peak
memory printed is the ingestion's own. `synthesize_attempts` and `write_attempts` make a clean
attempt landing of an exact row count vectorized (much faster than the landing generator, which
simulates learners); benchmarks/lms.py ingests one next to its events, through `ingest_child`.
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks.common import cpu_seconds, peak_rss_mb, run_child  # noqa: E402
from landing.generate.landing import WRITERS, GeneratorConfig, generate_landing  # noqa: E402
from landing.generate.learners import STEP_TYPES, uuids  # noqa: E402
from transforms.ingest.fields import FIELDS  # noqa: E402

PLATFORM = {"jsonl": "ios", "csv": "android", "parquet": "web"}
ATTEMPTS_PER_LEARNER = 620  # measured on the default generator settings
INGESTED_AT = datetime(2026, 11, 22)
# synthesized attempts: the platform whose files a format is (gzip: the iOS app's JSONL gzipped)
SYNTH_FILES = {
    "jsonl": ("ios", "jsonl"),
    "gzip": ("ios", "jsonl.gz"),
    "csv": ("android", "csv"),
    "parquet": ("web", "parquet"),
}
SYNTH_LANGUAGES = ("es", "fr", "de")
SYNTH_WORDS = 600  # per language, in groups of 6
SYNTH_START = datetime(2026, 6, 1)


def synthesize_attempts(attempts: int, learners: int, seed: int = 5) -> pl.DataFrame:
    """`attempts` clean attempts (snake_case, plus the `_offset` minutes of each learner's device
    that the landing writers put on ISO timestamps) over `learners`, each in one language,
    during 150 days before `INGESTED_AT`, sorted by time."""
    rng = np.random.default_rng(seed)
    users = uuids(rng, learners)
    user = rng.integers(0, learners, attempts)
    lang = user % len(SYNTH_LANGUAGES)
    word = rng.integers(0, SYNTH_WORDS, attempts)
    step = rng.integers(0, len(STEP_TYPES), attempts)
    languages = pl.Series(SYNTH_LANGUAGES)[lang]
    text = pl.format("w{}", pl.Series(word))
    at = SYNTH_START + pl.Series(rng.integers(0, 150 * 86400_000, attempts)).cast(pl.Duration("ms"))
    frame = pl.DataFrame(
        {
            "uuid_local": uuids(rng, attempts),
            "user_id": users[user],
            "language": languages,
            "_word": pl.Series(word),
            "step_type": pl.Series(STEP_TYPES)[step],
            "correct": pl.Series(rng.random(attempts) < 0.7),
            "response_time_ms": pl.Series(rng.integers(800, 20000, attempts)),
            "attempted_at": at.cast(pl.Datetime("us")),
            "_session": pl.Series(rng.integers(0, 40, attempts)),
            "_offset": pl.Series(((user * 7919) % 11 - 3) * 60),
        }
    )
    typed = pl.col("step_type") == "typing"
    return (
        frame.with_columns(
            pl.format("{}:g-{}:w{}", "language", pl.col("_word") // 6, "_word").alias("word_uid"),
            pl.format("{}-s{}", "user_id", "_session").alias("session_id"),
            pl.when(typed)
            .then(pl.when("correct").then(text).otherwise(text.str.reverse()))
            .alias("user_response"),
            pl.when(typed).then(text).alias("correct_answer"),
        )
        .select(*FIELDS, "_offset")
        .sort("attempted_at")
    )


def write_attempts(frame: pl.DataFrame, folder: Path, fmt: str, file_rows: int) -> int:
    """Write `frame` as attempt logs of at most `file_rows` rows in `fmt` (jsonl, gzip, csv,
    parquet) with the landing generator's writers, no dirty rows; returns the bytes written."""
    platform, suffix = SYNTH_FILES[fmt]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    size = 0
    for i, part in enumerate(frame.iter_slices(file_rows)):
        path = folder / f"{platform}-{i:04d}.{suffix}"
        WRITERS[platform](part, path, 0.0, rng)
        size += path.stat().st_size
    return size


def ingest_child(landing: str, warehouse: str) -> None:
    from transforms.ingest.attempts import ingest_landing_files
    from transforms.warehouse import connect

    con = connect(warehouse)
    cpu_before = cpu_seconds()
    began = time.perf_counter()
    files = ingest_landing_files(con, Path(landing) / "attempts", INGESTED_AT)
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_s": cpu_seconds() - cpu_before,
                "rows_read": int(files["rows_read"].sum()),
                "accepted": int(files["accepted"].sum()),
                "files": files.height,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=10_000_000)
    parser.add_argument("--formats", default="jsonl,csv,parquet")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        ingest_child(*args.child)
        return
    learners = max(1, args.attempts // ATTEMPTS_PER_LEARNER)
    print(f"ingest benchmark: ~{args.attempts:,} attempts ({learners:,} learners) per format")
    for fmt in args.formats.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{fmt}-"))
        try:
            began = time.perf_counter()
            result = generate_landing(
                work / "landing",
                GeneratorConfig(
                    learners=learners, only_platform=PLATFORM[fmt], block_learners=8000
                ),
            )
            gen_s = time.perf_counter() - began
            size = sum(p.stat().st_size for p in (work / "landing").rglob("*") if p.is_file())
            stats = run_child(__file__, str(work / "landing"), str(work / "warehouse.duckdb"))
            print(
                f"{fmt:>8}: {stats['rows_read']:,} rows in {stats['files']} files "
                f"({size / 2**20:,.0f} MiB) ingested in {stats['seconds']:.1f}s = "
                f"{stats['rows_read'] / stats['seconds']:,.0f} attempts/s "
                f"(CPU {stats['cpu_s']:.1f}s), "
                f"peak RSS {stats['peak_rss_mb']:,.0f} MiB "
                f"[generated in {gen_s:.1f}s = {result.attempts_written / gen_s:,.0f} rows/s]"
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
