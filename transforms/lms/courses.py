"""Course content trees (lms.md section 1): validate each version and load its nodes.

One document is one version of one course, versioned exactly like a language manifest (in
force from `publishedAt` until the next version; node ids stable across versions). A malformed
document, or one that reuses a version number with other content, is rejected with its reason;
the versions already loaded stay as they are. Learning paths (`paths/*.json`) are read here too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from transforms.ingest.fields import COURSE_REASONS
from transforms.ingest.manifests import (
    ManifestError,
    VersionedKind,
    content_hash,
    load_versioned,
    parse_published_at,
    reject_schema,
    require,
)
from transforms.lms.schema import ensure_lms_tables
from transforms.warehouse import insert_frame

LESSON_KINDS: tuple[str, ...] = ("lesson", "quiz", "assignment")
NODE_KINDS: tuple[str, ...] = ("module", *LESSON_KINDS, "task", "question")
RULES: tuple[str, ...] = (
    "viewed",
    "time",
    "all_tasks_solved",
    "explicit",
    "passed",
    "submitted",
    "graded",
)
RULE_KINDS: dict[str, tuple[str, ...]] = {"passed": ("quiz",), "submitted": ("assignment",)}
RULE_KINDS["graded"] = ("assignment",)
DEFAULT_PASS_PERCENT = 50.0
DEFAULT_ASSIGNMENT_POINTS = 100.0
RESERVED_PREFIX = "lang:"  # the language app's courses come from its manifests

REASONS: dict[str, str] = {r.code: r.when for r in COURSE_REASONS}

NODE_SCHEMA: dict[str, pl.DataType] = {
    "course_id": pl.String(),
    "version": pl.Int32(),
    "node_id": pl.String(),
    "kind": pl.String(),
    "parent_id": pl.String(),
    "module_id": pl.String(),
    "lesson_id": pl.String(),
    "position": pl.Int32(),
    "title": pl.String(),
    "max_points": pl.Float64(),
    "weight": pl.Float64(),
    "rule": pl.String(),
    "rule_seconds": pl.Float64(),
    "min_percent": pl.Float64(),
    "pass_percent": pl.Float64(),
    "optional": pl.Boolean(),
    "due_at": pl.Datetime("us"),
    "due_offset_days": pl.Int32(),
    "options": pl.Int32(),
    "competencies": pl.List(pl.String()),
}
COMPETENCY_SCHEMA: dict[str, pl.DataType] = {
    "course_id": pl.String(),
    "version": pl.Int32(),
    "competency_id": pl.String(),
    "name": pl.String(),
    "mastery_threshold": pl.Float64(),
}
DEFAULT_MASTERY_THRESHOLD = 0.95
REJECT_SCHEMA = reject_schema("course_id")


@dataclass(frozen=True)
class CourseVersion:
    course_id: str
    version: int
    title: str | None
    published_at: datetime  # naive UTC
    nodes: pl.DataFrame  # course_nodes rows
    content_hash: str
    source: str
    competencies: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=COMPETENCY_SCHEMA)
    )  # course_competencies rows


def _number(value: object, what: str, default: float | None = None) -> float | None:
    if value is None:
        return default
    require(
        isinstance(value, int | float) and not isinstance(value, bool) and value >= 0,
        "invalid_structure",
        f"{what} must be a non-negative number, not {value!r}",
    )
    return float(value)  # type: ignore[arg-type]


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    require(isinstance(value, list), "invalid_structure", f"{what} must be a list")
    return value  # type: ignore[return-value]


class _Tree:
    """Collects one version's nodes in course order, checking ids as they come."""

    def __init__(self, course: str, version: int) -> None:
        self.course, self.version = course, version
        self.rows: list[dict[str, object]] = []
        self.seen: set[str] = set()

    def node_id(self, node: object, what: str) -> str:
        require(isinstance(node, dict), "invalid_structure", f"{what} {node!r} is not an object")
        assert isinstance(node, dict)
        nid = node.get("id")
        require(isinstance(nid, str) and nid != "", "invalid_structure", f"{what} has no id")
        assert isinstance(nid, str)
        require(
            nid.startswith(self.course + "/") and len(nid) > len(self.course) + 1,
            "node_outside_course",
            f"{what} id {nid!r} does not start with '{self.course}/'",
        )
        require(
            nid not in self.seen,
            "duplicate_node_id",
            f"node id {nid!r} appears more than once in {self.course} version {self.version}",
        )
        self.seen.add(nid)
        return nid

    def add(self, **row: object) -> None:
        base: dict[str, object] = {c: None for c in NODE_SCHEMA}
        base.update(course_id=self.course, version=self.version, position=len(self.rows) + 1)
        base["optional"] = False
        base["competencies"] = []
        base.update(row)
        self.rows.append(base)


