"""The attempt contract's field names, and the reject reason codes."""

from __future__ import annotations

import re

# canonical snake_case name -> the app's camelCase name
FIELDS: dict[str, str] = {
    "uuid_local": "uuidLocal",
    "user_id": "userId",
    "language": "language",
    "word_uid": "wordUid",
    "step_type": "stepType",
    "correct": "correct",
    "response_time_ms": "responseTimeMs",
    "attempted_at": "attemptedAt",
    "session_id": "sessionId",
    "user_response": "userResponse",
    "correct_answer": "correctAnswer",
}
REQUIRED: tuple[str, ...] = (
    "uuid_local",
    "user_id",
    "language",
    "word_uid",
    "step_type",
    "correct",
    "response_time_ms",
    "attempted_at",
)

# The attempt fields that make its payload: same uuid_local with a different payload is a conflict.
PAYLOAD: tuple[str, ...] = (
    "user_id",
    "language",
    "word_uid",
    "step_type",
    "correct",
    "response_time_ms",
    "attempted_at",
    "session_id",
    "user_response",
    "correct_answer",
)

REASONS: dict[str, str] = {
    "unparseable_row": "the row could not be parsed (malformed JSON or CSV)",
    "missing_field": "a required field is missing or empty",
    "invalid_uuid": "uuid_local or user_id is not a UUID",
    "unknown_language": "language is not a known lower-case ISO 639-1 code",
    "invalid_word_uid": "word_uid is not <language>:<group uid>:<word>",
    "word_language_mismatch": "word_uid's language prefix differs from language",
    "invalid_step_type": "step_type is not a token [A-Za-z][A-Za-z0-9_]*",
    "invalid_correct": "correct is not true/false/1/0",
    "invalid_response_time": "response_time_ms is not an integer",
    "response_time_out_of_range": "response_time_ms is outside 0..3,600,000",
    "invalid_timestamp": "attempted_at is neither ISO-8601 with an offset nor epoch milliseconds",
    "timestamp_too_early": "attempted_at is before 2000-01-01",
    "timestamp_in_future": "attempted_at is more than 5 minutes after ingestion",
    "conflicting_duplicate": "uuid_local was already ingested with a different payload",
}

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
WORD_UID_PATTERN = r"^([a-z]{2}):([^:\s]+):(\S.*)$"
STEP_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
MAX_RESPONSE_MS = 3_600_000


def to_snake(name: str) -> str:
    """`responseTimeMs` -> `response_time_ms`; snake names pass through."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
