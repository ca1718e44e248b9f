"""Write a course-platform landing (lms.md): course versions, paths, learning events in three
formats, an xAPI export for part of the activity, and dirty rows for every reject reason.

Three courses, each published in two versions (the second adds a lesson, removes one and moves
one to another module). Learners have an ability and a pace; they enroll, view lessons, attempt
tasks and retry the failed ones, take quizzes (again when they fail), submit assignments, pause
and come back or withdraw at rates that differ per course. Quiz questions answer by a 2PL
item-response model (`item_parameters`): each has a difficulty and a discrimination, the last
question of each quiz gives partial credit, and one question per course is mis-keyed so the
item analysis (quiz_item_stats) has something to find. Deterministic for a seed.
"""

from __future__ import annotations

import gzip
import json
import math
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing.generate.learners import uuids
from transforms.lms.xapi import ADL_ACTIVITY, ADL_VERB

ISO = "%Y-%m-%dT%H:%M:%S.%fZ"
XAPI_HOME = "https://lms.example.org"
QUESTIONS_PER_QUIZ = 6
PARTIAL_QUESTION = 6  # q6 of every quiz is worth 2 points, with partial credit
MIS_KEYED = "m1/quiz/q2"  # per course: its answer key is wrong, so strong learners fail it
MIS_KEY_PULL = 0.5  # share of the learners who do not know it that pick the wrong key


@dataclass(frozen=True)
class CourseSpec:
    course: str
    title: str
    difficulty: float  # shifts every task's solve probability down
    drop_rate: float  # daily chance an active learner stops (pauses, withdraws or goes quiet)
    withdraw_share: float  # of those stops, the share that unenroll
    pause_return: float  # chance a paused learner comes back


COURSES: tuple[CourseSpec, ...] = (
    CourseSpec("py101", "Python basics", -0.3, 0.015, 0.3, 0.6),
    CourseSpec("ds201", "Data analysis", 0.4, 0.03, 0.5, 0.4),
    CourseSpec("web110", "Web foundations", 0.0, 0.02, 0.2, 0.7),
)
PATHS = {
    "data-track": ("Data track", ["py101", "ds201"]),
    "web-track": ("Web track", ["web110", "py101"]),
}


@dataclass(frozen=True)
class LmsGeneratorConfig:
    learners: int = 200
    days: int = 91
    start: datetime = datetime(2026, 7, 1)
    seed: int = 11
    xapi_share: float = 0.2  # learners whose activity arrives as an LRS export
    courses: tuple[CourseSpec, ...] = COURSES


@dataclass
class LmsGeneratorResult:
    events_written: int = 0
    statements_written: int = 0
    dirty_rows: int = 0
    files: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ItemParameters:
    """The 2PL truth behind one question: P(right) = 1 / (1 + exp(−discrimination · (ability −
    difficulty))); a partial-credit question scores 1 of 2 points above difficulty − 0.5 and 2
    above difficulty + 0.5 (a graded response); a mis-keyed question credits only a learner who
    does not know the answer and picks the wrong key, an attractive distractor (half of them)."""

    difficulty: float
    discrimination: float
    mis_keyed: bool
    partial: bool


def item_parameters(question_id: str, course_difficulty: float, seed: int) -> ItemParameters:
    """A question's parameters, from the seed and its id alone (deterministic)."""
    rng = np.random.default_rng([seed, zlib.crc32(question_id.encode())])
    mis_keyed = question_id.split("/", 1)[1] == MIS_KEYED
    # the mis-keyed question is one most learners know (the wrong key then fails them)
    shift = -1.0 if mis_keyed else float(rng.normal(0.0, 1.2))
    return ItemParameters(
        difficulty=course_difficulty + shift,
        discrimination=2.5 if mis_keyed else float(np.clip(rng.lognormal(0.6, 0.3), 0.7, 3.0)),
        mis_keyed=mis_keyed,
        partial=question_id.endswith(f"/q{PARTIAL_QUESTION}"),
    )


def answer(item: ItemParameters, ability: float, rng: np.random.Generator) -> tuple[int, bool]:
    """(points, correct) of one answer under the 2PL model."""

    def p(shift: float) -> float:
        return 1 / (1 + math.exp(-item.discrimination * (ability - item.difficulty - shift)))

    u = rng.random()
    if item.mis_keyed:
        credited = u < (1 - p(0.0)) * MIS_KEY_PULL
        return int(credited), credited
    if item.partial:
        points = int(u < p(-0.5)) + int(u < p(0.5))
        return points, points == 2
    right = u < p(0.0)
    return int(right), right