def _rule(lesson: dict[str, Any], kind: str, has_tasks: bool, nid: str) -> dict[str, object]:
    """The lesson's completion rule and its parameter; defaults: a quiz `passed`, an
    assignment `submitted`, a lesson with tasks `all_tasks_solved`, else `viewed`."""
    completion = lesson.get("completion")
    if completion is None:
        default = {"quiz": "passed", "assignment": "submitted"}.get(kind)
        completion = {"rule": default or ("all_tasks_solved" if has_tasks else "viewed")}
    require(isinstance(completion, dict), "invalid_rule", f"{nid}: completion is not an object")
    rule = completion.get("rule")
    require(rule in RULES, "invalid_rule", f"{nid}: unknown completion rule {rule!r}")
    assert isinstance(rule, str)
    require(
        kind in RULE_KINDS.get(rule, LESSON_KINDS),
        "invalid_rule",
        f"{nid}: rule {rule!r} does not apply to a {kind}",
    )
    seconds = completion.get("seconds")
    if rule == "time":
        require(
            isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0,
            "invalid_rule",
            f"{nid}: rule 'time' needs a positive `seconds`",
        )
    min_percent = _number(completion.get("minPercent"), f"{nid} minPercent", 0.0)
    return {
        "rule": rule,
        "rule_seconds": float(seconds) if rule == "time" else None,  # type: ignore[arg-type]
        "min_percent": min_percent if rule == "graded" else None,
    }


def _items(tree: _Tree, lesson: dict[str, Any], lid: str, mid: str, kind: str) -> list[float]:
    """Add a lesson's tasks or a quiz's questions; returns their max points."""
    points: list[float] = []
    field = "questions" if kind == "question" else "tasks"
    for item in _list(lesson.get(field), f"{lid} {field}"):
        iid = tree.node_id(item, kind)
        options = item.get("options")
        require(
            options is None or (isinstance(options, int) and options >= 2),
            "invalid_structure",
            f"{iid}: options must be an integer >= 2",
        )
        competencies = _list(item.get("competencies"), f"{iid} competencies")
        require(
            all(isinstance(c, str) for c in competencies),
            "invalid_structure",
            f"{iid}: competencies must be strings",
        )
        max_points = _number(item.get("maxPoints"), f"{iid} maxPoints", 1.0)
        assert max_points is not None
        points.append(max_points)
        tree.add(
            node_id=iid,
            kind=kind,
            parent_id=lid,
            module_id=mid,
            lesson_id=lid,
            title=item.get("title"),
            max_points=max_points,
            options=options,
            competencies=competencies,
        )
    return points


