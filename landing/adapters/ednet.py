"""EdNet KT4 action logs (Santa TOEIC) as a course-platform landing (lms.md).

Mapping: one course `toeic`; module = TOEIC part (`toeic/p<part>`, lectures of no part in
`toeic/p0`); lesson = a lecture (`viewed`) or a question bundle (a quiz passed at 50%);
question = question (one point, 3 choices in part 2, else 4). Actions: a learner's first action
→ `enrolled`; `enter` a bundle → `quiz_started` (the attempt runs until its `submit`);
`respond` → `question_answered` (correct when the answer is the question's `correct_answer`;
time = since the learner's previous action, at most an hour; a later answer in the same attempt
replaces it); `submit` → `quiz_submitted`; `enter` a lecture → `lesson_viewed`. Audio and video
controls, erasing a choice, quitting and paying add nothing. User ids are UUIDv5 of the file
name; event ids UUIDv5 of (user, row).
"""

from __future__ import annotations

import argparse
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

DEFAULT_SOURCE = Path("data/real/ednet-kt4-sample")
NAMESPACE = uuid.UUID("0b6c7a1e-2f55-4c1e-8f7e-6f2d4a9b3c21")
COURSE = "toeic"
MAX_MS = 3_600_000
PUBLISHED = "2019-01-01T00:00:00Z"


def _num(item: str) -> int:
    return int(re.sub(r"\D", "", item) or 0)


def course_tree(questions: pl.DataFrame, lectures: pl.DataFrame) -> dict:
    """The course document: parts as modules, lectures then bundles in id order."""
    q = questions.with_columns(pl.col("part").cast(pl.Int32))
    lec = lectures.with_columns(pl.col("part").cast(pl.Int32).clip(lower_bound=0))
    modules = []
    for part in sorted(set(q["part"].to_list()) | set(lec["part"].to_list())):
        mid = f"{COURSE}/p{part}"
        lessons: list[dict] = [
            {
                "id": f"{mid}/{lid}",
                "kind": "lesson",
                "title": f"Lecture {lid}",
                "completion": {"rule": "viewed"},
            }
            for lid in sorted(lec.filter(part=part)["lecture_id"].to_list(), key=_num)
        ]
        bundles = q.filter(part=part).group_by("bundle_id").agg(pl.col("question_id"))
        for row in sorted(bundles.iter_rows(named=True), key=lambda r: _num(r["bundle_id"])):
            bid = f"{mid}/{row['bundle_id']}"
            lessons.append(
                {
                    "id": bid,
                    "kind": "quiz",
                    "title": f"Bundle {row['bundle_id']}",
                    "passPercent": 50,
                    "completion": {"rule": "passed"},
                    "questions": [
                        {"id": f"{bid}/{qid}", "maxPoints": 1, "options": 3 if part == 2 else 4}
                        for qid in sorted(row["question_id"], key=_num)
                    ],
                }
            )
        modules.append(
            {"id": mid, "title": f"Part {part}" if part else "General", "lessons": lessons}
        )
    return {
        "course": COURSE,
        "title": "TOEIC (Santa, EdNet KT4)",
        "version": 1,
        "publishedAt": PUBLISHED,
        "modules": modules,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_events(
    user: str, log: pl.DataFrame, questions: pl.DataFrame, lectures: pl.DataFrame
) -> list[dict]:
    """One learner's actions as learning events (see the module docstring)."""
    learner = str(uuid.uuid5(NAMESPACE, f"ednet:{user}"))
    part_of_q = dict(zip(questions["question_id"], questions["part"], strict=True))
    bundle_of_q = dict(zip(questions["question_id"], questions["bundle_id"], strict=True))
    answer_of_q = dict(zip(questions["question_id"], questions["correct_answer"], strict=True))
    part_of_b = dict(zip(questions["bundle_id"], questions["part"], strict=False))
    part_of_l = {
        k: max(int(v), 0) for k, v in zip(lectures["lecture_id"], lectures["part"], strict=True)
    }
    events: list[dict] = []
    attempts: dict[str, str] = {}
    previous: int | None = None

    def emit(
        n: int, etype: str, ts: int, node: str | None, platform: str | None, **f: object
    ) -> None:
        events.append(
            {
                "eventId": str(uuid.uuid5(NAMESPACE, f"{user}:{n}:{etype}")),
                "userId": learner,
                "courseId": COURSE,
                "type": etype,
                "occurredAt": _iso(ts),
                **({"nodeId": node} if node else {}),
                **({"platform": platform} if platform else {}),
                **f,
            }
        )

    for n, row in enumerate(log.sort("timestamp", maintain_order=True).iter_rows(named=True)):
        ts, action, item, platform = (
            row["timestamp"],
            row["action_type"],
            row["item_id"],
            row["platform"],
        )
        if n == 0:
            emit(n, "enrolled", ts, None, platform)
        if item and item.startswith("b") and item in part_of_b:
            node = f"{COURSE}/p{part_of_b[item]}/{item}"
            if action == "enter":
                attempts[item] = f"{learner}:{item}:{ts}"
                emit(n, "quiz_started", ts, node, platform, attemptId=attempts[item])
            elif action == "submit" and item in attempts:
                emit(n, "quiz_submitted", ts, node, platform, attemptId=attempts.pop(item))
        elif item and item.startswith("q") and action == "respond" and item in part_of_q:
            bundle = bundle_of_q[item]
            attempt = attempts.get(bundle)
            if attempt is not None:
                ok = row["user_answer"] == answer_of_q[item]
                spent = min(max(ts - (previous if previous is not None else ts), 0), MAX_MS)
                emit(
                    n,
                    "question_answered",
                    ts,
                    f"{COURSE}/p{part_of_q[item]}/{bundle}/{item}",
                    platform,
                    attemptId=attempt,
                    correct=ok,
                    score=int(ok),
                    maxScore=1,
                    timeSpentMs=spent,
                )
        elif item and item.startswith("l") and action == "enter" and item in part_of_l:
            emit(n, "lesson_viewed", ts, f"{COURSE}/p{part_of_l[item]}/{item}", platform)
        previous = ts
    return events


def write_landing(source: Path, out: Path) -> tuple[int, int]:
    """Write `courses/toeic-v1.json` and `events/ednet.jsonl`; returns (learners, events)."""
    questions = pl.read_csv(source / "questions.csv", infer_schema_length=None)
    lectures = pl.read_csv(source / "lectures.csv", infer_schema_length=None)
    (out / "courses").mkdir(parents=True, exist_ok=True)
    (out / "events").mkdir(parents=True, exist_ok=True)
    (out / "courses" / f"{COURSE}-v1.json").write_text(json.dumps(course_tree(questions, lectures)))
    events: list[dict] = []
    files = sorted(source.glob("u*.csv"), key=lambda p: _num(p.stem))
    for path in files:
        log = pl.read_csv(path, schema_overrides={"user_answer": pl.String, "item_id": pl.String})
        events += to_events(path.stem, log, questions, lectures)
    (out / "events" / "ednet.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return len(files), len(events)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Turn the EdNet KT4 sample into an LMS landing.")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    learners, events = write_landing(args.source, args.out)
    print(f"wrote {events:,} events of {learners} learners and the TOEIC course to {args.out}")


if __name__ == "__main__":
    main()
