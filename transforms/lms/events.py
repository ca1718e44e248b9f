"""Learning events (lms.md section 2): the contract's fields, per-type rules and validation.

Events load through the attempts' ingestion framework (`transforms.ingest.attempts`) as a second
record type: the same readers (JSON Lines, CSV, Parquet, gzip), content-hash ledger, idempotency
by key (`event_id`) with conflicts rejected, and rows read = accepted + duplicates + rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

import polars as pl

from transforms.ingest.attempts import RecordType
from transforms.ingest.dedupe import RecordKey
from transforms.ingest.fields import MAX_RESPONSE_MS, UUID_PATTERN
from transforms.ingest.readers import RawRead, read_attempt_file
from transforms.ingest.validate import (
    EARLIEST,
    FALSE_TOKENS,
    FUTURE_TOLERANCE,
    TRUE_TOKENS,
    Validated,
    first_failure,
    parse_timestamp,
    rejected_rows,
)

# canonical snake_case name -> camelCase name
EVENT_FIELDS: dict[str, str] = {
    "event_id": "eventId",
    "user_id": "userId",
    "course_id": "courseId",
    "type": "type",
    "occurred_at": "occurredAt",
    "node_id": "nodeId",
    "session_id": "sessionId",
    "platform": "platform",
    "duration_ms": "durationMs",
    "position": "position",
    "tries": "tries",
    "time_spent_ms": "timeSpentMs",
    "solved": "solved",
    "score": "score",
    "max_score": "maxScore",
    "attempt_id": "attemptId",
    "correct": "correct",
    "response": "response",
    "submission_id": "submissionId",
    "grader_id": "graderId",
}
COMMON_REQUIRED: tuple[str, ...] = ("event_id", "user_id", "course_id", "type", "occurred_at")
COURSE_LEVEL: tuple[str, ...] = ("enrolled", "paused", "resumed", "unenrolled", "course_completed")
LESSON_LEVEL: tuple[str, ...] = ("lesson", "quiz", "assignment")
# event type -> (the node kinds it may name, its required fields besides the common ones)
EVENT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{t: ((), ()) for t in COURSE_LEVEL},
    "lesson_viewed": (LESSON_LEVEL, ("node_id",)),
    "lesson_completed": (LESSON_LEVEL, ("node_id",)),
    "task_attempted": (("task",), ("node_id", "tries", "time_spent_ms", "solved")),
    "quiz_started": (("quiz",), ("node_id", "attempt_id")),
    "quiz_submitted": (("quiz",), ("node_id", "attempt_id")),
    "question_answered": (
        ("question",),
        ("node_id", "attempt_id", "correct", "score", "max_score", "time_spent_ms"),
    ),
    "assignment_submitted": (("assignment",), ("node_id", "submission_id")),
    "assignment_graded": (("assignment",), ("node_id", "submission_id", "score", "max_score")),
}
INTEGERS: tuple[str, ...] = ("duration_ms", "position", "tries", "time_spent_ms")
NUMBERS: tuple[str, ...] = ("score", "max_score")
BOOLEANS: tuple[str, ...] = ("solved", "correct")
DURATIONS: tuple[str, ...] = ("duration_ms", "time_spent_ms")
PAYLOAD: tuple[str, ...] = tuple(f for f in EVENT_FIELDS if f != "event_id")

REASONS: dict[str, str] = {
    "unparseable_row": "the row could not be parsed (malformed JSON or CSV)",
    "missing_field": "a field required for the event's type is missing or empty",
    "invalid_uuid": "eventId or userId is not a UUID",
    "unknown_type": "type is not one of lms.md's event types",
    "invalid_value": "a number, integer or boolean field does not hold one (tries >= 1)",
    "time_out_of_range": "durationMs or timeSpentMs is negative or over an hour",
    "score_out_of_range": "score is outside 0..maxScore (maxScore > 0)",
    "invalid_timestamp": "occurredAt is neither ISO-8601 with an offset nor epoch milliseconds",
    "timestamp_too_early": "occurredAt is before 2000-01-01",
    "timestamp_in_future": "occurredAt is more than 5 minutes after ingestion",
    "node_course_mismatch": "nodeId does not start with the event's courseId and '/'",
    "wrong_node_kind": "the node is of the wrong kind for the event's type",
    "conflicting_duplicate": "eventId was already ingested with a different payload",
    "unmapped_statement": "an xAPI statement maps onto no event (verb, activity type or course)",
}

NODE_KINDS_SCHEMA: dict[str, pl.DataType] = {"node_id": pl.String(), "kind": pl.String()}


def _shown(value: pl.Expr) -> pl.Expr:
    """A value as message text: `-` when absent (a null would blank the whole message)."""
    return value.cast(pl.String).fill_null("-")


def _stripped(name: str) -> pl.Expr:
    """A field's text without surrounding blanks, computed once per batch (`validate_events`
    adds it as a column)."""
    return pl.col(f"_stripped_{name}")


def _blank(name: str) -> pl.Expr:
    return _stripped(name).fill_null("") == ""


def _missing(names: tuple[str, ...], applies: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(any missing, their names) for fields required where `applies` holds."""
    is_missing = applies & pl.any_horizontal([_blank(n) for n in names])
    listed = pl.concat_str(
        [pl.when(_blank(n)).then(pl.lit(n)) for n in names], separator=", ", ignore_nulls=True
    )
    return is_missing, listed


