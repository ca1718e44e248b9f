"""`badge_rules`, `badge_rule_rejects` and `user_badges` (lms.md section 3): declarative badge
rules from `$PROGRESS_LANDING/badges/*.json` and a small rules engine over the history.

Every rule type holds from a first moment on and never stops holding (a completion, a streak
reached, a score reached are facts of the past), so a rule is evaluated as one frame per type
— (user_id, held_at), the time of the event at which it first held — with group-bys over the
whole history, and `all_of` / `any_of` are the latest / earliest of their children's times
(a user missing a child of `all_of` has not earned it). Awards are sticky: `merge_awards` keeps
every award stored before and adds the new ones only, so none is revoked or given twice (a
late-arriving event that shows an award held earlier moves its time earlier).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from transforms.ingest.fields import BADGE_REASONS
from transforms.lms.activity import USER

REASONS: dict[str, str] = {r.code: r.when for r in BADGE_REASONS}
COMPOSITES = ("all_of", "any_of")


@dataclass(frozen=True)
class Param:
    kind: str  # "id" (non-empty string), "count" (integer >= 1), "number" (> 0), "percent"
    required: bool


# rule type -> its parameters; the one naming a node or competency is the award's context
RULE_PARAMS: dict[str, dict[str, Param]] = {
    "module_completed": {"moduleId": Param("id", False)},
    "course_completed": {"courseId": Param("id", False)},
    "lessons_completed": {"count": Param("count", True)},
    "streak": {"days": Param("count", True)},
    "daily": {"tasks": Param("count", True)},
    "speed": {"ms": Param("number", True)},
    "quiz_score": {"minPercent": Param("percent", True), "quizId": Param("id", False)},
    "competency_mastered": {"competencyId": Param("id", False)},
    "words_learned": {"count": Param("count", True)},
}
CONTEXT_PARAMS = ("moduleId", "courseId", "quizId", "competencyId")
RULE_SCHEMA: dict[str, pl.DataType] = {
    "badge_code": pl.String(),
    "name": pl.String(),
    "description": pl.String(),
    "points": pl.Float64(),
    "active": pl.Boolean(),
    "rule_type": pl.String(),
    "rule": pl.String(),  # the rule object as canonical JSON
    "context": pl.String(),
    "source": pl.String(),
}
REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "item": pl.Int32(),  # position of the rule in its file's list (0 for a single object)
    "badge_code": pl.String(),
    "reason": pl.String(),
    "message": pl.String(),
}
AWARD_SCHEMA: dict[str, pl.DataType] = {
    USER: pl.String(),
    "badge_code": pl.String(),
    "context": pl.String(),
    "awarded_at": pl.Datetime("us"),
    "name": pl.String(),
    "points": pl.Float64(),
}
HELD_SCHEMA: dict[str, pl.DataType] = {USER: pl.String(), "held_at": pl.Datetime("us")}


class RuleError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"reject reason {reason!r} is not in BADGE_REASONS")
        super().__init__(message)
        self.reason, self.message = reason, message


def _check(ok: bool, reason: str, message: str) -> None:
    if not ok:
        raise RuleError(reason, message)


def _valid_param(value: object, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "id":
        return isinstance(value, str) and value.strip() != ""
    if kind == "count":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if kind == "number":
        return number and value > 0  # type: ignore[operator]
    return number and 0 <= value <= 100  # type: ignore[operator]


def validate_rule(rule: object, where: str = "rule") -> dict[str, Any]:
    """A rule object checked against `RULE_PARAMS` (nested `all_of`/`any_of` included); an
    unknown field is an error too, so a misspelt `moduleID` cannot widen a rule to any module."""
    _check(isinstance(rule, dict), "invalid_structure", f"{where} is not an object")
    assert isinstance(rule, dict)
    rtype = rule.get("type")
    _check(isinstance(rtype, str), "invalid_structure", f"{where} has no string `type`")
    if rtype in COMPOSITES:
        children = rule.get("rules")
        _check(
            isinstance(children, list) and len(children) > 0,
            "invalid_structure",
            f"{where}: {rtype} needs a non-empty list `rules`",
        )
        extra = set(rule) - {"type", "rules"}
        _check(not extra, "invalid_structure", f"{where}: unknown field(s) {sorted(extra)}")
        assert isinstance(children, list)
        return {
            "type": rtype,
            "rules": [validate_rule(c, f"{where}.rules[{i}]") for i, c in enumerate(children)],
        }
    _check(rtype in RULE_PARAMS, "unknown_rule_type", f"{where}: unknown rule type {rtype!r}")
    params = RULE_PARAMS[str(rtype)]
    extra = set(rule) - {"type", *params}
    _check(not extra, "invalid_structure", f"{where}: unknown field(s) {sorted(extra)}")
    for name, param in params.items():
        if name not in rule:
            _check(not param.required, "invalid_structure", f"{where}: {rtype} needs `{name}`")
            continue
        _check(
            _valid_param(rule[name], param.kind),
            "invalid_structure",
            f"{where}: `{name}` = {rule[name]!r} is not a valid {param.kind}",
        )
    return dict(rule)


def _badge(doc: object) -> dict[str, object]:
    _check(isinstance(doc, dict), "invalid_structure", "a badge rule is not an object")
    assert isinstance(doc, dict)
    code = doc.get("code")
    _check(isinstance(code, str) and code.strip() != "", "invalid_structure", "no string `code`")
    name = doc.get("name")
    _check(isinstance(name, str) and name != "", "invalid_structure", f"{code}: no string `name`")
    description = doc.get("description")
    _check(
        description is None or isinstance(description, str),
        "invalid_structure",
        f"{code}: `description` is not a string",
    )
    points = doc.get("points", 0)
    _check(
        isinstance(points, int | float) and not isinstance(points, bool) and points >= 0,
        "invalid_structure",
        f"{code}: `points` must be a non-negative number",
    )
    active = doc.get("active", True)
    _check(isinstance(active, bool), "invalid_structure", f"{code}: `active` is not a boolean")
    _check("rule" in doc, "invalid_structure", f"{code}: no `rule`")
    rule = validate_rule(doc["rule"])
    context = next((rule[k] for k in CONTEXT_PARAMS if k in rule), None)
    return {
        "badge_code": code,
        "name": name,
        "description": description,
        "points": float(points),  # type: ignore[arg-type]
        "active": active,
        "rule_type": rule["type"],
        "rule": json.dumps(rule, sort_keys=True, separators=(",", ":")),
        "context": context,
    }


def parse_badge_rules(documents: list[tuple[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(`badge_rules`, `badge_rule_rejects`) from `(source, text)` files, each one rule object
    or a list of them. A bad rule is rejected with its reason; the others still apply; a code
    defined twice keeps its first definition (files in name order)."""
    rules: list[dict[str, object]] = []
    rejects: list[dict[str, object]] = []
    seen: set[str] = set()
    for source, text in documents:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            rejects.append(
                {
                    "source": source,
                    "item": 0,
                    "badge_code": None,
                    "reason": "malformed_json",
                    "message": f"not valid JSON: {exc}",
                }
            )
            continue
        for item, entry in enumerate(doc if isinstance(doc, list) else [doc]):
            code = entry.get("code") if isinstance(entry, dict) else None
            try:
                row = _badge(entry)
                _check(
                    row["badge_code"] not in seen,
                    "duplicate_badge_code",
                    f"badge code {row['badge_code']!r} is already defined",
                )
            except RuleError as err:
                rejects.append(
                    {
                        "source": source,
                        "item": item,
                        "badge_code": code if isinstance(code, str) else None,
                        "reason": err.reason,
                        "message": err.message,
                    }
                )
                continue
            seen.add(str(row["badge_code"]))
            rules.append({**row, "source": source})
    return pl.DataFrame(rules, schema=RULE_SCHEMA), pl.DataFrame(rejects, schema=REJECT_SCHEMA)