def _lesson(tree: _Tree, lesson: object, mid: str) -> None:
    lid = tree.node_id(lesson, "lesson")
    assert isinstance(lesson, dict)
    kind = lesson.get("kind", "lesson")
    require(kind in LESSON_KINDS, "invalid_kind", f"{lid}: kind {kind!r} is not {LESSON_KINDS}")
    wrong = {"lesson": "questions", "quiz": "tasks"}.get(kind)
    for child in ("tasks", "questions"):
        if lesson.get(child) is not None and (kind == "assignment" or child == wrong):
            raise ManifestError("invalid_kind", f"{lid}: a {kind} has no {child}")
    due_at = lesson.get("dueAt")
    due_offset = lesson.get("dueOffsetDays")
    require(
        due_offset is None or (isinstance(due_offset, int) and due_offset >= 0),
        "invalid_structure",
        f"{lid}: dueOffsetDays must be a non-negative integer",
    )
    optional = lesson.get("optional", False)
    require(isinstance(optional, bool), "invalid_structure", f"{lid}: optional must be boolean")
    at = len(tree.rows)
    tree.add(
        node_id=lid,
        kind=kind,
        parent_id=mid,
        module_id=mid,
        lesson_id=lid,
        title=lesson.get("title"),
        weight=_number(lesson.get("weight"), f"{lid} weight"),
        optional=optional,
        due_at=parse_published_at(due_at) if due_at is not None else None,
        due_offset_days=due_offset,
        pass_percent=_number(lesson.get("passPercent"), f"{lid} passPercent", DEFAULT_PASS_PERCENT)
        if kind == "quiz"
        else None,
    )
    items = _items(tree, lesson, lid, mid, "question" if kind == "quiz" else "task")
    points = (
        _number(lesson.get("maxPoints"), f"{lid} maxPoints", DEFAULT_ASSIGNMENT_POINTS)
        if kind == "assignment"
        else (sum(items) if items else None)
    )
    tree.rows[at].update(max_points=points, **_rule(lesson, kind, bool(items), lid))


