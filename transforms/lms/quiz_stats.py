"""`quiz_stats` and `quiz_item_stats`: Moodle's quiz statistics (lms.md section 3), per basis.

A basis picks which completed attempts count: each learner's `first`, `highest` (best score,
the earliest on ties), `last`, or `all` (each attempt as if a different learner made it). Every
counted attempt scores every question of the quiz's newest version in force: its last answer's
credit × the question's points, 0 when unanswered. With s counted attempts, x an item's marks
and r = T − x the rest of the test (T the attempt's total):

- item: facility = mean(x) / max points; sd = sd(x) / max points; discrimination_index =
  100 · cov(x, r) / √(var x · var r); discriminative_efficiency = 100 · cov(x, r) / cov(x↑, r↑)
  (x↑, r↑ each sorted: the largest covariance the two marginals allow);
- quiz: k₂, k₃, k₄ from the central moments of T (lms.md), skewness = k₃ / k₂^1.5, kurtosis =
  k₄ / k₂², cronbach_alpha = k/(k−1) · (1 − Σ var x / k₂), error_ratio = 100 · √(1 − alpha),
  standard_error = error_ratio / 100 · sd.

Variances and covariances use s − 1. A statistic that needs a variance is null with fewer than 2
attempts or when that variance is zero (never an error); flags need `MIN_FLAG_ATTEMPTS`.
"""

from __future__ import annotations

import polars as pl

USER = "user_id"
BASES = ("first", "highest", "last", "all")
MIN_FLAG_ATTEMPTS = 30  # a flag on a handful of attempts misleads (lms.md)
ZERO = 1e-12  # a variance or covariance below this is zero (floating-point noise)

ITEM_SCHEMA: dict[str, pl.DataType] = {
    "basis": pl.String(),
    "course_id": pl.String(),
    "quiz_id": pl.String(),
    "question_id": pl.String(),
    "question_position": pl.Int32(),
    "max_points": pl.Float64(),
    "n": pl.Int32(),
    "facility": pl.Float64(),
    "sd": pl.Float64(),
    "random_guess": pl.Float64(),
    "discrimination_index": pl.Float64(),
    "discriminative_efficiency": pl.Float64(),
    "full_credit": pl.Int32(),
    "partial_credit": pl.Int32(),
    "no_credit": pl.Int32(),
    "unanswered": pl.Int32(),
    "flags": pl.String(),
}
QUIZ_SCHEMA: dict[str, pl.DataType] = {
    "basis": pl.String(),
    "course_id": pl.String(),
    "quiz_id": pl.String(),
    "n": pl.Int32(),
    "questions": pl.Int32(),
    "max_points": pl.Float64(),
    "mean": pl.Float64(),
    "median": pl.Float64(),
    "sd": pl.Float64(),
    "skewness": pl.Float64(),
    "kurtosis": pl.Float64(),
    "cronbach_alpha": pl.Float64(),
    "error_ratio": pl.Float64(),
    "standard_error": pl.Float64(),
}


def counted_attempts(done: pl.DataFrame) -> pl.DataFrame:
    """(basis, aid): the completed attempts (`done`, numbered by `aid`) each basis counts, the
    basis as its index in `BASES`: each learner's first, highest (best score, earliest on
    ties), last, and every attempt."""
    per_learner = [USER, "quiz_id"]
    by_number = done.sort("attempt_number")
    best = done.sort(
        [pl.col("score_percent").fill_null(0.0), "attempt_number"], descending=[True, False]
    )
    picks = [
        by_number.group_by(per_learner).agg(pl.col("aid").first()),
        best.group_by(per_learner).agg(pl.col("aid").first()),
        by_number.group_by(per_learner).agg(pl.col("aid").last()),
        done,
    ]
    return pl.concat(
        [
            frame.select(pl.lit(i, dtype=pl.Int8).alias("basis"), "aid")
            for i, frame in enumerate(picks)
        ]
    )


def attempt_marks(
    done: pl.DataFrame, answers: pl.DataFrame, questions: pl.DataFrame
) -> pl.DataFrame:
    """One row per (aid, qid): every question (`questions`, numbered by `qid`) of each completed
    attempt's quiz, with `mark` (the last answer's credit, score / max_score clipped to 0..1,
    × the question's points; 0 unanswered), `credit` (that fraction, null unanswered), `rest`
    (the attempt's total minus this mark) and the dense ranks of mark and rest over all rows
    (sort keys for the largest covariance)."""
    credit = (
        pl.when(pl.col("max_score") > 0)
        .then(pl.col("score") / pl.col("max_score"))
        .otherwise(pl.col("score"))
        .clip(0.0, 1.0)
        .fill_null(0.0)
    )
    given = (
        answers.join(
            done.select(USER, "quiz_id", "attempt_id", "aid"), on=[USER, "quiz_id", "attempt_id"]
        )
        .join(questions.select("question_id", "qid"), on="question_id")
        .select("aid", "qid", credit.alias("credit"))
    )
    return (
        done.select("aid", "quiz_id")
        .join(questions.select("quiz_id", "qid", "question_points"), on="quiz_id")
        .join(given, on=["aid", "qid"], how="left")
        .select(
            "aid",
            "qid",
            "credit",
            (pl.col("credit").fill_null(0.0) * pl.col("question_points")).alias("mark"),
        )
        .with_columns((pl.col("mark").sum().over("aid") - pl.col("mark")).alias("rest"))
        .with_columns(
            pl.col("mark").rank("dense").cast(pl.UInt64).alias("mark_rank"),
            pl.col("rest").rank("dense").cast(pl.UInt64).alias("rest_rank"),
        )
    )


