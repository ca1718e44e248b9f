"""Quiz statistics benchmark: `quiz_stats` and `quiz_item_stats` (four bases) over N question
answers, against DuckDB merely reading the same rows into Polars (the floor); printed, never
asserted.

    python benchmarks/quiz.py [--answers 1000000] [--questions 10] [--quizzes 25]

Answers are synthesized vectorized (learners answer by a 1PL-like model, one to three
attempts per learner and quiz, 5% of questions left unanswered) and stored in a DuckDB file as
the `quiz_attempts` table and the attempts' last answers; each step runs in a child process so
the peak memory printed is its own. Wall and CPU seconds are both printed: on a shared machine
the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from benchmarks.common import peak_rss_mb, run_child  # noqa: E402

ANSWER_SQL = "SELECT user_id, quiz_id, attempt_id, question_id, score, max_score FROM quiz_answers"
ATTEMPT_SQL = (
    "SELECT user_id, course_id, quiz_id, attempt_id, attempt_number, status, score_percent "
    "FROM quiz_attempts"
)


def synthesize(
    answers: int, questions: int, quizzes: int, seed: int = 5
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(attempts, last answers, questions) with about `answers` answer rows."""
    rng = np.random.default_rng(seed)
    mean_attempts = 2.0
    learners = max(1, int(answers / (quizzes * questions * mean_attempts * 0.95)))
    pairs = learners * quizzes
    attempts_per = rng.integers(1, 4, pairs)  # 1..3 attempts per (learner, quiz)
    pair = np.repeat(np.arange(pairs), attempts_per)
    starts = np.cumsum(attempts_per) - attempts_per
    attempt_number = np.arange(pair.size) - np.repeat(starts, attempts_per) + 1
    learner, quiz = pair // quizzes, pair % quizzes
    ability = rng.normal(size=learners)[learner] + 0.3 * (attempt_number - 1)
    difficulty = rng.normal(size=(quizzes, questions))
    n_attempts = pair.size
    p = 1 / (1 + np.exp(-(ability[:, None] - difficulty[quiz])))
    right = rng.random((n_attempts, questions)) < p
    answered = rng.random((n_attempts, questions)) >= 0.05
    row, col = np.nonzero(answered)
    attempt_ids = pl.Series(np.arange(n_attempts)).cast(pl.String)
    quiz_ids = pl.Series([f"c{q % 5}/m1/quiz{q}" for q in range(quizzes)])
    answer_frame = pl.DataFrame(
        {
            "user_id": pl.Series(learner[row]).cast(pl.String),
            "quiz_id": quiz_ids[quiz[row]],
            "attempt_id": attempt_ids[row],
            "question_id": quiz_ids[quiz[row]] + "/q" + pl.Series(col).cast(pl.String),
            "score": right[row, col].astype(np.float64),
            "max_score": np.ones(row.size),
        }
    )
    points = np.where(answered, right, False).sum(axis=1)
    attempts = pl.DataFrame(
        {
            "user_id": pl.Series(learner).cast(pl.String),
            "course_id": pl.Series([f"c{q % 5}" for q in quiz]),
            "quiz_id": quiz_ids[quiz],
            "attempt_id": attempt_ids,
            "attempt_number": pl.Series(attempt_number, dtype=pl.Int32),
            "status": pl.Series(np.where(rng.random(n_attempts) < 0.97, "completed", "abandoned")),
            "score_percent": points / questions * 100,
        }
    )
    question_frame = pl.DataFrame(
        {
            "quiz_id": quiz_ids[np.repeat(np.arange(quizzes), questions)],
            "question_id": [
                f"{quiz_ids[q]}/q{k}" for q in range(quizzes) for k in range(questions)
            ],
            "question_points": np.ones(quizzes * questions),
            "options": pl.Series([4] * (quizzes * questions), dtype=pl.Int32),
            "question_position": pl.Series(
                [k + 1 for _ in range(quizzes) for k in range(questions)], dtype=pl.Int32
            ),
        }
    )
    return attempts, answer_frame, question_frame


def child(step: str, warehouse: str) -> None:
    import duckdb

    from transforms.lms.quiz_stats import quiz_statistics
    from transforms.warehouse import query

    con = duckdb.connect(warehouse, read_only=True)
    began = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    out: dict[str, float] = {}
    answers = query(con, ANSWER_SQL)
    attempts = query(con, ATTEMPT_SQL)
    out["rows"] = answers.height
    if step == "stats":
        questions = query(con, "SELECT * FROM quiz_questions")
        quiz, items = quiz_statistics(attempts, answers, questions)
        out["quiz_rows"], out["item_rows"] = quiz.height, items.height
    out["seconds"] = time.perf_counter() - began
    out["peak_rss_mb"] = peak_rss_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_s"] = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--quizzes", type=int, default=25)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    import duckdb

    began = time.perf_counter()
    attempts, answers, questions = synthesize(args.answers, args.questions, args.quizzes)
    print(
        f"quiz statistics benchmark: {answers.height:,} answers, {attempts.height:,} attempts, "
        f"{args.quizzes} quizzes x {args.questions} questions "
        f"(synthesized in {time.perf_counter() - began:.1f}s)"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-quiz-"))
    try:
        warehouse = str(work / "warehouse.duckdb")
        con = duckdb.connect(warehouse)
        for name, frame in (
            ("quiz_answers", answers),
            ("quiz_attempts", attempts),
            ("quiz_questions", questions),
        ):
            con.register("_frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        con.close()
        floor = run_child(__file__, "floor", warehouse)
        stats = run_child(__file__, "stats", warehouse)
        print(
            f"quiz_stats + quiz_item_stats (4 bases): {stats['seconds']:.2f}s "
            f"(CPU {stats['cpu_s']:.2f}s) = {stats['rows'] / stats['seconds']:,.0f} answers/s, "
            f"{stats['quiz_rows']:.0f} quiz rows, {stats['item_rows']:.0f} item rows, "
            f"peak {stats['peak_rss_mb']:,.0f} MiB | DuckDB reading the same rows into Polars: "
            f"{floor['seconds']:.2f}s (CPU {floor['cpu_s']:.2f}s), peak "
            f"{floor['peak_rss_mb']:,.0f} MiB | ratio {stats['seconds'] / floor['seconds']:.1f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