@dataclass(frozen=True)
class BadgeFacts:
    """What the rules read. `events` (user_id, course_id, type, occurred_at, node_id, tries,
    time_spent_ms, solved, event_id): every learning event, the language app's attempts as
    `task_attempted`; `modules` (user_id, module_id, completed_at), `courses` (user_id,
    course_id, completed_at), `lessons` (user_id, lesson_id, completed_at): sticky
    completions; `quizzes` (user_id, quiz_id, submitted_at, score_percent): submitted
    attempts; `competencies` (user_id, competency_id, acquired_at); `words` (user_id, item_id,
    solved_at): the language courses' learned words. `derived` caches what several rules
    share (the runs of active days, the day's solves)."""

    events: pl.DataFrame
    modules: pl.DataFrame
    courses: pl.DataFrame
    lessons: pl.DataFrame
    quizzes: pl.DataFrame
    competencies: pl.DataFrame
    words: pl.DataFrame
    derived: dict[str, pl.DataFrame] = field(default_factory=dict, compare=False)


def _first(frame: pl.DataFrame, at: str) -> pl.DataFrame:
    return (
        frame.filter(pl.col(at).is_not_null())
        .group_by(USER)
        .agg(pl.col(at).min().alias("held_at"))
        .cast(HELD_SCHEMA)  # type: ignore[arg-type]
    )


