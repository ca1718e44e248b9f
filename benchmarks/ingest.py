"""Ingest benchmark: attempts/s and peak memory ingesting generated logs, one format at a time.

    python benchmarks/ingest.py [--attempts 10000000] [--formats jsonl,csv,parquet]

Each format is generated, then ingested into a fresh warehouse in a child process, so the peak
memory printed is the ingestion's own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import peak_rss_mb  # noqa: E402
from landing.generate.landing import GeneratorConfig, generate_landing  # noqa: E402

PLATFORM = {"jsonl": "ios", "csv": "android", "parquet": "web"}
ATTEMPTS_PER_LEARNER = 620  # measured on the default generator settings


def ingest_child(landing: str, warehouse: str) -> None:
    from transforms.ingest.attempts import ingest_landing_files
    from transforms.warehouse import connect

    con = connect(warehouse)
    began = time.perf_counter()
    files = ingest_landing_files(con, Path(landing) / "attempts", datetime(2026, 11, 22))
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "seconds": seconds,
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
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(work / "landing"),
                    str(work / "warehouse.duckdb"),
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            stats = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{fmt:>8}: {stats['rows_read']:,} rows in {stats['files']} files "
                f"({size / 2**20:,.0f} MiB) ingested in {stats['seconds']:.1f}s = "
                f"{stats['rows_read'] / stats['seconds']:,.0f} attempts/s, "
                f"peak RSS {stats['peak_rss_mb']:,.0f} MiB "
                f"[generated in {gen_s:.1f}s = {result.attempts_written / gen_s:,.0f} rows/s]"
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
