"""`learning_events` (lms.md section 3): the events the pipeline publishes to the app's services,
and the per-run outbox `$PROGRESS_OUTBOX/<run>.jsonl`.

Each event's `event_id` is a hash of its type and keys (`ProgressUpdated`: user, lesson and the
status reached; `AchievementEarned`: user, badge and context; …), so recomputing the tables
from the same history yields the same ids and a rerun publishes nothing; a new day publishes
only the events it made true. `learning_events` accumulates: an event keeps the run that first
published it (`first_published_run`) and its first payload.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transforms.failpoints import crash_point
from transforms.lms.activity import USER

EVENT_TYPES: tuple[str, ...] = (
    "ProgressUpdated",
    "ModuleCompleted",
    "CourseCompleted",
    "QuizCompleted",
    "AssignmentSubmitted",
    "AchievementEarned",
    "CompetencyAcquired",
)
CANDIDATE_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "type": pl.String(),
    USER: pl.String(),
    "course_id": pl.String(),
    "occurred_at": pl.Datetime("us"),
    "payload": pl.String(),
}
PUBLISHED_SCHEMA: dict[str, pl.DataType] = {
    **CANDIDATE_SCHEMA,
    "first_published_run": pl.String(),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _events(
    frame: pl.DataFrame,
    etype: str,
    keys: Sequence[str],
    at: str,
    payload: Sequence[str],
    course: str | None = "course_id",
) -> pl.DataFrame:
    """One published event per row of `frame` with `at` set: id = sha256 of the type and the
    `keys`' values; payload = the keys and `payload` columns, camelCase, as JSON."""
    rows = frame.filter(pl.col(at).is_not_null())
    ident = pl.concat_str(
        [pl.lit(etype), *(pl.col(k).cast(pl.String).fill_null("") for k in keys)], separator="\x1f"
    )
    columns = list(dict.fromkeys([*keys, *payload]))
    body = pl.struct(
        *(pl.col(c).alias(_camel(c)) for c in columns),
        pl.col(at).dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias("occurredAt"),
    ).struct.json_encode()
    return rows.select(
        ident.map_batches(
            lambda s: pl.Series([_sha256(v) for v in s.to_list()]), return_dtype=pl.String
        ).alias("event_id"),
        pl.lit(etype).alias("type"),
        pl.col(USER),
        (pl.col(course) if course else pl.lit(None, dtype=pl.String)).alias("course_id"),
        pl.col(at).alias("occurred_at"),
        body.alias("payload"),
    ).cast(CANDIDATE_SCHEMA)  # type: ignore[arg-type]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PublishedInputs:
    """The tables whose changes are published: `lesson_progress`, `module_progress`,
    `enrollments`, completed `quiz_attempts` (user_id, course_id, quiz_id, attempt_id,
    completed_at, score_percent, passed), `assignment_submissions` (user_id, course_id,
    assignment_id, submission_id, submitted_at, late), `user_badges` and `user_competencies`."""

    lessons: pl.DataFrame
    modules: pl.DataFrame
    enrollments: pl.DataFrame
    quiz_attempts: pl.DataFrame
    submissions: pl.DataFrame
    badges: pl.DataFrame
    competencies: pl.DataFrame


def candidate_events(inputs: PublishedInputs) -> pl.DataFrame:
    """Every event the current tables make true, keyed by its stable id."""
    lessons = inputs.lessons
    progress = [
        _events(
            lessons.with_columns(pl.lit(status).alias("status")),
            "ProgressUpdated",
            [USER, "lesson_id", "status"],
            at,
            ["course_id", "module_id"],
        )
        for status, at in (("in_progress", "first_activity_at"), ("completed", "completed_at"))
    ]
    badge_courses = inputs.badges.with_columns(pl.lit(None, dtype=pl.String).alias("course_id"))
    frames = [
        *progress,
        _events(
            inputs.modules, "ModuleCompleted", [USER, "module_id"], "completed_at", ["course_id"]
        ),
        _events(inputs.enrollments, "CourseCompleted", [USER, "course_id"], "completed_at", []),
        _events(
            inputs.quiz_attempts,
            "QuizCompleted",
            [USER, "quiz_id", "attempt_id"],
            "completed_at",
            ["course_id", "score_percent", "passed"],
        ),
        _events(
            inputs.submissions,
            "AssignmentSubmitted",
            [USER, "assignment_id", "submission_id"],
            "submitted_at",
            ["course_id", "late"],
        ),
        _events(
            badge_courses,
            "AchievementEarned",
            [USER, "badge_code", "context"],
            "awarded_at",
            ["name", "points"],
        ),
        _events(
            inputs.competencies,
            "CompetencyAcquired",
            [USER, "competency_id"],
            "acquired_at",
            ["name", "mastery_threshold"],
            course=None,
        ),
    ]
    return pl.concat(frames).unique("event_id", keep="first").sort("occurred_at", "event_id")


def new_events(
    candidates: pl.DataFrame, published: pl.DataFrame | None, run_id: str
) -> pl.DataFrame:
    """The events of this run: candidates not published by an earlier run (an event this run
    already stored, before a retry, is its own again, so a retried run rewrites its whole
    outbox)."""
    earlier = (
        published.filter(pl.col("first_published_run") != run_id).select("event_id")
        if published is not None
        else pl.DataFrame(schema={"event_id": pl.String})
    )
    return (
        candidates.join(earlier, on="event_id", how="anti")
        .with_columns(pl.lit(run_id).alias("first_published_run"))
        .cast(PUBLISHED_SCHEMA)  # type: ignore[arg-type]
    )


def outbox_lines(events: pl.DataFrame) -> list[str]:
    """One JSON object per event: eventId, type, userId, courseId, occurredAt, payload."""
    return [
        json.dumps(
            {
                "eventId": row["event_id"],
                "type": row["type"],
                "userId": row[USER],
                "courseId": row["course_id"],
                "occurredAt": row["occurred_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "payload": json.loads(row["payload"]),
                "run": row["first_published_run"],
            },
            sort_keys=True,
        )
        for row in events.iter_rows(named=True)
    ]


def safe_run_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id) or "run"


def write_outbox(folder: Path, run_id: str, events: pl.DataFrame) -> Path:
    """Write `<folder>/<run>.jsonl` atomically (a temporary file renamed over it): a consumer
    never reads half a file; a retried run rewrites the same file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{safe_run_name(run_id)}.jsonl"
    partial = path.with_name(f".{path.name}.partial")
    lines = outbox_lines(events.sort("occurred_at", "event_id"))
    partial.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(partial, path)
    crash_point("outbox:written")
    return path