def _cov(a: str, b: str) -> pl.Expr:
    """Sample covariance (n − 1) within a group, from sums."""
    n = pl.len().cast(pl.Float64)
    return ((pl.col(a) * pl.col(b)).sum() - pl.col(a).sum() * pl.col(b).sum() / n) / (n - 1)


def item_stats(marks: pl.DataFrame, questions: pl.DataFrame) -> pl.DataFrame:
    """One row per (basis, qid) with a counted attempt. `marks`: (basis, aid) joined to
    `attempt_marks`. The largest covariance the marginals allow pairs the i-th smallest mark
    with the i-th smallest rest: each column sorted within (basis, qid) by one sort on a single
    integer key (group × 2³² + the value's dense rank), then set side by side."""
    group = ["basis", "qid"]
    gid = pl.col("basis").cast(pl.UInt64) * questions.height + pl.col("qid").cast(pl.UInt64)
    keyed = marks.with_columns((gid * (1 << 32)).alias("_gid"))
    sorted_marks = keyed.select(
        *group, "mark", (pl.col("_gid") + pl.col("mark_rank")).alias("_k")
    ).sort("_k")
    sorted_rests = keyed.select((pl.col("_gid") + pl.col("rest_rank")).alias("_k"), "rest").sort(
        "_k"
    )
    paired = sorted_marks.select(*group, "mark").with_columns(sorted_rests["rest"])
    cov_max = paired.group_by(group).agg(_cov("mark", "rest").alias("_cov_max"))
    credit = pl.col("credit")
    stats = (
        keyed.group_by(group)
        .agg(
            pl.len().cast(pl.Int32).alias("n"),
            pl.col("mark").mean().alias("_mean"),
            pl.col("mark").var(ddof=1).alias("_var"),
            pl.col("rest").var(ddof=1).alias("_var_rest"),
            _cov("mark", "rest").alias("_cov"),
            (credit >= 1.0).sum().cast(pl.Int32).alias("full_credit"),
            ((credit > 0.0) & (credit < 1.0)).sum().cast(pl.Int32).alias("partial_credit"),
            (credit <= 0.0).sum().cast(pl.Int32).alias("no_credit"),
            credit.is_null().sum().cast(pl.Int32).alias("unanswered"),
        )
        .join(cov_max, on=group)
        .join(questions, on="qid")
        .rename({"question_points": "max_points"})
    )
    many = pl.col("n") >= 2
    points = pl.col("max_points")
    var, var_rest, cov, top = (pl.col(c) for c in ("_var", "_var_rest", "_cov", "_cov_max"))
    varied = many & (var > ZERO) & (var_rest > ZERO)
    return stats.with_columns(
        pl.when(points > 0).then(pl.col("_mean") / points).alias("facility"),
        pl.when(many & (points > 0)).then(var.clip(0.0).sqrt() / points).alias("sd"),
        pl.when(pl.col("options") >= 2).then(1.0 / pl.col("options")).alias("random_guess"),
        pl.when(varied).then(100 * cov / (var * var_rest).sqrt()).alias("discrimination_index"),
        pl.when(many & (top.abs() > ZERO)).then(100 * cov / top).alias("discriminative_efficiency"),
    )


def item_flags() -> pl.Expr:
    """The flags in words, "; "-separated (null when none or too few attempts): discrimination
    < 0 likely mis-keyed, < 30 very likely needs revision, < 50 likely needs revision (the
    worst one); discriminative efficiency < 15 dubious; facility < 0.3 hard, > 0.9 easy."""
    d = pl.col("discrimination_index")
    words = pl.concat_list(
        pl.when(d < 0)
        .then(pl.lit("likely mis-keyed"))
        .when(d < 30)
        .then(pl.lit("very likely needs revision"))
        .when(d < 50)
        .then(pl.lit("likely needs revision")),
        pl.when(pl.col("discriminative_efficiency") < 15).then(pl.lit("dubious")),
        pl.when(pl.col("facility") < 0.3)
        .then(pl.lit("hard"))
        .when(pl.col("facility") > 0.9)
        .then(pl.lit("easy")),
    ).list.drop_nulls()
    return (
        pl.when((pl.col("n") >= MIN_FLAG_ATTEMPTS) & (words.list.len() > 0))
        .then(words.list.join("; "))
        .alias("flags")
    )


