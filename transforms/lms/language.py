"""The language app as a course (lms.md section 1): each language's manifest versions become a
course tree `lang:<code>` (level → module, group → lesson under `all_tasks_solved`, word →
task), its attempts become `task_attempted` events, and a word counts as solved when it is
learned (its card's last graded review passed, metrics.md), from that review on."""

from __future__ import annotations

import polars as pl

from transforms.lms.courses import NODE_SCHEMA
from transforms.metrics.progress import learned_words
from transforms.metrics.status import language_course

SOLVES_COLUMNS = ("user_id", "course_id", "item_id", "solved_at")
USER = "user_id"


def language_versions(manifest_versions: pl.DataFrame) -> pl.DataFrame:
    """`course_versions` rows of the language courses."""
    return manifest_versions.select(
        language_course(pl.col("language")).alias("course_id"),
        pl.col("version").cast(pl.Int32),
        pl.lit(None, dtype=pl.String).alias("title"),
        "published_at",
        "in_force_until",
        pl.col("word_count").cast(pl.Int32).alias("node_count"),
        "content_hash",
        "source",
    )


def language_nodes(manifest_words: pl.DataFrame) -> pl.DataFrame:
    """`course_nodes` rows: per version, each level a module, each group a lesson and each
    word a task, in the manifest's order (`position` numbers them all in course order)."""
    words = manifest_words.with_columns(
        language_course(pl.col("language")).alias("course_id"),
        (language_course(pl.col("language")) + "/L" + pl.col("level").cast(pl.String)).alias(
            "module_id"
        ),
        (language_course(pl.col("language")) + "/" + pl.col("group_uid")).alias("lesson_id"),
    )
    keys = ["course_id", "version"]
    modules = words.group_by(*keys, "module_id").agg(
        pl.col("position").min().alias("_at"), pl.col("level_title").first().alias("title")
    )
    lessons = words.group_by(*keys, "module_id", "lesson_id").agg(
        pl.col("position").min().alias("_at"),
        pl.col("group_title").first().alias("title"),
        pl.len().cast(pl.Float64).alias("max_points"),
    )
    frames = [
        modules.select(
            *keys,
            pl.col("module_id").alias("node_id"),
            pl.lit("module").alias("kind"),
            pl.lit(None, dtype=pl.String).alias("parent_id"),
            "module_id",
            pl.lit(None, dtype=pl.String).alias("lesson_id"),
            "title",
            pl.lit(None, dtype=pl.Float64).alias("max_points"),
            pl.lit(None, dtype=pl.String).alias("rule"),
            "_at",
            pl.lit(0).alias("_rank"),
        ),
        lessons.select(
            *keys,
            pl.col("lesson_id").alias("node_id"),
            pl.lit("lesson").alias("kind"),
            pl.col("module_id").alias("parent_id"),
            "module_id",
            "lesson_id",
            "title",
            "max_points",
            pl.lit("all_tasks_solved").alias("rule"),
            "_at",
            pl.lit(1).alias("_rank"),
        ),
        words.select(
            *keys,
            pl.col("word_uid").alias("node_id"),
            pl.lit("task").alias("kind"),
            pl.col("lesson_id").alias("parent_id"),
            "module_id",
            "lesson_id",
            pl.col("text").alias("title"),
            pl.lit(1.0).alias("max_points"),
            pl.lit(None, dtype=pl.String).alias("rule"),
            pl.col("position").alias("_at"),
            pl.lit(2).alias("_rank"),
        ),
    ]
    nodes = (
        pl.concat(frames, how="vertical_relaxed")
        .sort(*keys, "_at", "_rank")
        .with_columns(pl.int_range(1, pl.len() + 1).over(keys).cast(pl.Int32).alias("position"))
        .drop("_at", "_rank")
        .with_columns(pl.lit(False).alias("optional"))
    )
    missing = [
        pl.lit(None, dtype=t).alias(c) for c, t in NODE_SCHEMA.items() if c not in nodes.columns
    ]
    return nodes.with_columns(missing).select([pl.col(c).cast(t) for c, t in NODE_SCHEMA.items()])