def _lesson(lid: str, kind: str, rng: np.random.Generator, i: int) -> dict[str, Any]:
    if kind == "quiz":
        return {
            "id": lid,
            "kind": "quiz",
            "title": f"Check {i}",
            "passPercent": 60,
            "weight": 10,
            "completion": {"rule": "passed"},
            "questions": [
                {"id": f"{lid}/q{k}", "maxPoints": 2 if k == PARTIAL_QUESTION else 1, "options": 4}
                for k in range(1, QUESTIONS_PER_QUIZ + 1)
            ],
        }
    if kind == "assignment":
        return {
            "id": lid,
            "kind": "assignment",
            "title": f"Project {i}",
            "maxPoints": 100,
            "weight": 30,
            "dueOffsetDays": 30,
            "completion": {"rule": "graded", "minPercent": 50},
        }
    rule = ["viewed", "all_tasks_solved", "time", "explicit"][i % 4]
    doc: dict[str, Any] = {"id": lid, "kind": "lesson", "title": f"Lesson {i}"}
    if rule == "all_tasks_solved":
        doc["tasks"] = [
            {"id": f"{lid}/t{k}", "maxPoints": 1} for k in range(1, int(rng.integers(2, 5)))
        ]
    doc["completion"] = {"rule": rule, **({"seconds": 240} if rule == "time" else {})}
    return doc


