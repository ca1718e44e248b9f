"""`python -m landing.generate --out FOLDER [--learners N] [--seed S] ...`"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import datetime
from pathlib import Path

from landing.generate.landing import GeneratorConfig, generate_landing
from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing


def main(argv: list[str] | None = None) -> None:
    defaults = GeneratorConfig()
    parser = argparse.ArgumentParser(description="Write a realistic landing folder.")
    parser.add_argument("--out", type=Path, required=True, help="landing folder to write")
    parser.add_argument(
        "--learners",
        type=int,
        default=defaults.learners,
        help="learners (about 700 attempts each over the default 91 days)",
    )
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--start", type=datetime.fromisoformat, default=defaults.start)
    parser.add_argument(
        "--words",
        type=int,
        default=defaults.words_per_language,
        help="words in each language's first manifest version",
    )
    parser.add_argument("--languages", default=",".join(defaults.languages))
    parser.add_argument("--dirty-share", type=float, default=defaults.dirty_share)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--block-learners",
        type=int,
        default=defaults.block_learners,
        help="learners simulated at once (bounds memory)",
    )
    parser.add_argument(
        "--lms-learners",
        type=int,
        default=LmsGeneratorConfig().learners,
        help="course-platform learners (courses/, events/, xapi/, paths/); 0 writes none",
    )
    parser.add_argument("--clean", action="store_true", help="empty the folder first")
    args = parser.parse_args(argv)
    if args.clean and args.out.exists():
        shutil.rmtree(args.out)
    config = GeneratorConfig(
        learners=args.learners,
        days=args.days,
        start=args.start,
        words_per_language=args.words,
        languages=tuple(args.languages.split(",")),
        dirty_share=args.dirty_share,
        seed=args.seed,
        block_learners=args.block_learners,
    )
    began = time.perf_counter()
    result = generate_landing(args.out, config)
    seconds = time.perf_counter() - began
    print(
        f"wrote {result.attempts_written:,} attempt rows in {result.files} files for "
        f"{result.learners:,} learners to {args.out} in {seconds:.1f}s "
        f"({result.attempts_written / max(seconds, 1e-9):,.0f} rows/s)"
    )
    if args.lms_learners > 0:
        lms = generate_lms_landing(
            args.out,
            LmsGeneratorConfig(
                learners=args.lms_learners, days=args.days, start=args.start, seed=args.seed
            ),
        )
        print(
            f"wrote {lms.events_written:,} course-platform events, {lms.statements_written:,} "
            f"xAPI statements and {lms.dirty_rows} dirty rows for {args.lms_learners:,} learners"
        )


if __name__ == "__main__":
    main()
