"""Tuning benchmark: 1,000 SM-2 parameter sets scored in one compiled pass, against one plain
replay of the same reviews (time per set, and the ratio), with peak memory.

    python benchmarks/tuning.py [--reviews 10000000] [--sets 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import peak_rss_mb  # noqa: E402
from benchmarks.sm2 import synthetic_reviews  # noqa: E402
from transforms.sm2 import SM2Params, replay  # noqa: E402
from transforms.sm2.grading import quality_codes, step_codes  # noqa: E402
from transforms.sm2.kernel import threads  # noqa: E402
from transforms.tuning.batch_replay import batch_scores  # noqa: E402
from transforms.tuning.search import DEFAULT_SPACE, random_sets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=10_000_000)
    parser.add_argument("--sets", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(2)
    reviews = synthetic_reviews(args.reviews).with_columns(
        pl.col("card_id").cast(pl.String).alias("tiebreak"),
        pl.Series("step_type", rng.choice(["typing", "lightning", "listening"], args.reviews)),
        pl.Series("correct", rng.random(args.reviews) < 0.8),
        pl.Series("response_time_ms", rng.integers(400, 15_000, args.reviews)),
    )
    held_out = (reviews["card_id"].to_numpy() % 5) == 0
    base = SM2Params()  # the baseline, then random draws from the lab's default space
    draws = random_sets(DEFAULT_SPACE, args.sets - 1, seed=0)
    sets = [base, *[SM2Params.from_dict({**base.to_dict(), **d}) for d in draws]]
    kinds, step = step_codes(reviews["step_type"])
    quality = quality_codes(
        reviews["correct"].to_numpy(), reviews["response_time_ms"].to_numpy(), step, kinds, sets[0]
    )
    single = reviews.with_columns(pl.Series("quality", quality))
    replay(single.head(10_000))  # warm-up: loads (or, on a fresh clone, compiles) the kernels
    batch_scores(reviews.head(10_000), sets[:2], held_out[:10_000], learners=10)
    began = time.perf_counter()
    replay(single, sets[0])
    one = time.perf_counter() - began
    began, began_cpu = time.perf_counter(), time.process_time()
    scores = batch_scores(reviews, sets, held_out, learners=1000)
    many, many_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    print(
        f"{len(sets)} parameter sets on {reviews.height:,} reviews in one pass: {many:.1f}s "
        f"({many / len(sets):.2f}s per set; {many_cpu:.1f} CPU seconds over {threads()} threads)"
    )
    print(
        f"one plain replay of the same reviews: {one:.2f}s; per set the batch takes "
        f"{many / len(sets) / one:.2f}x a plain replay "
        f"({len(sets) * reviews.height / many:,.0f} review-sets/s)"
    )
    print(
        f"best held-out log loss {scores.log_loss[:, 1].min():.4f}, "
        f"baseline {scores.log_loss[0, 1]:.4f}"
    )
    print(f"peak RSS: {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