def course_versions(spec: CourseSpec, start: datetime, days: int, seed: int) -> list[dict]:
    """Version 1 (a month before the start) and version 2 (mid-period): 3 modules of 4 lessons
    and a quiz, an assignment in the last; v2 adds a lesson to module 1, removes module 2's
    second lesson and moves module 3's first lesson to module 2."""
    rng = np.random.default_rng([seed, sum(map(ord, spec.course))])
    modules = []
    for m in range(1, 4):
        lessons = [_lesson(f"{spec.course}/m{m}/l{i}", "lesson", rng, i) for i in range(1, 5)]
        lessons.append(_lesson(f"{spec.course}/m{m}/quiz", "quiz", rng, m))
        if m == 3:
            lessons.append(_lesson(f"{spec.course}/m3/project", "assignment", rng, 1))
        modules.append({"id": f"{spec.course}/m{m}", "title": f"Module {m}", "lessons": lessons})
    v1 = {
        "course": spec.course,
        "title": spec.title,
        "version": 1,
        "publishedAt": (start - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modules": modules,
        "competencies": link_competencies(spec.course, modules),
    }
    v2_modules = json.loads(json.dumps(modules))
    v2_modules[0]["lessons"].insert(2, _lesson(f"{spec.course}/m1/l5", "lesson", rng, 5))
    del v2_modules[1]["lessons"][1]
    v2_modules[1]["lessons"].insert(0, v2_modules[2]["lessons"].pop(0))
    v2 = {
        **v1,
        "version": 2,
        "publishedAt": (start + timedelta(days=days // 2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modules": v2_modules,
    }
    return [v1, v2]


def link_competencies(course: str, modules: list[dict]) -> list[dict]:
    """Link each module's tasks and questions to the module's competency (`<course>-m<k>`),
    and every quiz question to the course-wide `<course>-review` as well; returns the
    course's competency declarations (the review one with a lower mastery threshold)."""
    for k, module in enumerate(modules, start=1):
        for lesson in module["lessons"]:
            for item in lesson.get("tasks", []):
                item["competencies"] = [f"{course}-m{k}"]
            for item in lesson.get("questions", []):
                item["competencies"] = [f"{course}-m{k}", f"{course}-review"]
    return [
        *(
            {"id": f"{course}-m{k}", "name": f"{course} module {k}"}
            for k in range(1, len(modules) + 1)
        ),
        {"id": f"{course}-review", "name": f"{course} review", "masteryThreshold": 0.9},
    ]


BADGE_RULES: list[dict[str, Any]] = [
    {
        "code": "first-module",
        "name": "First module",
        "description": "Complete any module",
        "points": 10,
        "rule": {"type": "module_completed"},
    },
    {
        "code": "graduate",
        "name": "Graduate",
        "points": 50,
        "rule": {"type": "course_completed"},
    },
    {
        "code": "ten-lessons",
        "name": "Ten lessons",
        "rule": {"type": "lessons_completed", "count": 10},
    },
    {"code": "streak-3", "name": "Three days running", "rule": {"type": "streak", "days": 3}},
    {"code": "busy-day", "name": "Busy day", "rule": {"type": "daily", "tasks": 5}},
    {"code": "quick", "name": "Quick thinker", "rule": {"type": "speed", "ms": 10000}},
    {"code": "ace", "name": "Quiz ace", "rule": {"type": "quiz_score", "minPercent": 100}},
    {
        "code": "py-skill",
        "name": "Python module 1 mastered",
        "rule": {"type": "competency_mastered", "competencyId": "py101-m1"},
    },
    {"code": "words-20", "name": "Twenty words", "rule": {"type": "words_learned", "count": 20}},
    {
        "code": "all-rounder",
        "name": "All-rounder",
        "points": 30,
        "rule": {
            "type": "all_of",
            "rules": [
                {"type": "module_completed", "moduleId": "py101/m1"},
                {
                    "type": "any_of",
                    "rules": [
                        {"type": "quiz_score", "minPercent": 75, "quizId": "py101/m1/quiz"},
                        {"type": "streak", "days": 5},
                    ],
                },
            ],
        },
    },
    {"code": "retired", "name": "Retired", "active": False, "rule": {"type": "streak", "days": 1}},
]


def write_badges(folder: Path) -> None:
    """`badges/`: the rules (a list in one file, one rule in another) and a bad rule (an
    unknown type), rejected while the others apply."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.json").write_text(json.dumps(BADGE_RULES[:-1], indent=1))
    (folder / "retired.json").write_text(json.dumps(BADGE_RULES[-1]))
    bad = {"code": "liker", "name": "Liker", "rule": {"type": "likes_given", "count": 3}}
    (folder / "zz-bad.json").write_text(json.dumps(bad))


def _lessons_in_order(version: dict) -> list[dict]:
    return [lesson for module in version["modules"] for lesson in module["lessons"]]


class _Learner:
    """One learner's walk through one course, appending events."""

    def __init__(
        self,
        user: str,
        spec: CourseSpec,
        versions: list[dict],
        switch_day: int,
        ability: float,
        pace: float,
        rng: np.random.Generator,
        config: LmsGeneratorConfig,
        new_id: Any,
    ) -> None:
        self.user, self.spec, self.versions, self.switch_day = user, spec, versions, switch_day
        self.ability, self.pace, self.rng, self.config, self.new_id = (
            ability,
            pace,
            rng,
            config,
            new_id,
        )
        self.events: list[dict[str, Any]] = []
        self.done: set[str] = set()
        self.solved: set[str] = set()
        self.session: str | None = None

    def emit(self, etype: str, at: datetime, node: str | None = None, **extra: Any) -> None:
        """Append one event; one that would happen after the period (a grade days after a
        late submission) has not happened yet when the landing is exported."""
        if at >= self.config.start + timedelta(days=self.config.days):
            return
        row = {
            "eventId": self.new_id(),
            "userId": self.user,
            "courseId": self.spec.course,
            "type": etype,
            "occurredAt": at,
            "nodeId": node,
            "sessionId": self.session,
            **extra,
        }
        self.events.append(row)

    def p_solve(self, tries: int) -> float:
        x = self.ability - self.spec.difficulty + 0.3 * (tries - 1) + 0.5
        return 1 / (1 + math.exp(-x))

    def study(self, lesson: dict, at: datetime) -> datetime:
        rng, lid = self.rng, lesson["id"]
        step = timedelta(seconds=int(rng.integers(20, 240)))
        if lesson["kind"] == "quiz":
            attempt = self.new_id()
            self.emit("quiz_started", at, lid, attemptId=attempt)
            points = 0
            for q in lesson["questions"]:
                at += step
                item = item_parameters(q["id"], self.spec.difficulty, self.config.seed)
                mark, ok = answer(item, self.ability, rng)
                points += mark
                self.emit(
                    "question_answered",
                    at,
                    q["id"],
                    attemptId=attempt,
                    correct=ok,
                    score=mark,
                    maxScore=q["maxPoints"],
                    timeSpentMs=int(rng.lognormal(9.5, 0.5)),
                )
            at += step
            self.emit("quiz_submitted", at, lid, attemptId=attempt)
            possible = sum(q["maxPoints"] for q in lesson["questions"])
            if points / possible * 100 >= lesson["passPercent"]:
                self.done.add(lid)
            return at
        if lesson["kind"] == "assignment":
            sub = self.new_id()
            self.emit("assignment_submitted", at, lid, submissionId=sub)
            score = float(np.clip(rng.normal(60 + 15 * self.ability, 15), 0, 100).round())
            graded = at + timedelta(days=int(rng.integers(1, 5)))
            self.emit("assignment_graded", graded, lid, submissionId=sub, score=score, maxScore=100)
            if score >= 50:
                self.done.add(lid)
            return at
        views = 2 if lesson["completion"]["rule"] == "time" and rng.random() < 0.7 else 1
        for _ in range(views):
            duration = int(rng.lognormal(11.5, 0.5))
            self.emit("lesson_viewed", at, lid, durationMs=min(duration, 3_600_000))
            at += step
        rule = lesson["completion"]["rule"]
        all_solved = True
        for task in lesson.get("tasks", []):
            if task["id"] in self.solved:
                continue
            for tries in range(1, 4):
                ok = bool(rng.random() < self.p_solve(tries))
                self.emit(
                    "task_attempted",
                    at,
                    task["id"],
                    tries=tries,
                    timeSpentMs=int(rng.lognormal(10, 0.6)),
                    solved=ok,
                )
                at += step
                if ok:
                    self.solved.add(task["id"])
                    break
                if rng.random() < 0.5:  # gives up for today; the retry comes another day
                    break
            all_solved &= task["id"] in self.solved
        if rule == "explicit":
            self.emit("lesson_completed", at, lid)
        if rule != "all_tasks_solved" or all_solved:
            self.done.add(lid)
        return at

    def run(self, enroll_day: int) -> None:
        rng, cfg = self.rng, self.config
        day = enroll_day
        at = cfg.start + timedelta(days=day, hours=int(rng.integers(7, 22)))
        self.session = self.new_id()
        self.emit("enrolled", at)
        paused = False
        while day < cfg.days:
            if paused:
                if rng.random() < self.spec.pause_return / 10:
                    paused = False
                    self.emit("resumed", cfg.start + timedelta(days=day, hours=9))
                else:
                    day += 1
                    continue
            if rng.random() < self.spec.drop_rate:
                stop_at = cfg.start + timedelta(days=day, hours=20)
                r = rng.random()
                if r < self.spec.withdraw_share:
                    self.emit("unenrolled", stop_at)
                    return
                if r < self.spec.withdraw_share + 0.3:
                    self.emit("paused", stop_at)
                    paused = True
                    continue
                return  # goes quiet
            if rng.random() < self.pace:
                at = cfg.start + timedelta(
                    days=day, hours=int(rng.integers(6, 22)), minutes=int(rng.integers(0, 60))
                )
                self.session = self.new_id() if rng.random() < 0.8 else None
                version = self.versions[1 if day >= self.switch_day else 0]
                todo = [les for les in _lessons_in_order(version) if les["id"] not in self.done]
                if not todo:
                    self.emit("course_completed", at)
                    return
                for lesson in todo[: int(rng.integers(1, 3))]:
                    at = self.study(lesson, at) + timedelta(minutes=int(rng.integers(1, 5)))
            day += 1


def simulate(config: LmsGeneratorConfig) -> tuple[list[dict], dict[str, list[dict]], list[str]]:
    """(events, course versions by course, learner ids), deterministic for `config.seed`."""
    rng = np.random.default_rng(config.seed)
    users = uuids(rng, config.learners).to_list()

    def new_id() -> str:
        return str(uuid.UUID(bytes=rng.bytes(16), version=4))

    versions = {
        s.course: course_versions(s, config.start, config.days, config.seed) for s in config.courses
    }
    switch = config.days // 2
    events: list[dict] = []
    for user in users:
        ability = float(rng.normal())
        pace = float(np.clip(rng.lognormal(-1.2, 0.5), 0.05, 0.95))
        n = 1 if rng.random() < 0.7 else 2
        for c in rng.choice(len(config.courses), size=n, replace=False):
            spec = config.courses[int(c)]
            learner = _Learner(
                user,
                spec,
                versions[spec.course],
                switch,
                ability,
                pace,
                rng,
                config,
                new_id,
            )
            learner.run(int(rng.integers(0, max(1, config.days * 2 // 3))))
            events += learner.events
    return events, versions, users


XAPI_VERBS = {
    "enrolled": ("registered", "course"),
    "lesson_viewed": ("experienced", "lesson"),
    "lesson_completed": ("completed", "lesson"),
    "quiz_started": ("attempted", "assessment"),
    "quiz_submitted": ("completed", "assessment"),
    "question_answered": ("answered", "cmi.interaction"),
}


def _ms_duration(ms: int | None) -> str | None:
    return None if ms is None else f"PT{ms / 1000:.3f}S"


def to_statement(e: dict) -> dict:
    """An event as the xAPI statement an LRS would hold (Moodle logstore_xapi's shape)."""
    verb, activity = XAPI_VERBS[e["type"]]
    course_iri = f"{XAPI_HOME}/course/{e['courseId']}"
    obj = course_iri if e["nodeId"] is None else f"{XAPI_HOME}/activity/{e['nodeId']}"
    st: dict[str, Any] = {
        "id": e["eventId"],
        "actor": {"objectType": "Agent", "account": {"homePage": XAPI_HOME, "name": e["userId"]}},
        "verb": {"id": ADL_VERB + verb, "display": {"en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": obj,
            "definition": {"type": ADL_ACTIVITY + activity},
        },
        "timestamp": e["occurredAt"].strftime(ISO),
        "context": {
            "platform": "Moodle",
            "contextActivities": {
                "grouping": [{"id": XAPI_HOME}, {"id": course_iri}],
            },
        },
        "version": "1.0.3",
    }
    if e.get("attemptId"):
        st["context"]["registration"] = e["attemptId"]
    result: dict[str, Any] = {}
    if e["type"] == "question_answered":
        result = {
            "success": e["correct"],
            "score": {"raw": e["score"], "min": 0, "max": e["maxScore"]},
            "duration": _ms_duration(e["timeSpentMs"]),
        }
    elif e.get("durationMs") is not None:
        result = {"duration": _ms_duration(e["durationMs"])}
    if result:
        st["result"] = result
    return st


EVENT_COLUMNS = (
    "eventId",
    "userId",
    "courseId",
    "type",
    "occurredAt",
    "nodeId",
    "sessionId",
    "platform",
    "durationMs",
    "position",
    "tries",
    "timeSpentMs",
    "solved",
    "score",
    "maxScore",
    "attemptId",
    "correct",
    "response",
    "submissionId",
    "graderId",
)


def _frame(events: list[dict]) -> pl.DataFrame:
    rows = [{c: e.get(c) for c in EVENT_COLUMNS} for e in events]
    return pl.DataFrame(
        rows,
        schema={
            **{c: pl.String for c in EVENT_COLUMNS},
            "occurredAt": pl.Datetime("us", "UTC"),
            "durationMs": pl.Int64,
            "position": pl.Int64,
            "tries": pl.Int64,
            "timeSpentMs": pl.Int64,
            "solved": pl.Boolean,
            "score": pl.Float64,
            "maxScore": pl.Float64,
            "correct": pl.Boolean,
        },
    )


def dirty_rows(good: dict, start: datetime) -> list[str]:
    """One JSON line per event reject reason (and an unparseable line), made from a good
    `task_attempted` event."""

    def variant(**changes: Any) -> str:
        row = {**good, **changes}
        return json.dumps({k: v for k, v in row.items() if v is not None})

    late = (start + timedelta(days=3650)).strftime(ISO)
    return [
        '{"eventId": "broken',
        variant(userId=None),  # missing_field
        variant(eventId="not-a-uuid"),  # invalid_uuid
        variant(type="lesson_liked"),  # unknown_type
        variant(tries=0),  # invalid_value
        variant(timeSpentMs=-5),  # time_out_of_range
        variant(
            type="assignment_graded",
            nodeId=good["nodeId"].rsplit("/", 2)[0] + "/project",
            submissionId="x",
            score=120,
            maxScore=100,
        ),  # score_out_of_range (or kind)
        variant(occurredAt="last tuesday"),  # invalid_timestamp
        variant(occurredAt="1999-01-01T00:00:00Z"),  # timestamp_too_early
        variant(occurredAt=late),  # timestamp_in_future
        variant(courseId="ds201" if good["courseId"] != "ds201" else "py101"),  # mismatch
        variant(type="quiz_started", attemptId="a"),  # wrong_node_kind (a task)
        variant(solved=not good["solved"]),  # conflicting_duplicate
        variant(),  # a client retry: a duplicate
        variant(eventId=None),  # missing_field again
    ]


def generate_lms_landing(folder: Path, config: LmsGeneratorConfig) -> LmsGeneratorResult:
    """Write `courses/`, `paths/`, `events/` and `xapi/` under `folder` (deterministic)."""
    result = LmsGeneratorResult()
    events, versions, users = simulate(config)
    for sub in ("courses", "paths", "events", "xapi"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for course, docs in versions.items():
        for doc in docs:
            path = folder / "courses" / f"{course}-v{doc['version']}.json"
            path.write_text(json.dumps(doc, indent=1))
    for pid, (title, courses) in PATHS.items():
        (folder / "paths" / f"{pid}.json").write_text(
            json.dumps({"path": pid, "title": title, "courses": courses})
        )
    # rejected course documents: malformed, and version 1 reused with other content
    first = versions[config.courses[0].course][0]
    (folder / "courses" / "zz-broken.json").write_text('{"course": "py101", "version": ')
    (folder / "courses" / "zz-conflict.json").write_text(json.dumps({**first, "title": "Other"}))
    write_badges(folder / "badges")
    lrs = set(users[: int(len(users) * config.xapi_share)])
    statements = [e for e in events if e["userId"] in lrs and e["type"] in XAPI_VERBS]
    native = [e for e in events if not (e["userId"] in lrs and e["type"] in XAPI_VERBS)]
    frame = _frame(native).sort("occurredAt", "eventId")
    month = frame["occurredAt"].dt.strftime("%Y-%m")
    # each learner's client writes one format: web JSON Lines, mobile gzip CSV, export Parquet
    platform = frame["userId"].replace_strict(
        {u: i % 3 for i, u in enumerate(users)}, return_dtype=pl.Int8
    )
    for key in month.unique(maintain_order=True).to_list():
        for kind in range(3):
            part = frame.filter((month == key) & (platform == kind))
            if part.height:
                result.files.append(str(_write_events(folder / "events", part, kind, key)))
    result.events_written = frame.height
    xapi_lines = [json.dumps(to_statement(e)) for e in statements]
    unmapped = {
        "id": str(uuids(np.random.default_rng([config.seed, 9]), 1)[0]),
        "actor": {"account": {"homePage": XAPI_HOME, "name": users[0]}},
        "verb": {"id": "http://id.tincanapi.com/verb/bookmarked"},
        "object": {"id": f"{XAPI_HOME}/activity/x", "definition": {"type": ADL_ACTIVITY + "link"}},
        "timestamp": config.start.strftime(ISO),
    }
    xapi_lines.append(json.dumps(unmapped))
    (folder / "xapi" / "lrs-export.jsonl").write_text("\n".join(xapi_lines) + "\n")
    result.statements_written = len(xapi_lines)
    good = next(e for e in native if e["type"] == "task_attempted")
    good_json = {k: v for k, v in good.items() if v is not None}
    good_json["occurredAt"] = good["occurredAt"].strftime(ISO)
    orphan = {
        **good_json,
        "eventId": str(uuids(np.random.default_rng([config.seed, 8]), 1)[0]),
        "nodeId": good["courseId"] + "/m9/retired-lesson",
        "type": "lesson_viewed",
    }
    for k in ("tries", "timeSpentMs", "solved"):
        orphan.pop(k, None)
    lines = [*dirty_rows(good_json, config.start), json.dumps(orphan)]
    (folder / "events" / "web-dirty.jsonl").write_text("\n".join(lines) + "\n")
    result.dirty_rows = len(lines) - 2  # the duplicate and the orphan are accepted
    return result


def _write_events(folder: Path, part: pl.DataFrame, kind: int, key: str) -> Path:
    if kind == 0:  # web: JSON Lines, camelCase, ISO-8601
        path = folder / f"web-{key}.jsonl"
        text = "\n".join(
            json.dumps({k: v for k, v in r.items() if v is not None}, default=_iso)
            for r in part.iter_rows(named=True)
        )
        path.write_text(text + "\n")
    elif kind == 1:  # mobile: gzip CSV, snake_case, epoch milliseconds
        path = folder / f"mobile-{key}.csv.gz"
        snake = part.rename({c: _snake(c) for c in part.columns}).with_columns(
            pl.col("occurred_at").dt.epoch("ms")
        )
        path.write_bytes(gzip.compress(snake.write_csv().encode(), mtime=0))
    else:  # the data export: Parquet, typed
        path = folder / f"export-{key}.parquet"
        part.write_parquet(path)
    return path


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime(ISO)
    raise TypeError(type(value))


def _snake(name: str) -> str:
    out = "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
    return out.lstrip("_")