def _nth(frame: pl.DataFrame, at: str, count: int) -> pl.DataFrame:
    """When the `count`-th row of each user (in time) happened."""
    return (
        frame.filter(pl.col(at).is_not_null())
        .select(USER, pl.col(at).alias("held_at"))
        .group_by(USER)
        .agg(pl.col("held_at").sort().get(count - 1, null_on_oob=True))
        .drop_nulls("held_at")
        .cast(HELD_SCHEMA)  # type: ignore[arg-type]
    )


def _named(frame: pl.DataFrame, column: str, rule: dict[str, Any], param: str) -> pl.DataFrame:
    return frame.filter(pl.col(column) == rule[param]) if param in rule else frame


def _runs(facts: BadgeFacts) -> pl.DataFrame:
    """(user_id, run_day, first_at): each UTC day with an event, its first event's time, and
    its place in the run of consecutive days it belongs to (1 for a run's first day).
    Computed once per history (`facts.derived`), whatever the streak lengths asked."""
    if "runs" not in facts.derived:
        days = (
            facts.events.group_by(USER, pl.col("occurred_at").dt.date().cast(pl.Int32).alias("_d"))
            .agg(pl.col("occurred_at").min().alias("first_at"))
            .sort(USER, "_d")
        )
        row = pl.int_range(pl.len(), dtype=pl.Int64)
        starts = (pl.col(USER) != pl.col(USER).shift(1)).fill_null(True) | (
            pl.col("_d") != pl.col("_d").shift(1) + 1
        ).fill_null(True)
        facts.derived["runs"] = days.select(
            USER,
            (row - pl.when(starts).then(row).forward_fill() + 1).alias("run_day"),
            "first_at",
        )
    return facts.derived["runs"]


def _streak(facts: BadgeFacts, rule: dict[str, Any]) -> pl.DataFrame:
    """The first event of the `days`-th consecutive UTC day with an event."""
    return _first(_runs(facts).filter(pl.col("run_day") >= rule["days"]), "first_at")


def _solve_ranks(facts: BadgeFacts) -> pl.DataFrame:
    """(user_id, solve_rank, at): each task's first solve on a UTC day, numbered in time order
    within the learner's day (computed once per history)."""
    if "solves" not in facts.derived:
        solved = facts.events.filter(
            (pl.col("type") == "task_attempted") & pl.col("solved").fill_null(False)
        )
        firsts = (
            solved.group_by(USER, pl.col("occurred_at").dt.date().alias("_d"), "node_id")
            .agg(pl.col("occurred_at").min().alias("at"))
            .sort(USER, "_d", "at")
        )
        row = pl.int_range(pl.len(), dtype=pl.Int64)
        starts = (pl.col(USER) != pl.col(USER).shift(1)).fill_null(True) | (
            pl.col("_d") != pl.col("_d").shift(1)
        ).fill_null(True)
        facts.derived["solves"] = firsts.select(
            USER, (row - pl.when(starts).then(row).forward_fill() + 1).alias("solve_rank"), "at"
        )
    return facts.derived["solves"]


def _daily(facts: BadgeFacts, rule: dict[str, Any]) -> pl.DataFrame:
    """The solve that made `tasks` distinct tasks solved on one UTC day."""
    return _first(_solve_ranks(facts).filter(pl.col("solve_rank") == rule["tasks"]), "at")


