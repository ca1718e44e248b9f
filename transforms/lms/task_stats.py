"""`task_stats`: what retries and forgetting say about each task and question (lms.md
section 3), every rate with its Wilson 95% interval."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from transforms.metrics.common import wilson

USER = "user_id"
RECALL_GAP = timedelta(days=7)

TASK_STATS_SCHEMA: dict[str, pl.DataType] = {
    "course_id": pl.String(),
    "item_id": pl.String(),
    "kind": pl.String(),
    "learners": pl.Int32(),
    "attempts": pl.Int32(),
    "first_try_solvers": pl.Int32(),
    "first_try_solve_rate": pl.Float64(),
    "first_try_solve_rate_low": pl.Float64(),
    "first_try_solve_rate_high": pl.Float64(),
    "solvers": pl.Int32(),
    "eventual_solve_rate": pl.Float64(),
    "eventual_solve_rate_low": pl.Float64(),
    "eventual_solve_rate_high": pl.Float64(),
    "mean_tries_to_solve": pl.Float64(),
    "median_time_s": pl.Float64(),
    "recall_attempts": pl.Int32(),
    "recall_solved": pl.Int32(),
    "recall_after_gap": pl.Float64(),
    "recall_after_gap_low": pl.Float64(),
    "recall_after_gap_high": pl.Float64(),
}


def task_stats(events: pl.DataFrame) -> pl.DataFrame:
    """One row per (course_id, item_id) attempted: a task (`task_attempted`, kind `task`) or a
    question (`question_answered`, kind `question`). An attempt of a task is one event with
    `tries` tries, solved by `solved`; of a question, one answer, solved when `correct`.

    `learners`, `attempts`; `first_try_solve_rate` = learners whose first attempt solved it on
    its first try / learners; `eventual_solve_rate` = learners who ever solved it / learners;
    `mean_tries_to_solve` = over those learners, the tries up to and including their first
    solve (an answer is one try); `median_time_s` = median time spent per attempt
    (timeSpentMs); `recall_after_gap` = solved share of the attempts made 7+ days after the
    learner's previous solve of the item (the previous solve strictly before the attempt)."""
    is_task = pl.col("type") == "task_attempted"
    attempts = (
        events.filter(is_task | (pl.col("type") == "question_answered"))
        .select(
            USER,
            "course_id",
            pl.col("node_id").alias("item_id"),
            pl.when(is_task).then(pl.lit("task")).otherwise(pl.lit("question")).alias("kind"),
            "occurred_at",
            "event_id",
            pl.when(is_task).then(pl.col("tries").fill_null(1)).otherwise(1).alias("tries"),
            pl.when(is_task)
            .then(pl.col("solved"))
            .otherwise(pl.col("correct"))
            .fill_null(False)
            .alias("ok"),
            (pl.col("time_spent_ms") / 1000).alias("time_s"),
        )
        .sort(USER, "item_id", "occurred_at", "event_id")
    )
    if attempts.is_empty():
        return pl.DataFrame(schema=TASK_STATS_SCHEMA)
    per = [USER, "item_id"]
    solve_time = pl.when("ok").then(pl.col("occurred_at"))
    attempts = attempts.with_columns(
        solve_time.forward_fill().shift(1).over(per).alias("_previous_solve"),
        (pl.col("ok").cast(pl.Int32).cum_sum().over(per) - pl.col("ok").cast(pl.Int32)).alias(
            "_solves_before"
        ),
    )
    learners = attempts.group_by(per).agg(
        pl.col("course_id").first(),
        pl.col("kind").first(),
        (pl.col("ok").first() & (pl.col("tries").first() == 1)).alias("_first_try"),
        pl.col("ok").any().alias("_solved"),
        pl.col("tries").filter(pl.col("_solves_before") == 0).sum().alias("_tries_to_solve"),
    )
    gap = pl.col("occurred_at") - pl.col("_previous_solve") >= RECALL_GAP
    recall = attempts.filter(gap.fill_null(False))
    per_item = ["course_id", "item_id"]
    counts = attempts.group_by(per_item).agg(
        pl.col("kind").first(),
        pl.len().cast(pl.Int32).alias("attempts"),
        pl.col("time_s").median().alias("median_time_s"),
    )
    by_learner = learners.group_by(per_item).agg(
        pl.len().cast(pl.Int32).alias("learners"),
        pl.col("_first_try").sum().cast(pl.Int32).alias("first_try_solvers"),
        pl.col("_solved").sum().cast(pl.Int32).alias("solvers"),
        pl.col("_tries_to_solve").filter("_solved").mean().alias("mean_tries_to_solve"),
    )
    recalled = recall.group_by(per_item).agg(
        pl.len().cast(pl.Int32).alias("recall_attempts"),
        pl.col("ok").sum().cast(pl.Int32).alias("recall_solved"),
    )
    return (
        counts.join(by_learner, on=per_item)
        .join(recalled, on=per_item, how="left")
        .with_columns(pl.col("recall_attempts", "recall_solved").fill_null(0))
        .with_columns(
            *wilson("first_try_solvers", "learners", "first_try_solve_rate"),
            *wilson("solvers", "learners", "eventual_solve_rate"),
            *wilson("recall_solved", "recall_attempts", "recall_after_gap"),
        )
        .sort(per_item)
        .select(list(TASK_STATS_SCHEMA))
        .cast(TASK_STATS_SCHEMA)  # type: ignore[arg-type]
    )
