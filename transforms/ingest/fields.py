"""The record types the app lands (the attempt contract): fields, table and reject reasons."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One field of a landed record: its warehouse column (snake_case), the app's name
    (camelCase), its DuckDB type, whether a row without it is rejected, and whether it is free
    text (stored, never read downstream nor shown in a report)."""

    name: str
    app_name: str
    sql_type: str
    required: bool = True
    free_text: bool = False


@dataclass(frozen=True)
class Reason:
    """Why a landed row is rejected: the `reason` code of its rejects table, and when."""

    code: str
    when: str


@dataclass(frozen=True)
class RecordType:
    """A kind of record the app lands, stated once: its fields (in column order), its key, the
    warehouse table of accepted rows (the fields, then where each row came from) and the reject
    reasons in the order they are checked (a row gets the first that applies). The DDL, the
    field lists ingestion uses and the reason table of docs/tables.md (checked by a test) are
    derived from it."""

    table: str
    key: str
    fields: tuple[Field, ...]
    reasons: tuple[Reason, ...]

    def column_types(self) -> dict[str, str]:
        """Every column of the table with its DuckDB type and nullability."""
        out = {f.name: f.sql_type + (" NOT NULL" if f.required else "") for f in self.fields}
        return out | {
            "source_id": "VARCHAR NOT NULL",
            "source_row": "BIGINT NOT NULL",
            # the learner's shard, crc32(user_id) % B (transforms/buckets.py), stored at ingest
            # (null only in rows written around ingestion; the sharded run fills those)
            "bucket": "SMALLINT",
        }

    def ddl(self) -> str:
        columns = ", ".join(f"{name} {kind}" for name, kind in self.column_types().items())
        return f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})"

    def reasons_table(self) -> str:
        return reasons_table(self.reasons)


def reasons_table(reasons: tuple[Reason, ...]) -> str:
    """Reason codes as a Markdown table (docs/tables.md)."""
    rows = [f"| `{r.code}` | {r.when} |" for r in reasons]
    return "\n".join(["| reason | when |", "|---|---|", *rows]) + "\n"


ATTEMPT = RecordType(
    table="attempts",
    key="uuid_local",
    fields=(
        Field("uuid_local", "uuidLocal", "VARCHAR"),
        Field("user_id", "userId", "VARCHAR"),
        Field("language", "language", "VARCHAR"),
        Field("word_uid", "wordUid", "VARCHAR"),
        Field("step_type", "stepType", "VARCHAR"),
        Field("correct", "correct", "BOOLEAN"),
        Field("response_time_ms", "responseTimeMs", "INTEGER"),
        Field("attempted_at", "attemptedAt", "TIMESTAMP"),
        Field("session_id", "sessionId", "VARCHAR", required=False),
        Field("user_response", "userResponse", "VARCHAR", required=False, free_text=True),
        Field("correct_answer", "correctAnswer", "VARCHAR", required=False, free_text=True),
    ),
    reasons=(
        Reason(
            "unparseable_row",
            "the line is not a JSON object, or a CSV line with the wrong number of fields",
        ),
        Reason("missing_field", "a required field is missing or blank"),
        Reason("invalid_uuid", "`uuid_local` or `user_id` is not a UUID"),
        Reason("unknown_language", "not a lower-case ISO 639-1 code"),
        Reason("invalid_word_uid", "not `<language>:<group uid>:<word>`"),
        Reason("word_language_mismatch", "the word uid's prefix differs from `language`"),
        Reason("invalid_step_type", "not a token `[A-Za-z][A-Za-z0-9_]*`"),
        Reason("invalid_correct", "not `true`/`false`/`1`/`0`"),
        Reason("invalid_response_time", "not an integer"),
        Reason("response_time_out_of_range", "outside 0..3,600,000 ms"),
        Reason("invalid_timestamp", "neither ISO-8601 with an offset nor epoch milliseconds"),
        Reason("timestamp_too_early", "before 2000-01-01"),
        Reason("timestamp_in_future", "more than 5 minutes after the moment of ingestion"),
        Reason(
            "conflicting_duplicate",
            "`uuid_local` already ingested with a different payload (the first stays)",
        ),
    ),
)
RECORD_TYPES: tuple[RecordType, ...] = (ATTEMPT,)

# Why a manifest document is rejected (`manifest_rejects.reason`).
MANIFEST_REASONS: tuple[Reason, ...] = (
    Reason("malformed_json", "the document is not valid JSON"),
    Reason("invalid_structure", "the document does not have the manifest's structure"),
    Reason("unknown_language", "its language is not a lower-case ISO 639-1 code"),
    Reason("duplicate_word_uid", "a word uid appears twice"),
    Reason("word_language_mismatch", "a word uid's prefix differs from the language"),
    Reason("version_conflict", "a version number reused with different content"),
    Reason("version_out_of_order", "numbers and `publishedAt` must increase together"),
)

# Why a course-platform course or path document is rejected (`course_rejects.reason`); they
# go through the manifests' validation helpers, so `ManifestError` knows both lists.
COURSE_REASONS: tuple[Reason, ...] = (
    Reason("malformed_json", "the document is not valid JSON"),
    Reason("invalid_structure", "a required field is missing or has the wrong type"),
    Reason(
        "invalid_kind",
        "a lesson's kind is not lesson/quiz/assignment, or it has the wrong children",
    ),
    Reason(
        "invalid_rule",
        "a completion rule is unknown, lacks its parameter, or does not fit the kind",
    ),
    Reason("duplicate_node_id", "a node id appears more than once in the version"),
    Reason("node_outside_course", "a node id does not start with its course id and '/'"),
    Reason("version_conflict", "the version number was already loaded with other content"),
    Reason("version_out_of_order", "version numbers and publishedAt disagree in order"),
    Reason("duplicate_path", "a learning path id is defined by more than one file"),
)

# Why a badge rule (`$PROGRESS_LANDING/badges/*.json`) is rejected (`badge_rule_rejects.reason`);
# the other rules still apply.
BADGE_REASONS: tuple[Reason, ...] = (
    Reason("malformed_json", "the file is not valid JSON"),
    Reason("invalid_structure", "a rule is not an object, or a field is missing or ill-typed"),
    Reason("unknown_rule_type", "`rule.type` (or a nested rule's) is not one of lms.md's types"),
    Reason("duplicate_badge_code", "a badge code is defined by an earlier rule"),
)

# canonical snake_case name -> the app's camelCase name
FIELDS: dict[str, str] = {f.name: f.app_name for f in ATTEMPT.fields}
REQUIRED: tuple[str, ...] = tuple(f.name for f in ATTEMPT.fields if f.required)
# The attempt fields that make its payload: same uuid_local with a different payload is a conflict.
PAYLOAD: tuple[str, ...] = tuple(f.name for f in ATTEMPT.fields if f.name != ATTEMPT.key)
# The columns read downstream (all but the free text).
READ_COLUMNS: tuple[str, ...] = tuple(f.name for f in ATTEMPT.fields if not f.free_text)
REASONS: dict[str, str] = {r.code: r.when for r in ATTEMPT.reasons}

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
WORD_UID_PATTERN = r"^([a-z]{2}):([^:\s]+):(\S.*)$"
STEP_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
MAX_RESPONSE_MS = 3_600_000


def to_snake(name: str) -> str:
    """`responseTimeMs` -> `response_time_ms`; snake names pass through."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
