"""`task_state` (the retry queue on the SM-2 engine) and `task_queue` (what is due, in order)."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.lms.activity import id_key, row_order
from transforms.sm2 import SM2Params, replay

USER = "user_id"
STATUSES = ("new", "in_progress", "solved")


MEDIAN = "median_time_ms"  # a task's median attempt time over every learner (`task_medians`)


def attempt_quality(median: pl.Expr | None = None) -> pl.Expr:
    """SM-2 quality of a task attempt (lms.md): a failure 1; a solve on a later try 3; a
    first-try solve 5 when faster than the task's median attempt time (over every learner:
    `median`, else the median of the attempts at hand), else 4 (the grade SM-2's own grading
    gives a correct but slower answer)."""
    if median is None:
        median = pl.col("time_spent_ms").median().over("node_id")
    return (
        pl.when(~pl.col("solved"))
        .then(1)
        .when(pl.col("tries") > 1)
        .then(3)
        .when(pl.col("time_spent_ms") < median)
        .then(5)
        .otherwise(4)
        .cast(pl.Int8)
        .alias("quality")
    )


def task_state(
    events: pl.DataFrame | pl.LazyFrame,
    params: SM2Params | None = None,
    medians: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per (user_id, task_id) with a `task_attempted` event. Every attempt is an SM-2
    review (`transforms.sm2.replay`, quality from `attempt_quality`): a failed task comes back
    a day later (`lapse_interval`), a solved one at its SM-2 interval; `next_due_at` is the
    last review's due time. `queue_priority` = 5 − the last attempt's quality (a task failed
    last comes first). Only the attempts' columns are sorted (by card, then time, then event
    id), on the ids' integer codes (`id_key`). `medians` (node_id, median_time_ms): every
    learner's median per task, given when `events` hold only some learners'."""
    card = ["_user", "_course", "_task"]
    schema = events.lazy().collect_schema()
    tasks = events.lazy().filter(pl.col("type") == "task_attempted")
    median = None
    if medians is not None:
        # the medians' ids in the events' id type (an Enum of the ids in force: a task that is
        # not one has no events here, so its median is dropped), joined as integers
        node_type = schema["node_id"]
        tasks = tasks.join(
            medians.lazy()
            .select(pl.col("node_id").cast(node_type, strict=False), MEDIAN)
            .drop_nulls("node_id"),
            on="node_id",
            how="left",
        )
        median = pl.col(MEDIAN)
    attempts = (
        tasks.select(
            USER,
            "course_id",
            "node_id",
            "lesson_id",
            "module_id",
            "occurred_at",
            "event_id",
            "solved",
            "tries",
            "time_spent_ms",
            attempt_quality(median),
        )
        .with_columns(
            id_key(c, schema[c]).alias(k)
            for c, k in zip((USER, "course_id", "node_id"), card, strict=True)
        )
        .collect()
    )
    event_ids = attempts["event_id"]
    order = row_order(attempts, [*card, "occurred_at"], event_ids.gather)
    changed = pl.any_horizontal(pl.col(c) != pl.col(c).shift(1) for c in card).fill_null(True)
    # rows in card order: each card's number is sorted, so its groups are slices, not hashes
    card_number = changed.cum_sum().alias("_card").set_sorted()
    attempts = attempts.drop("event_id")[order].with_columns(card_number)
    reviews = attempts.select(
        pl.col("_card").alias("card_id"), pl.col("occurred_at").alias("reviewed_at"), "quality"
    )
    replayed = (
        replay(reviews, params)
        if reviews.height
        else reviews.with_columns(
            pl.lit(None, dtype=pl.Datetime("us")).alias("due_at"),
            pl.lit(None, dtype=pl.Float64).alias("interval_days"),
            pl.lit(None, dtype=pl.Float64).alias("ef_after"),
        )
    )
    scheduled = attempts.with_columns(
        replayed["due_at"].alias("_due"),
        replayed["interval_days"].alias("_interval"),
        replayed["ef_after"].alias("_ef"),
    )
    solved = pl.col("solved")
    return (
        scheduled.group_by("_card", maintain_order=True)
        .agg(
            pl.col(USER).first(),
            pl.col("course_id").first(),
            pl.col("node_id").first().alias("task_id"),
            pl.col("lesson_id").last(),
            pl.col("module_id").last(),
            solved.any().alias("_solved"),
            solved.sum().cast(pl.Int32).alias("success_count"),
            (~solved).sum().cast(pl.Int32).alias("failure_count"),
            pl.col("tries").sum().cast(pl.Int32).alias("total_tries"),
            pl.col("time_spent_ms").sum().alias("total_time_ms"),
            pl.col("time_spent_ms").mean().alias("average_time_ms"),
            pl.col("occurred_at").first().alias("first_attempt_at"),
            pl.col("occurred_at").last().alias("last_attempt_at"),
            pl.col("occurred_at").filter(solved).first().alias("solved_at"),
            pl.col("quality").last().cast(pl.Int32).alias("last_quality"),
            pl.col("_ef").last().alias("easiness"),
            pl.col("_interval").last().alias("interval_days"),
            pl.col("_due").last().alias("next_due_at"),
        )
        .with_columns(
            pl.when("_solved")
            .then(pl.lit("solved"))
            .otherwise(pl.lit("in_progress"))
            .alias("status"),
            (5 - pl.col("last_quality")).alias("queue_priority"),
        )
        .drop("_card", "_solved")
        .sort(USER, "task_id")
    )


def task_queue(
    state: pl.DataFrame, enroll: pl.DataFrame, current: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    """One row per (user_id, course_id, task_id) due as of (`next_due_at` <= as of) for a
    learner not withdrawn from the course, of a task in the course's current version, in the
    order to take them: `queue_priority` desc, overdue days desc, course order; `queue_rank`
    numbers them per (user_id, course_id) from 1."""
    open_courses = enroll.filter(pl.col("status") != "withdrawn").select(USER, "course_id")
    order = current.select("course_id", pl.col("node_id").alias("task_id"), "position")
    overdue = (pl.lit(as_of) - pl.col("next_due_at")).dt.total_seconds() / 86400
    return (
        state.filter(pl.col("next_due_at") <= as_of)
        .join(open_courses, on=[USER, "course_id"])
        .join(order, on=["course_id", "task_id"])
        .with_columns(overdue.alias("overdue_days"))
        .sort(
            [USER, "course_id", "queue_priority", "overdue_days", "position"],
            descending=[False, False, True, True, False],
        )
        .with_columns(
            pl.int_range(1, pl.len() + 1).over(USER, "course_id").cast(pl.Int32).alias("queue_rank")
        )
        .select(
            USER,
            "course_id",
            "task_id",
            "lesson_id",
            "module_id",
            "queue_rank",
            "queue_priority",
            "next_due_at",
            "overdue_days",
            pl.col("position").alias("course_position"),
        )
    )
