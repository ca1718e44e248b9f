"""Metrics benchmark: time and peak memory to build every analytics table from a warehouse.

    python benchmarks/metrics.py [--attempts 10000000] [--batches 4]

The warehouse is filled with generated attempts (SQL), its SRS tables recomputed, then the
metric tables are built and written by `recompute_metrics`, the function the
`analytics_tables` asset calls.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import peak_rss_mb  # noqa: E402
from benchmarks.sm2 import warehouse_with_attempts  # noqa: E402
from transforms.as_of import resolve_as_of  # noqa: E402
from transforms.metrics.tables import recompute_metrics  # noqa: E402
from transforms.sm2 import SM2Params  # noqa: E402
from transforms.sm2.store import recompute_srs  # noqa: E402
from transforms.warehouse import connect  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=10_000_000)
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        warehouse_with_attempts(path, args.attempts)
        con = connect(path)
        as_of = resolve_as_of(con, None)
        recompute_srs(con, SM2Params(), as_of, args.batches)
        rss_before = peak_rss_mb()
        run = recompute_metrics(con, as_of)
    total_s = run.read_s + run.build_s + run.write_s
    print(
        f"metrics for {args.attempts:,} attempts: {total_s:.1f}s "
        f"(read {run.read_s:.1f}s, build {run.build_s:.1f}s, write {run.write_s:.1f}s)"
    )
    for name, frame in run.tables.items():
        print(f"  {name:<24} {frame.height:>10,} rows")
    print(f"peak RSS: {peak_rss_mb():,.0f} MiB (before the metrics: {rss_before:,.0f} MiB)")


if __name__ == "__main__":
    main()