def parse_course(text: str, source: str) -> CourseVersion:
    """Validate one course document; raises `ManifestError` with its reason and message."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError("malformed_json", f"not valid JSON: {exc}") from exc
    require(isinstance(doc, dict), "invalid_structure", "the course is not a JSON object")
    course = doc.get("course")
    require(
        isinstance(course, str) and course.strip() == course != "" and "/" not in course,
        "invalid_structure",
        f"course {course!r} is not a non-empty id without '/' or spaces",
    )
    assert isinstance(course, str)
    require(
        not course.startswith(RESERVED_PREFIX),
        "invalid_structure",
        f"course ids starting with {RESERVED_PREFIX!r} are the language app's",
    )
    version = doc.get("version")
    require(
        isinstance(version, int) and not isinstance(version, bool) and version > 0,
        "invalid_structure",
        f"version {version!r} is not a positive integer",
    )
    assert isinstance(version, int)
    published_at = parse_published_at(doc.get("publishedAt"))
    tree = _Tree(course, version)
    for module in _list(doc.get("modules"), "modules"):
        mid = tree.node_id(module, "module")
        tree.add(node_id=mid, kind="module", module_id=mid, title=module.get("title"))
        for lesson in _list(module.get("lessons"), f"{mid} lessons"):
            _lesson(tree, lesson, mid)
    title = doc.get("title")
    competencies = _competencies(doc.get("competencies"), course, version)
    return CourseVersion(
        course_id=course,
        version=version,
        title=title if isinstance(title, str) else None,
        published_at=published_at,
        nodes=pl.DataFrame(tree.rows, schema=NODE_SCHEMA),
        content_hash=content_hash(doc),
        source=source,
        competencies=competencies,
    )


def _competencies(value: object, course: str, version: int) -> pl.DataFrame:
    """`course_competencies` rows of a document's `competencies` list: `{"id", "name",
    "masteryThreshold"}` objects (threshold in (0, 1], default 0.95), ids distinct."""
    rows: list[dict[str, object]] = []
    for item in _list(value, "competencies"):
        require(isinstance(item, dict), "invalid_structure", f"competency {item!r} is no object")
        cid = item.get("id")
        require(isinstance(cid, str) and cid != "", "invalid_structure", "competency has no id")
        threshold = item.get("masteryThreshold", DEFAULT_MASTERY_THRESHOLD)
        require(
            isinstance(threshold, int | float)
            and not isinstance(threshold, bool)
            and 0 < threshold <= 1,
            "invalid_structure",
            f"competency {cid!r}: masteryThreshold must be in (0, 1], not {threshold!r}",
        )
        require(
            all(r["competency_id"] != cid for r in rows),
            "invalid_structure",
            f"competency {cid!r} is defined twice",
        )
        name = item.get("name")
        rows.append(
            {
                "course_id": course,
                "version": version,
                "competency_id": cid,
                "name": name if isinstance(name, str) else None,
                "mastery_threshold": float(threshold),  # type: ignore[arg-type]
            }
        )
    return pl.DataFrame(rows, schema=COMPETENCY_SCHEMA)


@dataclass(frozen=True)
class CourseLoad:
    loaded: list[tuple[str, int]]
    rejected: pl.DataFrame  # course_rejects rows


def _reject(digest: str, source: str, err: ManifestError) -> dict[str, object]:
    return {
        "content_hash": digest,
        "source": source,
        "course_id": None,
        "version": None,
        "reason": err.reason,
        "message": err.message,
    }


def _store_course(con: duckdb.DuckDBPyConnection, cv: CourseVersion) -> None:
    con.execute(
        "INSERT INTO course_versions VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
        [
            cv.course_id,
            cv.version,
            cv.title,
            cv.published_at,
            cv.nodes.height,
            cv.content_hash,
            cv.source,
        ],
    )
    insert_frame(con, "course_nodes", cv.nodes)
    insert_frame(con, "course_competencies", cv.competencies)


COURSES: VersionedKind[CourseVersion] = VersionedKind(
    versions="course_versions",
    rejects="course_rejects",
    owner="course_id",
    parse=parse_course,
    owner_of=lambda cv: cv.course_id,
    store=_store_course,
)


def load_courses(con: duckdb.DuckDBPyConnection, documents: list[tuple[str, str]]) -> CourseLoad:
    """Load `(source, text)` course documents not seen before; reject the invalid and
    conflicting ones with their reason (loaded versions are never changed)."""
    ensure_lms_tables(con)
    loaded, rejected = load_versioned(con, COURSES, documents)
    return CourseLoad(loaded=[(c.course_id, c.version) for c in loaded], rejected=rejected)


PATH_SCHEMA: dict[str, pl.DataType] = {
    "path_id": pl.String(),
    "position": pl.Int32(),
    "course_id": pl.String(),
    "title": pl.String(),
    "source": pl.String(),
}


def store_path_rejects(con: duckdb.DuckDBPyConnection, rejects: pl.DataFrame) -> int:
    """Record rejected path files once (path files are re-read on every run)."""
    ensure_lms_tables(con)
    return insert_frame(con, "course_rejects", rejects, verb="INSERT OR IGNORE")


def parse_paths(documents: list[tuple[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`learning_paths` rows from `{"path": ..., "courses": [...]}` documents, and the
    rejected documents (`course_rejects` rows). A path id given twice keeps its first file."""
    rows: list[dict[str, object]] = []
    rejects: list[dict[str, object]] = []
    seen: set[str] = set()
    for source, text in documents:
        try:
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ManifestError("malformed_json", f"not valid JSON: {exc}") from exc
            require(isinstance(doc, dict), "invalid_structure", "the path is not an object")
            path = doc.get("path")
            courses = doc.get("courses")
            require(isinstance(path, str) and path != "", "invalid_structure", "path needs an id")
            require(
                isinstance(courses, list)
                and len(courses) > 0
                and all(isinstance(c, str) and c for c in courses)
                and len(set(courses)) == len(courses),
                "invalid_structure",
                f"path {path!r}: courses must be a non-empty list of distinct course ids",
            )
            require(path not in seen, "duplicate_path", f"path {path!r} is defined twice")
        except ManifestError as err:
            digest = hashlib.sha256(text.encode()).hexdigest()
            rejects.append(_reject(digest, source, err))
            continue
        assert isinstance(path, str) and isinstance(courses, list)
        seen.add(path)
        title = doc.get("title")
        rows += [
            {
                "path_id": path,
                "position": i + 1,
                "course_id": c,
                "title": title if isinstance(title, str) else None,
                "source": source,
            }
            for i, c in enumerate(courses)
        ]
    return pl.DataFrame(rows, schema=PATH_SCHEMA), pl.DataFrame(rejects, schema=REJECT_SCHEMA)