def quiz_totals(marks: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """One row per (basis, quiz_id) with a counted attempt. mean, median, sd and
    standard_error are in percent of the quiz's max points (as Moodle shows them)."""
    # sorted: every sum below adds its terms in one order (a float sum is not associative)
    totals = (
        marks.group_by("basis", "aid")
        .agg((pl.col("mark") + pl.col("rest")).first().alias("total"), pl.col("qid").first())
        .sort("basis", "aid")
    )
    per_item = (
        items.sort("basis", "quiz_id", "qid")
        .group_by("basis", "quiz_id")
        .agg(
            pl.len().cast(pl.Int32).alias("questions"),
            pl.col("max_points").sum(),
            pl.col("_var").sum().alias("_sum_var"),
        )
    )
    quiz_of = items.select("qid", "quiz_id").unique()
    t = pl.col("total")
    d = t - t.mean()
    moments = (
        totals.join(quiz_of, on="qid")
        .group_by("basis", "quiz_id")
        .agg(
            pl.len().cast(pl.Int32).alias("n"),
            t.mean().alias("_mean"),
            t.median().alias("_median"),
            (d**2).mean().alias("_m2"),
            (d**3).mean().alias("_m3"),
            (d**4).mean().alias("_m4"),
        )
    )
    s = pl.col("n").cast(pl.Float64)
    m2, m3, m4 = pl.col("_m2"), pl.col("_m3"), pl.col("_m4")
    k2 = s * m2 / (s - 1)
    k3 = s**2 * m3 / ((s - 1) * (s - 2))
    k4 = s**2 * ((s + 1) * m4 - 3 * (s - 1) * m2**2) / ((s - 1) * (s - 2) * (s - 3))
    k = pl.col("questions").cast(pl.Float64)
    varied = (pl.col("n") >= 2) & (pl.col("_m2") > ZERO)
    pct = pl.when(pl.col("max_points") > 0).then(100 / pl.col("max_points"))
    alpha = pl.when(varied & (k >= 2)).then(k / (k - 1) * (1 - pl.col("_sum_var") / k2))
    return (
        moments.join(per_item, on=["basis", "quiz_id"])
        .with_columns(
            (pl.col("_mean") * pct).alias("mean"),
            (pl.col("_median") * pct).alias("median"),
            pl.when(pl.col("n") >= 2).then(k2.sqrt() * pct).alias("sd"),
            pl.when(varied & (pl.col("n") > 2)).then(k3 / k2**1.5).alias("skewness"),
            pl.when(varied & (pl.col("n") > 3)).then(k4 / k2**2).alias("kurtosis"),
            alpha.alias("cronbach_alpha"),
        )
        .with_columns(
            pl.when(pl.col("cronbach_alpha") <= 1)
            .then((1 - pl.col("cronbach_alpha")).sqrt() * 100)
            .alias("error_ratio")
        )
        .with_columns((pl.col("error_ratio") / 100 * pl.col("sd")).alias("standard_error"))
    )


def quiz_statistics(
    attempts: pl.DataFrame, answers: pl.DataFrame, questions: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`quiz_stats`, `quiz_item_stats`) from `quiz_attempts`, the last answers
    (`transforms.lms.quizzes.last_answers`) and the quizzes' questions (`quiz_questions`).
    Attempts and questions are numbered (`aid`, `qid`) so the heavy joins and sorts run on
    integers."""
    done = (
        attempts.filter(pl.col("status") == "completed")
        .select(USER, "quiz_id", "attempt_id", "attempt_number", "score_percent")
        .with_row_index("aid")
    )
    if done.is_empty() or questions.is_empty():
        return pl.DataFrame(schema=QUIZ_SCHEMA), pl.DataFrame(schema=ITEM_SCHEMA)
    numbered = questions.with_row_index("qid")
    courses = attempts.group_by("quiz_id").agg(pl.col("course_id").first())
    marks = counted_attempts(done).join(attempt_marks(done, answers, numbered), on="aid")
    items = item_stats(marks, numbered)
    quiz = quiz_totals(marks, items)
    basis = pl.col("basis").replace_strict(list(range(len(BASES))), list(BASES))
    item_table = (
        items.join(courses, on="quiz_id", how="left")
        .with_columns(item_flags())
        .sort("quiz_id", "basis", "question_position", "question_id")
        .with_columns(basis)
        .select(list(ITEM_SCHEMA))
        .cast(ITEM_SCHEMA)  # type: ignore[arg-type]
    )
    quiz_table = (
        quiz.join(courses, on="quiz_id", how="left")
        .sort("quiz_id", "basis")
        .with_columns(basis)
        .select(list(QUIZ_SCHEMA))
        .cast(QUIZ_SCHEMA)  # type: ignore[arg-type]
    )
    return quiz_table, item_table