def _speed(facts: BadgeFacts, rule: dict[str, Any]) -> pl.DataFrame:
    fast = facts.events.filter(
        (pl.col("type") == "task_attempted")
        & pl.col("solved").fill_null(False)
        & (pl.col("tries") == 1)
        & (pl.col("time_spent_ms") < rule["ms"])
    )
    return _first(fast, "occurred_at")


PRIMITIVES: dict[str, Callable[[BadgeFacts, dict[str, Any]], pl.DataFrame]] = {
    "module_completed": lambda f, r: _first(
        _named(f.modules, "module_id", r, "moduleId"), "completed_at"
    ),
    "course_completed": lambda f, r: _first(
        _named(f.courses, "course_id", r, "courseId"), "completed_at"
    ),
    "lessons_completed": lambda f, r: _nth(f.lessons, "completed_at", r["count"]),
    "streak": _streak,
    "daily": _daily,
    "speed": _speed,
    "quiz_score": lambda f, r: _first(
        _named(f.quizzes, "quiz_id", r, "quizId").filter(
            pl.col("score_percent") >= r["minPercent"]
        ),
        "submitted_at",
    ),
    "competency_mastered": lambda f, r: _first(
        _named(f.competencies, "competency_id", r, "competencyId"), "acquired_at"
    ),
    "words_learned": lambda f, r: _nth(f.words, "solved_at", r["count"]),
}


def rule_held(facts: BadgeFacts, rule: dict[str, Any]) -> pl.DataFrame:
    """(user_id, held_at): when `rule` first held for each user it holds for."""
    if rule["type"] in COMPOSITES:
        parts = [rule_held(facts, child) for child in rule["rules"]]
        stacked = pl.concat(
            [p.with_columns(pl.lit(i).alias("_child")) for i, p in enumerate(parts)]
        )
        grouped = stacked.group_by(USER)
        if rule["type"] == "any_of":
            return grouped.agg(pl.col("held_at").min()).cast(HELD_SCHEMA)  # type: ignore[arg-type]
        return (
            grouped.agg(pl.col("held_at").max(), pl.col("_child").n_unique().alias("_n"))
            .filter(pl.col("_n") == len(parts))
            .drop("_n")
            .cast(HELD_SCHEMA)  # type: ignore[arg-type]
        )
    return PRIMITIVES[rule["type"]](facts, rule)


def evaluate_badges(rules: pl.DataFrame, facts: BadgeFacts) -> pl.DataFrame:
    """Every active rule's awards from the history: one row per (user_id, badge_code,
    context), awarded at the time of the event at which the rule first held."""
    frames = [
        rule_held(facts, json.loads(row["rule"])).select(
            USER,
            pl.lit(row["badge_code"]).alias("badge_code"),
            pl.lit(row["context"], dtype=pl.String).alias("context"),
            pl.col("held_at").alias("awarded_at"),
            pl.lit(row["name"]).alias("name"),
            pl.lit(row["points"], dtype=pl.Float64).alias("points"),
        )
        for row in rules.filter("active").iter_rows(named=True)
    ]
    awards = pl.concat(frames) if frames else pl.DataFrame(schema=AWARD_SCHEMA)
    return awards.cast(AWARD_SCHEMA).sort(USER, "badge_code")  # type: ignore[arg-type]


def merge_awards(previous: pl.DataFrame | None, computed: pl.DataFrame) -> pl.DataFrame:
    """`user_badges`: every award stored before (never revoked, even when its rule is
    deactivated or the history no longer shows it) and the computed awards not given before
    (never twice). A stored award that the history shows held earlier (events that arrived
    late) takes the earlier time, so daily runs and one run over everything agree."""
    if previous is None or previous.height == 0:
        return computed
    keys = [USER, "badge_code"]
    kept = previous.select(list(AWARD_SCHEMA)).cast(AWARD_SCHEMA)  # type: ignore[arg-type]
    earlier = computed.select(*keys, pl.col("awarded_at").alias("_computed"))
    kept = kept.join(earlier, on=keys, how="left").with_columns(
        pl.min_horizontal("awarded_at", "_computed").alias("awarded_at")
    )
    new = computed.join(kept, on=keys, how="anti")
    return pl.concat([kept.drop("_computed"), new]).sort(USER, "badge_code")