def validate_events(
    rows: pl.DataFrame, ingested_at: datetime, node_kinds: pl.DataFrame | None = None
) -> Validated:
    """Split string event rows into typed accepted rows and rejects with the first failing
    reason. `node_kinds` (node_id, kind) are the nodes of every loaded course version: a node
    of the wrong kind for the type is rejected, a node in none is accepted (an orphan)."""
    kinds = node_kinds if node_kinds is not None else pl.DataFrame(schema=NODE_KINDS_SCHEMA)
    kinds = kinds.select("node_id", pl.col("kind").alias("_node_kind")).unique("node_id")
    s = {name: _stripped(name) for name in EVENT_FIELDS}
    etype = s["type"]
    # each field parsed once, as a column: the checks below read each several times
    typed = {n: pl.col(f"_int_{n}") for n in INTEGERS}
    numbers = {n: pl.col(f"_number_{n}") for n in NUMBERS}
    tokens = {n: pl.col(f"_token_{n}") for n in BOOLEANS}
    parsed = [
        *(s[n].cast(pl.Int64, strict=False).alias(f"_int_{n}") for n in INTEGERS),
        *(s[n].cast(pl.Float64, strict=False).alias(f"_number_{n}") for n in NUMBERS),
        *(s[n].str.to_lowercase().alias(f"_token_{n}") for n in BOOLEANS),
    ]
    common_missing, common_names = _missing(COMMON_REQUIRED, pl.lit(True))
    per_type = [_missing(req, etype == t) for t, (_, req) in EVENT_TYPES.items() if req]
    type_missing = pl.any_horizontal([m for m, _ in per_type])
    type_names = pl.coalesce([pl.when(m).then(n) for m, n in per_type])
    present = {n: ~_blank(n) for n in EVENT_FIELDS}
    bad_value = pl.any_horizontal(
        [present[n] & typed[n].is_null() for n in INTEGERS]
        + [present[n] & (numbers[n].is_null() | numbers[n].is_nan()) for n in NUMBERS]
        + [present[n] & ~tokens[n].is_in([*TRUE_TOKENS, *FALSE_TOKENS]) for n in BOOLEANS]
        + [
            present["tries"] & (typed["tries"] < 1),
            present["max_score"] & (numbers["max_score"] <= 0),
        ]
    )
    bad_time = pl.any_horizontal([(typed[n] < 0) | (typed[n] > MAX_RESPONSE_MS) for n in DURATIONS])
    allowed = {t: list(k) for t, (k, _) in EVENT_TYPES.items() if k}
    wrong_kind = pl.lit(False)
    for t, ks in allowed.items():
        wrong_kind = wrong_kind | ((etype == t) & ~pl.col("_node_kind").is_in(ks))
    node_level = etype.is_in(list(allowed))
    at = pl.col("_occurred_at")
    latest = ingested_at + FUTURE_TOLERANCE
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("missing_field", common_missing, pl.format("missing required field(s): {}", common_names)),
        (
            "invalid_uuid",
            ~s["event_id"].str.contains(UUID_PATTERN) | ~s["user_id"].str.contains(UUID_PATTERN),
            pl.format("eventId '{}' / userId '{}' must both be UUIDs", s["event_id"], s["user_id"]),
        ),
        (
            "unknown_type",
            ~etype.is_in(list(EVENT_TYPES)),
            pl.format("type '{}' is not a known event type", etype),
        ),
        (
            "missing_field",
            type_missing,
            pl.format("missing field(s) required for a {} event: {}", etype, type_names),
        ),
        (
            "invalid_value",
            bad_value,
            pl.format(
                "a value is not of its type: tries={} solved={} correct={} score={} maxScore={}"
                " durationMs={} timeSpentMs={} position={}",
                *(_shown(s[n]) for n in ("tries", "solved", "correct", "score", "max_score")),
                *(_shown(s[n]) for n in ("duration_ms", "time_spent_ms", "position")),
            ),
        ),
        (
            "time_out_of_range",
            bad_time,
            pl.format(
                "durationMs {} / timeSpentMs {} is outside 0..3600000",
                _shown(typed["duration_ms"]),
                _shown(typed["time_spent_ms"]),
            ),
        ),
        (
            "score_out_of_range",
            (numbers["score"] < 0) | (numbers["score"] > numbers["max_score"]),
            pl.format("score {} is outside 0..{}", numbers["score"], numbers["max_score"]),
        ),
        (
            "invalid_timestamp",
            at.is_null(),
            pl.format(
                "occurredAt '{}' is neither ISO-8601 with an offset nor epoch milliseconds",
                s["occurred_at"],
            ),
        ),
        (
            "timestamp_too_early",
            at < pl.lit(EARLIEST),
            pl.format("occurredAt {} is before 2000-01-01", at),
        ),
        (
            "timestamp_in_future",
            at > pl.lit(latest),
            pl.format(
                "occurredAt {} is more than 5 minutes after ingestion at {}",
                at,
                pl.lit(latest.isoformat(sep=" ")),
            ),
        ),
        (
            "node_course_mismatch",
            node_level & ~s["node_id"].str.starts_with(s["course_id"] + pl.lit("/")),
            pl.format("nodeId '{}' is not in course '{}'", s["node_id"], s["course_id"]),
        ),
        (
            "wrong_node_kind",
            node_level & pl.col("_node_kind").is_not_null() & wrong_kind,
            pl.format("node '{}' is a {}, not a node for {}", s["node_id"], "_node_kind", etype),
        ),
    ]
    reason, message = first_failure(checks)
    checked = (
        rows.with_columns(pl.col(n).str.strip_chars().alias(f"_stripped_{n}") for n in EVENT_FIELDS)
        .with_columns(parse_timestamp(pl.col("occurred_at")).alias("_occurred_at"), *parsed)
        .join(kinds, left_on="_stripped_node_id", right_on="node_id", how="left")
        .with_columns(reason.alias("_reason"))
    )
    # the message (text built from several fields) only for the rows rejected
    rejected = checked.filter(pl.col("_reason").is_not_null()).with_columns(
        message.alias("_message")
    )
    text = {n: pl.when(~_blank(n)).then(s[n]) for n in EVENT_FIELDS}
    accepted = checked.filter(pl.col("_reason").is_null()).select(
        s["event_id"].str.to_lowercase().alias("event_id"),
        s["user_id"].str.to_lowercase().alias("user_id"),
        s["course_id"].alias("course_id"),
        etype.alias("type"),
        at.alias("occurred_at"),
        pl.when(node_level).then(s["node_id"]).alias("node_id"),
        text["session_id"].alias("session_id"),
        text["platform"].alias("platform"),
        *(typed[n].alias(n) for n in ("duration_ms", "position")),
        typed["tries"].cast(pl.Int32).alias("tries"),
        typed["time_spent_ms"].alias("time_spent_ms"),
        pl.when(present["solved"]).then(tokens["solved"].is_in(TRUE_TOKENS)).alias("solved"),
        numbers["score"].alias("score"),
        numbers["max_score"].alias("max_score"),
        text["attempt_id"].alias("attempt_id"),
        pl.when(present["correct"]).then(tokens["correct"].is_in(TRUE_TOKENS)).alias("correct"),
        text["response"].alias("response"),
        text["submission_id"].alias("submission_id"),
        text["grader_id"].alias("grader_id"),
        "source_id",
        "source_row",
        "raw",
    )
    return Validated(accepted=accepted, rejects=rejected_rows(rejected, list(EVENT_FIELDS)))


EVENT_KEY = RecordKey(key="event_id", payload=PAYLOAD, fields=tuple(EVENT_FIELDS))


def read_event_file(path: Path) -> RawRead:
    return read_attempt_file(path, EVENT_FIELDS)


def event_record(
    node_kinds: pl.DataFrame, read: Callable[[Path], RawRead] = read_event_file
) -> RecordType:
    """Course-platform events as a record type of the ingestion framework, validated against
    the loaded course nodes; `read` replaces the file reader (the xAPI statements' one)."""
    return RecordType(
        name="lms_event",
        validate=partial(validate_events, node_kinds=node_kinds),
        read=read,
        fields=EVENT_FIELDS,
        key=EVENT_KEY,
        table="lms_events",
        rejects_table="lms_event_rejects",
        ledger="lms_ingested_files",
    )
