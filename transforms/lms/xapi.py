"""xAPI 1.0.3 statements from an LRS export (`xapi/*.jsonl`) mapped onto learning events.

The mapping is data: `VERB_MAP` lists (verb id, activity type, event type) rows, an activity
type of `*` matching any. A statement's course is the `grouping` or `parent` context activity
(or, for a course-level verb, the object) whose id is a known course id or ends with
`/<course id>`; its node is the object id from `<course id>/` on. A statement that maps onto
nothing is rejected with reason `unmapped_statement`; the mapped rows are then validated as any
other event (a statement without `timestamp` is a `missing_field`, and so on).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from transforms.ingest.readers import REJECT_SCHEMA, RawRead, UnreadableFile
from transforms.lms.events import COURSE_LEVEL, EVENT_FIELDS

ADL_VERB = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
TINCAN_VERB = "http://id.tincanapi.com/verb/"
ANY = "*"

# (verb id, activity type or "*", event type): the first row matching (verb, type) wins, so an
# exact activity type comes before the verb's "*" row.
VERB_MAP: tuple[tuple[str, str, str], ...] = (
    (ADL_VERB + "registered", ANY, "enrolled"),
    (TINCAN_VERB + "unregistered", ANY, "unenrolled"),
    (ADL_VERB + "suspended", ANY, "paused"),
    (ADL_VERB + "resumed", ANY, "resumed"),
    (ADL_VERB + "experienced", ANY, "lesson_viewed"),
    (ADL_VERB + "launched", ANY, "lesson_viewed"),
    (TINCAN_VERB + "viewed", ANY, "lesson_viewed"),
    (ADL_VERB + "completed", ADL_ACTIVITY + "course", "course_completed"),
    (ADL_VERB + "completed", ADL_ACTIVITY + "lesson", "lesson_completed"),
    (ADL_VERB + "completed", ADL_ACTIVITY + "module", "lesson_completed"),
    (ADL_VERB + "completed", ADL_ACTIVITY + "assessment", "quiz_submitted"),
    (ADL_VERB + "attempted", ADL_ACTIVITY + "assessment", "quiz_started"),
    (ADL_VERB + "answered", ADL_ACTIVITY + "cmi.interaction", "question_answered"),
)
VERB_MAP_SCHEMA = {"verb_id": pl.String, "activity_type": pl.String, "event_type": pl.String}
SESSION_EXTENSIONS: tuple[str, ...] = (
    "https://w3id.org/xapi/openedx/extensions/session-id",
    "http://id.tincanapi.com/extension/session-id",
)
DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def verb_map() -> pl.DataFrame:
    """The mapping as a table, for documentation and the Dagster UI."""
    return pl.DataFrame(list(VERB_MAP), schema=VERB_MAP_SCHEMA, orient="row")


def duration_ms(text: object) -> str | None:
    """ISO-8601 duration (`PT1M30.5S`) as whole milliseconds; the text itself when it is not
    one (so validation rejects it as an invalid value), None when absent."""
    if text is None:
        return None
    match = DURATION.match(str(text))
    if not match or str(text) in ("P", "PT") or str(text).endswith("T"):
        return str(text)
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    return str(round(seconds * 1000))


def event_type(verb: object, activity_type: object) -> str | None:
    for verb_id, act, event in VERB_MAP:
        if verb == verb_id and act in (activity_type, ANY):
            return event
    return None


def _course_of(iri: object, courses: Iterable[str]) -> str | None:
    if not isinstance(iri, str):
        return None
    for course in courses:
        if iri == course or iri.endswith("/" + course):
            return course
    return None


def _node_of(iri: str, course: str) -> str | None:
    if iri.startswith(course + "/"):
        return iri
    at = iri.rfind("/" + course + "/")
    return iri[at + 1 :] if at >= 0 else None


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def map_statement(st: dict[str, Any], courses: list[str]) -> dict[str, str | None] | str:
    """The event fields of one statement, or why it maps onto nothing."""
    verb = _get(st, "verb", "id")
    obj_type = _get(st, "object", "definition", "type")
    event = event_type(verb, obj_type)
    if event is None:
        return f"verb {verb!r} on activity type {obj_type!r} maps onto no event type"
    obj_id = _get(st, "object", "id")
    context = [
        a
        for kind in ("grouping", "parent")
        for a in (_get(st, "context", "contextActivities", kind) or [])
        if isinstance(a, dict)
    ]
    candidates = [a.get("id") for a in context]
    if event in COURSE_LEVEL:
        candidates.insert(0, obj_id)
    course = next((c for c in map(lambda i: _course_of(i, courses), candidates) if c), None)
    if course is None:
        return f"no grouping/parent activity (or object) names a known course: {candidates}"
    node = None
    if event not in COURSE_LEVEL:
        node = _node_of(obj_id, course) if isinstance(obj_id, str) else None
        if node is None:
            return f"object {obj_id!r} is not a node of course {course!r}"
    result = _get(st, "result") or {}
    duration = duration_ms(_get(result, "duration"))
    extensions = _get(st, "context", "extensions") or {}
    session = next((extensions[k] for k in SESSION_EXTENSIONS if k in extensions), None)
    answered = event == "question_answered"
    fields: dict[str, str | None] = dict.fromkeys(EVENT_FIELDS)
    fields.update(
        event_id=_text(st.get("id")),
        user_id=_text(_get(st, "actor", "account", "name")),
        course_id=course,
        type=event,
        occurred_at=_text(st.get("timestamp")),
        node_id=node,
        session_id=_text(session),
        platform=_text(_get(st, "context", "platform")),
        duration_ms=None if answered else duration,
        time_spent_ms=duration if answered else None,
        attempt_id=_text(_get(st, "context", "registration"))
        if event in ("question_answered", "quiz_started", "quiz_submitted")
        else None,
        correct=_text(_get(result, "success")) if answered else None,
        score=_text(_get(result, "score", "raw")) if answered else None,
        max_score=_text(_get(result, "score", "max")) if answered else None,
    )
    return fields


def read_xapi_file(path: Path, courses: list[str]) -> RawRead:
    """Read an LRS export: one statement per line (gzip when the name ends in `.gz`)."""
    if not path.name.lower().endswith((".jsonl", ".jsonl.gz")):
        raise UnreadableFile("not an xAPI export (expected .jsonl or .jsonl.gz)")
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc
    rows: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    ordered = sorted(courses, key=len, reverse=True)  # the most specific id first
    for number, line in enumerate(text.split("\n"), start=1):
        raw = line.rstrip("\r")
        if not raw.strip():
            continue
        try:
            statement = json.loads(raw)
        except json.JSONDecodeError:
            statement = None
            message = "the line is not valid JSON"
        else:
            message = "the line is JSON but not an object"
        if not isinstance(statement, dict):
            bad.append(
                {"source_row": number, "reason": "unparseable_row", "message": message, "raw": raw}
            )
            continue
        mapped = map_statement(statement, ordered)
        if isinstance(mapped, str):
            bad.append(
                {
                    "source_row": number,
                    "reason": "unmapped_statement",
                    "message": mapped,
                    "raw": raw,
                }
            )
            continue
        rows.append({**mapped, "source_row": number, "raw": raw})
    schema = {**{f: pl.String for f in EVENT_FIELDS}, "source_row": pl.Int64, "raw": pl.String}
    return RawRead(
        rows=pl.DataFrame(rows, schema=schema), unparseable=pl.DataFrame(bad, schema=REJECT_SCHEMA)
    )