def attempt_events(attempts: pl.DataFrame) -> pl.DataFrame:
    """Each attempt as a `task_attempted` event (tries 1, time = response time)."""
    return attempts.select(
        pl.col("uuid_local").alias("event_id"),
        "user_id",
        language_course(pl.col("language")).alias("course_id"),
        pl.lit("task_attempted").alias("type"),
        pl.col("attempted_at").alias("occurred_at"),
        pl.col("word_uid").alias("node_id"),
        "session_id",
        pl.lit(None, dtype=pl.String).alias("platform"),
        pl.lit(None, dtype=pl.Int64).alias("duration_ms"),
        pl.lit(None, dtype=pl.Int64).alias("position"),
        pl.lit(1, dtype=pl.Int32).alias("tries"),
        pl.col("response_time_ms").cast(pl.Int64).alias("time_spent_ms"),
        pl.col("correct").alias("solved"),
        pl.lit(None, dtype=pl.Float64).alias("score"),
        pl.lit(None, dtype=pl.Float64).alias("max_score"),
        pl.lit(None, dtype=pl.String).alias("attempt_id"),
        pl.lit(None, dtype=pl.Boolean).alias("correct"),
        *(pl.lit(None, dtype=pl.String).alias(c) for c in ("response", "submission_id")),
        pl.lit(None, dtype=pl.String).alias("grader_id"),
    )


def learned_solves(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """(user_id, course_id, item_id, solved_at) of every learned word: solved from the last
    graded review, which passed."""
    last = (
        reviews.sort("review_index")
        .group_by("user_id", "language", "word_uid")
        .agg(pl.col("reviewed_at").last().alias("solved_at"))
    )
    learned = learned_words(reviews, pass_quality).filter("learned")
    return learned.join(last, on=["user_id", "language", "word_uid"]).select(
        "user_id",
        language_course(pl.col("language")).alias("course_id"),
        pl.col("word_uid").alias("item_id"),
        "solved_at",
    )


def card_states(reviews: pl.DataFrame) -> pl.DataFrame:
    """(user_id, item_id, last_quality, easiness, interval_days, next_due_at): each card's
    SM-2 state after its last graded review (`reviews` with the replay's `ef_after`,
    `interval_days` and `due_at`)."""
    return (
        reviews.sort("review_index")
        .group_by("user_id", "word_uid")
        .agg(
            pl.col("quality").last().cast(pl.Int32).alias("last_quality"),
            pl.col("ef_after").last().alias("easiness"),
            pl.col("interval_days").last(),
            pl.col("due_at").last().alias("next_due_at"),
        )
        .rename({"word_uid": "item_id"})
    )


def word_task_state(
    events: pl.LazyFrame, solves: pl.DataFrame, cards: pl.DataFrame
) -> pl.LazyFrame:
    """`task_state` rows of the language courses, one per (user_id, task_id = word) attempted:
    the attempts counted as any task's (each one try; success = correct), `solved` from when
    the word is learned (`solves`), and the retry queue from the word's SM-2 card (`cards`,
    the engine's own state): `next_due_at`, `easiness`, `interval_days` and
    `queue_priority` = 5 − the last graded review's quality."""
    solved = pl.col("solved")
    counted = (
        events.filter(pl.col("type") == "task_attempted")
        .group_by(USER, "course_id", pl.col("node_id").alias("task_id"))
        .agg(
            pl.col("lesson_id").first(),
            pl.col("module_id").first(),
            solved.sum().cast(pl.Int32).alias("success_count"),
            (~solved).sum().cast(pl.Int32).alias("failure_count"),
            pl.col("tries").sum().cast(pl.Int32).alias("total_tries"),
            pl.col("time_spent_ms").sum().alias("total_time_ms"),
            pl.col("time_spent_ms").mean().alias("average_time_ms"),
            pl.col("occurred_at").min().alias("first_attempt_at"),
            pl.col("occurred_at").max().alias("last_attempt_at"),
        )
    )
    learned = solves.lazy().select(USER, pl.col("item_id").alias("task_id"), "solved_at")
    return (
        counted.join(learned, on=[USER, "task_id"], how="left")
        .join(cards.lazy().rename({"item_id": "task_id"}), on=[USER, "task_id"], how="left")
        .with_columns(
            pl.when(pl.col("solved_at").is_not_null())
            .then(pl.lit("solved"))
            .otherwise(pl.lit("in_progress"))
            .alias("status"),
            (5 - pl.col("last_quality")).alias("queue_priority"),
        )
    )
