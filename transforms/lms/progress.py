"""The progress tables of lms.md section 3, from course trees and learning events, as of a moment.

Progress is judged against each course's newest version in force as of; completion is sticky:
a lesson, module or course once completed stays completed when a later version adds content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

import polars as pl
import polars.selectors as cs

from transforms.lms.activity import (
    USER,
    assignment_grades,
    best_scores,
    event_solves,
    lesson_completions,
    lesson_items,
    quiz_attempt_scores,
    timed_events,
)
from transforms.lms.courses import RESERVED_PREFIX
from transforms.lms.events import COURSE_LEVEL, EVENT_TYPES
from transforms.lms.language import word_task_state
from transforms.lms.tasks import STATUSES as TASK_STATUSES
from transforms.lms.tasks import task_queue, task_state
from transforms.lms.tree import (
    current_nodes,
    is_lesson,
    is_required_lesson,
    node_attributes,
    versions_as_of,
)
from transforms.registry import MetricTable, build_all
from transforms.sm2 import SM2Params

LIFECYCLE = ("enrolled", "paused", "resumed", "unenrolled")
ENROLLMENT_STATUSES = ("active", "paused", "completed", "withdrawn")
PROGRESS_STATUSES = ("not_started", "in_progress", "completed")
RATE_DAYS = 28  # the window of the completion estimate's pace


@dataclass(frozen=True)
class LmsInputs:
    """`versions` and `nodes` as `course_versions`/`course_nodes`; `events` as `lms_events`;
    `paths` as `learning_paths`; `solves` (user_id, item_id, solved_at) are the solved tasks
    of the language courses (`lang:<code>`: a word is solved when learned, not when answered;
    their attempts are `task_attempted` events) and `cards` their SM-2 cards' state
    (`language.card_states`), which is their `task_state`'s retry queue. `task_medians`
    (node_id, median_time_ms): each task's median attempt time over every learner, given when
    `events` hold only some learners' (`transforms.lms.nightly`). `learners`: every user_id
    the frames hold (or more), sorted and unique, when the reader knows them (a group of a full
    build): `encode_ids` then takes them as they are instead of collecting them."""

    versions: pl.DataFrame
    nodes: pl.DataFrame
    events: pl.DataFrame
    paths: pl.DataFrame
    solves: pl.DataFrame | None = None
    cards: pl.DataFrame | None = None
    task_medians: pl.DataFrame | None = None
    learners: pl.Series | None = None


def _pct(done: pl.Expr, total: pl.Expr) -> pl.Expr:
    return pl.when(total > 0).then(done / total * 100)


class CourseParts:
    """The course platform as of a moment, shared by the progress and assessment builders:
    the course versions in force, their nodes' attributes and the timed events (each computed
    once, when first used)."""

    def __init__(self, inputs: LmsInputs, as_of: datetime) -> None:
        self.inputs = inputs
        self.as_of = as_of

    @cached_property
    def in_force(self) -> pl.DataFrame:
        return versions_as_of(self.inputs.versions, self.as_of)

    @cached_property
    def attrs(self) -> pl.DataFrame:
        return node_attributes(self.inputs.nodes, self.in_force)

    @cached_property
    def events(self) -> pl.DataFrame:
        courses = self.in_force["course_id"].unique()
        as_of = self.inputs.events.filter(pl.col("occurred_at") <= self.as_of)
        return timed_events(as_of, self.attrs, courses)


class LmsParts(CourseParts):
    """What the progress tables' builders share: the course platform as of (`CourseParts`),
    the SM-2 parameters of the task queue, and the intermediate frames several tables derive
    from."""

    def __init__(self, inputs: LmsInputs, as_of: datetime, params: SM2Params | None) -> None:
        super().__init__(inputs, as_of)
        self.params = params

    @cached_property
    def current(self) -> pl.DataFrame:
        return current_nodes(self.inputs.nodes, self.in_force)

    @cached_property
    def language_courses(self) -> pl.Series:
        """The ids of the language app's courses (`lang:<code>`), in the ids' type."""
        ids = self.in_force["course_id"].unique()
        return ids.filter(ids.cast(pl.String).str.starts_with(RESERVED_PREFIX))

    @cached_property
    def app_events(self) -> pl.LazyFrame:
        """The events of the course platforms' own courses (not the language app's)."""
        return self.events.lazy().filter(
            ~pl.col("course_id").is_in(self.language_courses.implode())
        )

    @cached_property
    def solves(self) -> pl.DataFrame:
        solves = event_solves(self.app_events)
        if self.inputs.solves is not None:
            solves = pl.concat([solves, self.inputs.solves.select(solves.columns)])
        return solves

    @cached_property
    def quizzes(self) -> pl.DataFrame:
        return quiz_attempt_scores(self.events, self.attrs)

    @cached_property
    def grades(self) -> pl.DataFrame:
        return assignment_grades(self.events)

    @cached_property
    def lesson_attrs(self) -> pl.DataFrame:
        return self.attrs.filter(is_lesson())

    @cached_property
    def items(self) -> pl.DataFrame:
        return lesson_items(self.inputs.nodes, self.lesson_attrs)

    @cached_property
    def done(self) -> pl.DataFrame:
        return lesson_completions(
            self.events, self.attrs, self.items, self.solves, self.quizzes, self.grades
        )

    @cached_property
    def activity(self) -> pl.DataFrame:
        return event_activity(self.events)

    @cached_property
    def lessons(self) -> pl.DataFrame:
        best = best_scores(self.quizzes, self.grades)
        return lesson_progress(
            self.activity, self.lesson_attrs, self.items, self.solves, self.done, best
        )

    @cached_property
    def enrollments(self) -> pl.DataFrame:
        return enrollments(self.events, self.activity, self.in_force, self.inputs.nodes, self.done)

    @cached_property
    def learners(self) -> pl.DataFrame:
        return self.enrollments.select(USER, "course_id")

    @cached_property
    def grid(self) -> pl.DataFrame:
        return _lesson_grid(self.learners, self.current, self.lessons)

    @cached_property
    def modules(self) -> pl.DataFrame:
        return module_progress(
            self.learners,
            self.activity,
            self.grid,
            self.current,
            self.lessons,
            self.in_force,
            self.inputs.nodes,
            self.done,
            self.as_of,
        )

    @cached_property
    def courses(self) -> pl.DataFrame:
        return course_progress(
            self.learners,
            self.activity,
            self.grid,
            self.lessons,
            self.modules,
            self.enrollments,
            self.as_of,
        )

    @cached_property
    def task_state(self) -> pl.DataFrame:
        """Replayed on SM-2 for the platforms' tasks; a language course's words from their
        SM-2 cards (`language.word_task_state`)."""
        state = task_state(self.app_events, self.params, self.inputs.task_medians)
        if self.inputs.solves is None or self.inputs.cards is None:
            return state
        language = pl.col("course_id").is_in(self.language_courses.implode())
        words = word_task_state(
            self.events.lazy().filter(language), self.inputs.solves, self.inputs.cards
        )
        return pl.concat([state, words.select(state.columns).collect()]).sort(USER, "task_id")


LMS_TABLES: tuple[MetricTable[LmsParts], ...] = (
    MetricTable(
        "enrollments",
        "One row per (user_id, course_id) with an event in a course in force.",
        lambda p: p.enrollments,
        key=("user_id", "course_id"),
        statuses=ENROLLMENT_STATUSES,
    ),
    MetricTable(
        "lesson_progress",
        "One row per (user_id, lesson_id) touched (lesson, quiz or assignment).",
        lambda p: p.lessons,
        key=("user_id", "lesson_id"),
        percents=("percent_complete", "best_score_percent"),
        completed_le_total=(("tasks_solved", "tasks_total"),),
        statuses=PROGRESS_STATUSES,
    ),
    MetricTable(
        "task_state",
        "One row per (user_id, task_id) attempted: the SM-2 retry queue.",
        lambda p: p.task_state,
        key=("user_id", "task_id"),
        statuses=TASK_STATUSES,
    ),
    MetricTable(
        "task_queue",
        "One row per (user_id, course_id, task_id) due as of, ranked.",
        lambda p: task_queue(p.task_state, p.enrollments, p.current, p.as_of),
        key=("user_id", "course_id", "task_id"),
    ),
    MetricTable(
        "module_progress",
        "One row per (user_id, module_id) of an enrolled or active learner.",
        lambda p: p.modules,
        key=("user_id", "module_id"),
        percents=("percent_complete", "weighted_score"),
        completed_le_total=(
            ("lessons_completed", "lessons_total"),
            ("quizzes_completed", "quizzes_total"),
            ("assignments_completed", "assignments_total"),
            ("tasks_completed", "tasks_total"),
            ("required_completed", "required_total"),
        ),
        statuses=PROGRESS_STATUSES,
    ),
    MetricTable(
        "course_progress",
        "One row per (user_id, course_id) enrolled or active.",
        lambda p: p.courses,
        key=("user_id", "course_id"),
        percents=("percent_complete", "weighted_score"),
        completed_le_total=(
            ("lessons_completed", "lessons_total"),
            ("modules_completed", "modules_total"),
            ("required_completed", "required_total"),
            ("tasks_completed", "tasks_total"),
        ),
        statuses=PROGRESS_STATUSES,
    ),
    MetricTable(
        "user_progress",
        "One row per user_id with an enrollment.",
        lambda p: user_progress(p.enrollments, p.courses, p.lessons, p.events),
        key=("user_id",),
    ),
    MetricTable(
        "learning_path_progress",
        "One row per (user_id, path_id) with a path course enrolled.",
        lambda p: learning_path_progress(p.inputs.paths, p.enrollments),
        key=("user_id", "path_id"),
        percents=("percent_complete",),
        completed_le_total=(("courses_completed", "courses_total"),),
        statuses=PROGRESS_STATUSES,
    ),
)


def build_lms_progress(
    inputs: LmsInputs, as_of: datetime, params: SM2Params | None = None
) -> dict[str, pl.DataFrame]:
    """Every progress table, keyed by its warehouse name. The ids are computed as Enums
    (`encode_ids`: sorting, grouping and joining compare integers, in the ids' order) and
    written as strings."""
    tables = build_all(LMS_TABLES, LmsParts(encode_ids(inputs), as_of, params))
    return {name: frame.with_columns(cs.enum().cast(pl.String)) for name, frame in tables.items()}


NODE_COLUMNS = ("node_id", "parent_id", "module_id", "lesson_id", "item_id")


def encode_ids(inputs: LmsInputs) -> LmsInputs:
    """`inputs` with `user_id`, `course_id`, the node ids and the event `type` as Enums of
    every value they hold, in order (so an Enum sorts as its strings do)."""
    frames = [inputs.events, inputs.nodes, inputs.versions, inputs.paths]
    frames += [f for f in (inputs.solves, inputs.cards) if f is not None]

    def enum(columns: tuple[str, ...]) -> pl.Enum:
        values = [
            f.lazy().select(pl.col(c).alias("v")).drop_nulls()
            for f in frames
            for c in columns
            if c in f.columns
        ]
        return pl.Enum(pl.concat(values).unique().collect()["v"].sort())

    users = enum((USER,)) if inputs.learners is None else pl.Enum(inputs.learners)
    types = {USER: users, "course_id": enum(("course_id",))}
    node = enum(NODE_COLUMNS)
    types |= dict.fromkeys(NODE_COLUMNS, node)
    # every registered event type (the builders compare with them) and any other present
    present = inputs.events.lazy().select(pl.col("type").unique()).collect()["type"]
    types["type"] = pl.Enum(sorted({*EVENT_TYPES, *present.drop_nulls()}))

    def cast(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col(c).cast(t) for c, t in types.items() if c in frame.columns)

    return LmsInputs(
        versions=cast(inputs.versions),
        nodes=cast(inputs.nodes),
        events=cast(inputs.events),
        paths=cast(inputs.paths),
        solves=cast(inputs.solves) if inputs.solves is not None else None,
        cards=cast(inputs.cards) if inputs.cards is not None else None,
        task_medians=inputs.task_medians,
        learners=inputs.learners,
    )


def event_activity(events: pl.DataFrame) -> pl.DataFrame:
    """The timed events (`timed_events`) summed once for every progress table: one row per
    (user_id, course_id, module_id, lesson_id, course_level) with an event (module_id and
    lesson_id null off a module or lesson; `course_level`: a COURSE_LEVEL event type).
    `views` and `first_viewed_at`/`last_viewed_at`: views of the lesson node itself;
    `first_at`/`last_at`: any event; `time_ms` summed (an integer, so a coarser grain's sum
    is exact); `enrolled_at`/`completed_event_at`: the first `enrolled` and
    `course_completed` events. Every coarser grain (a lesson, a module, a course) is a
    re-aggregation of these rows, not another pass over the events."""
    at = pl.col("occurred_at")
    viewed = (pl.col("type") == "lesson_viewed") & (pl.col("node_id") == pl.col("lesson_id"))
    return (
        events.lazy()
        .group_by(
            USER,
            "course_id",
            "module_id",
            "lesson_id",
            pl.col("type").is_in(list(COURSE_LEVEL)).alias("course_level"),
        )
        .agg(
            viewed.sum().alias("views"),
            at.filter(viewed).min().alias("first_viewed_at"),
            at.filter(viewed).max().alias("last_viewed_at"),
            at.min().alias("first_at"),
            at.max().alias("last_at"),
            pl.col("time_ms").sum(),
            FIRST_ENROLLED.alias("enrolled_at"),
            at.filter(pl.col("type") == "course_completed").min().alias("completed_event_at"),
        )
        .collect()
    )


def lesson_progress(
    activity: pl.DataFrame,
    lesson_attrs: pl.DataFrame,
    items: pl.DataFrame,
    solves: pl.DataFrame,
    done: pl.DataFrame,
    best: pl.DataFrame,
) -> pl.DataFrame:
    """One row per (user_id, lesson_id) touched: an event on the lesson or one of its tasks or
    questions, or a completion. `lesson_id` is any lesson-level node (lesson, quiz,
    assignment). `tasks_*` count its tasks (a quiz's questions) in its newest version;
    `percent_complete` is 100 once completed, else tasks solved / tasks × 100 (0 with none);
    `points_earned`/`points_possible`: solved tasks' points, or the best score of a quiz or an
    assignment × its max points."""
    touched = (
        activity.lazy()
        .filter(pl.col("lesson_id").is_not_null())
        .group_by(USER, "lesson_id")
        .agg(
            pl.col("views").sum().cast(pl.Int32),
            pl.col("first_viewed_at").min(),
            pl.col("last_viewed_at").max(),
            pl.col("first_at").min().alias("first_activity_at"),
            pl.col("last_at").max().alias("last_activity_at"),
            (pl.col("time_ms").sum() / 1000).alias("time_spent_s"),
        )
        .collect()
    )
    item_solves = solves.join(items, on="item_id")
    counts = items.group_by("lesson_id").agg(
        pl.len().cast(pl.Int32).alias("tasks_total"), pl.col("item_points").sum().alias("_points")
    )
    solved = item_solves.group_by(USER, "lesson_id").agg(
        pl.len().cast(pl.Int32).alias("tasks_solved"),
        pl.col("item_points").sum().alias("_solved_points"),
    )
    keys = pl.concat(
        [
            touched.select(USER, "lesson_id"),
            done.select(USER, "lesson_id"),
            solved.select(USER, "lesson_id"),
        ]
    ).unique()
    info = lesson_attrs.select(
        "course_id", "module_id", pl.col("node_id").alias("lesson_id"), "kind", "max_points"
    )
    rows = (
        keys.join(info, on="lesson_id")
        .join(touched, on=[USER, "lesson_id"], how="left")
        .join(done, on=[USER, "lesson_id"], how="left")
        .join(solved, on=[USER, "lesson_id"], how="left")
        .join(counts, on="lesson_id", how="left")
        .join(best, on=[USER, "lesson_id"], how="left")
        .with_columns(
            pl.col("views").fill_null(0),
            pl.col("time_spent_s").fill_null(0.0),
            pl.col("tasks_solved").fill_null(0),
            pl.col("tasks_total").fill_null(0),
        )
    )
    graded = pl.col("kind").is_in(["quiz", "assignment"])
    return rows.select(
        USER,
        "course_id",
        "module_id",
        "lesson_id",
        "kind",
        pl.when(pl.col("completed_at").is_not_null())
        .then(pl.lit("completed"))
        .when(pl.col("first_activity_at").is_not_null() | (pl.col("tasks_solved") > 0))
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("not_started"))
        .alias("status"),
        "views",
        "first_viewed_at",
        "last_viewed_at",
        "completed_at",
        "first_activity_at",
        "last_activity_at",
        "time_spent_s",
        "tasks_solved",
        "tasks_total",
        pl.when(pl.col("completed_at").is_not_null())
        .then(100.0)
        .otherwise(_pct(pl.col("tasks_solved"), pl.col("tasks_total")).fill_null(0.0))
        .alias("percent_complete"),
        "best_score_percent",
        pl.when(graded)
        .then(
            pl.col("best_score_percent").fill_null(0.0) / 100 * pl.col("max_points").fill_null(0.0)
        )
        .otherwise(pl.col("_solved_points").fill_null(0.0))
        .alias("points_earned"),
        pl.when(graded)
        .then(pl.col("max_points").fill_null(0.0))
        .otherwise(pl.col("_points").fill_null(0.0))
        .alias("points_possible"),
    ).sort(USER, "lesson_id")


def _sticky(
    learners: pl.DataFrame,
    nodes: pl.DataFrame,
    in_force: pl.DataFrame,
    done: pl.DataFrame,
    level: str,
) -> pl.DataFrame:
    """(user_id, course_id, <level>, completed_at): the first moment at which, under the
    version then in force, every required lesson of the module (`level` = module_id) or
    course (course_id) was completed. Later versions never undo it."""
    keys = ["course_id", level] if level != "course_id" else ["course_id"]
    req = (
        nodes.filter(is_required_lesson())
        .select(
            "course_id",
            "version",
            *([level] if level != "course_id" else []),
            pl.col("node_id").alias("lesson_id"),
        )
        .join(
            in_force.select("course_id", "version", "published_at", "until"),
            on=["course_id", "version"],
        )
    )
    need = req.group_by("course_id", "version", *keys[1:]).agg(pl.len().alias("_need"))
    got = (
        learners.join(req, on="course_id")
        .join(done, on=[USER, "lesson_id"])
        .group_by(USER, "course_id", "version", *keys[1:])
        .agg(pl.len().alias("_got"), pl.col("completed_at").max().alias("_last"))
    )
    versions = in_force.select("course_id", "version", "published_at", "until")
    return (
        got.join(need, on=["course_id", "version", *keys[1:]])
        .filter(pl.col("_got") == pl.col("_need"))
        .join(versions, on=["course_id", "version"])
        .with_columns(pl.max_horizontal("_last", "published_at").alias("_at"))
        .filter(pl.col("until").is_null() | (pl.col("_at") < pl.col("until")))
        .group_by(USER, *keys)
        .agg(pl.col("_at").min().alias("completed_at"))
    )


def enrolled_at(first_enrolled: pl.Expr, first_event: pl.Expr) -> pl.Expr:
    """A learner's enrollment in a course: the first `enrolled` event, else the first event
    (`enrollments.enrolled_at`; assignments' offset deadlines count from it)."""
    return pl.coalesce(first_enrolled, first_event)


# aggregated over a learner's events (per user and course)
FIRST_ENROLLED = pl.col("occurred_at").filter(pl.col("type") == "enrolled").min()
ENROLLED_AT = enrolled_at(FIRST_ENROLLED, pl.col("occurred_at").min())


def enrollments(
    events: pl.DataFrame,
    activity: pl.DataFrame,
    in_force: pl.DataFrame,
    nodes: pl.DataFrame,
    done: pl.DataFrame,
) -> pl.DataFrame:
    """One row per (user_id, course_id) with an event in a course in force. `status`: the last
    of enrolled/paused/resumed/unenrolled decides `withdrawn` (unenrolled) or `paused` (with no
    activity after it); else `completed` when every required lesson is completed (sticky) or
    a `course_completed` event came, else `active`. `enrolled_at`: the first `enrolled`
    event, else the first event."""
    lifecycle = (
        events.lazy()
        .filter(pl.col("type").is_in(list(LIFECYCLE)))
        .select(USER, "course_id", "type", "occurred_at", "event_id")
        .sort("occurred_at", "event_id")
    )
    last_state = (
        lifecycle.group_by(USER, "course_id")
        .agg(
            pl.col("type").last().alias("_last_state"),
            pl.col("occurred_at").last().alias("_state_at"),
        )
        .collect()
    )
    # re-aggregated from the events' `event_activity`
    learners = activity.group_by(USER, "course_id").agg(
        enrolled_at(pl.col("enrolled_at").min(), pl.col("first_at").min()).alias("enrolled_at"),
        pl.col("last_at").max().alias("last_activity_at"),
        pl.col("completed_event_at").min().alias("_event_done"),
        pl.col("last_at").filter(~pl.col("course_level")).max().alias("_last_work"),
    )
    by_rule = _sticky(learners.select(USER, "course_id"), nodes, in_force, done, "course_id")
    rows = (
        learners.join(last_state, on=[USER, "course_id"], how="left")
        .join(by_rule, on=[USER, "course_id"], how="left")
        .with_columns(pl.min_horizontal("completed_at", "_event_done").alias("completed_at"))
    )
    withdrawn = pl.col("_last_state") == "unenrolled"
    paused = (pl.col("_last_state") == "paused") & ~(
        pl.col("_last_work") > pl.col("_state_at")
    ).fill_null(False)
    return rows.select(
        USER,
        "course_id",
        pl.when(withdrawn)
        .then(pl.lit("withdrawn"))
        .when(pl.col("completed_at").is_not_null())
        .then(pl.lit("completed"))
        .when(paused)
        .then(pl.lit("paused"))
        .otherwise(pl.lit("active"))
        .alias("status"),
        "enrolled_at",
        "completed_at",
        pl.when(withdrawn).then(pl.col("_state_at")).alias("withdrawn_at"),
        "last_activity_at",
    ).sort(USER, "course_id")


def _pointer(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The "continue here" lesson per `keys`: the first not-completed required lesson in
    course order after the last completed one (else the first not-completed one)."""
    last = rows.filter("_done").group_by(keys).agg(pl.col("position").max().alias("_last_pos"))
    return (
        rows.join(last, on=keys, how="left")
        .filter(~pl.col("_done"))
        .with_columns((pl.col("position") > pl.col("_last_pos").fill_null(0)).alias("_after"))
        .sort([*keys, "_after", "position"], descending=[*([False] * len(keys)), True, False])
        .group_by(keys, maintain_order=True)
        .agg(
            pl.col("module_id").first().alias("current_module"),
            pl.col("lesson_id").first().alias("current_lesson"),
        )
    )


def _lesson_grid(
    learners: pl.DataFrame, current: pl.DataFrame, lessons: pl.DataFrame
) -> pl.DataFrame:
    """Every learner × every lesson of the course's current version, with their progress;
    `tasks_total` and `points_possible` come from the current tree."""
    tasks = (
        current.filter(pl.col("kind") == "task")
        .group_by("lesson_id")
        .agg(pl.len().cast(pl.Int32).alias("tasks_total"))
    )
    tree = current.filter(is_lesson()).select(
        "course_id",
        "module_id",
        pl.col("node_id").alias("lesson_id"),
        "kind",
        "position",
        "optional",
        "weight",
        pl.col("max_points").fill_null(0.0).alias("points_possible"),
    )
    grid = learners.join(tree.join(tasks, on="lesson_id", how="left"), on="course_id")
    progress = lessons.select(
        USER,
        "lesson_id",
        "completed_at",
        "best_score_percent",
        "points_earned",
        "tasks_solved",
    )
    return grid.join(progress, on=[USER, "lesson_id"], how="left").with_columns(
        pl.col("completed_at").is_not_null().alias("_done")
    )


def _counts(grid: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    kind = pl.col("kind")
    req = ~pl.col("optional")
    w = pl.col("weight").fill_null(0.0) * pl.col("best_score_percent").is_not_null()
    exprs: list[pl.Expr] = []
    for k, plural in (("lesson", "lessons"), ("quiz", "quizzes"), ("assignment", "assignments")):
        exprs += [
            (pl.col("_done") & (kind == k)).sum().cast(pl.Int32).alias(f"{plural}_completed"),
            (kind == k).sum().cast(pl.Int32).alias(f"{plural}_total"),
        ]
    exprs += [
        pl.col("tasks_solved")
        .filter(kind == "lesson")
        .fill_null(0)
        .sum()
        .cast(pl.Int32)
        .alias("tasks_completed"),
        pl.col("tasks_total")
        .filter(kind == "lesson")
        .fill_null(0)
        .sum()
        .cast(pl.Int32)
        .alias("tasks_total"),
        (pl.col("_done") & req).sum().cast(pl.Int32).alias("required_completed"),
        req.sum().cast(pl.Int32).alias("required_total"),
        pl.col("points_earned").fill_null(0.0).sum().alias("points_earned"),
        pl.col("points_possible").fill_null(0.0).sum().alias("points_possible"),
        (w * pl.col("best_score_percent").fill_null(0.0)).sum().alias("_weighted"),
        w.sum().alias("_weight"),
    ]
    return (
        grid.group_by(keys)
        .agg(exprs)
        .with_columns(
            _pct(pl.col("required_completed"), pl.col("required_total")).alias("percent_complete"),
            pl.when(pl.col("_weight") > 0)
            .then(pl.col("_weighted") / pl.col("_weight"))
            .alias("weighted_score"),
        )
        .drop("_weighted", "_weight")
    )


def _activity(activity: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per `keys`: the first and last event and the time spent, of the work (not the
    course-level events), from `event_activity`."""
    return (
        activity.filter(~pl.col("course_level"))
        .group_by(keys)
        .agg(
            pl.col("first_at").min().alias("started_at"),
            pl.col("last_at").max().alias("last_activity_at"),
            (pl.col("time_ms").sum() / 1000).alias("time_spent_s"),
        )
    )


def _estimate(as_of: datetime) -> pl.Expr:
    remaining = pl.col("required_total") - pl.col("required_completed")
    days = (remaining / pl.col("_per_day")).ceil().cast(pl.Int64)
    return (
        pl.when((remaining > 0) & (pl.col("_per_day") > 0))
        .then(pl.lit(as_of.date()) + pl.duration(days=days))
        .cast(pl.Date)
        .alias("estimated_completion_date")
    )


def _pace(lessons: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """(user_id, course_id, _per_day): lessons completed per day over the last 28 days."""
    since = as_of - timedelta(days=RATE_DAYS)
    return (
        lessons.filter(pl.col("completed_at") > since)
        .group_by(USER, "course_id")
        .agg((pl.len() / RATE_DAYS).alias("_per_day"))
    )


def _status(completed: str, started: str) -> pl.Expr:
    return (
        pl.when(pl.col(completed).is_not_null())
        .then(pl.lit("completed"))
        .when(pl.col(started).is_not_null())
        .then(pl.lit("in_progress"))
        .otherwise(pl.lit("not_started"))
        .alias("status")
    )


def _new_since(completed: str) -> pl.Expr:
    remaining = pl.col("required_total") - pl.col("required_completed")
    return pl.when(pl.col(completed).is_not_null()).then(remaining).alias("new_since_completion")


def refresh_estimates(rows: pl.DataFrame, lessons: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """`module_progress` or `course_progress` rows with `estimated_completion_date` recomputed
    as of `as_of` from the learners' `lessons` (`user_id`, `course_id`, `completed_at`): the
    one column that moves with the as-of time alone (the nightly run's stored rows)."""
    return (
        rows.drop("estimated_completion_date")
        .join(_pace(lessons, as_of), on=[USER, "course_id"], how="left")
        .with_columns(_estimate(as_of))
        .select(rows.columns)
    )


def module_progress(
    learners: pl.DataFrame,
    activity: pl.DataFrame,
    grid: pl.DataFrame,
    current: pl.DataFrame,
    lessons: pl.DataFrame,
    in_force: pl.DataFrame,
    nodes: pl.DataFrame,
    done: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """One row per (user_id, module_id) of the current version of every course the learner is
    enrolled in or active in (0% included). `percent_complete` = completed required lessons /
    required lessons × 100 (null with none); `completed_at` is sticky (the first moment the
    version then in force had all its required lessons of the module completed);
    `new_since_completion` counts the required lessons still open after it."""
    keys = [USER, "course_id", "module_id"]
    modules = learners.join(
        current.filter(pl.col("kind") == "module").select(
            "course_id", pl.col("node_id").alias("module_id"), "position"
        ),
        on="course_id",
    )
    sticky = _sticky(learners, nodes, in_force, done, "module_id")
    rows = (
        modules.join(_counts(grid, keys), on=keys, how="left")
        .join(_activity(activity, keys), on=keys, how="left")
        .join(sticky, on=keys, how="left")
        .join(
            _pointer(grid.filter(~pl.col("optional")), keys).drop("current_module"),
            on=keys,
            how="left",
        )
        .join(_pace(lessons, as_of), on=[USER, "course_id"], how="left")
    )
    return _finish(rows, as_of).sort(USER, "course_id", "position").drop("position")


def _finish(rows: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    zero_ints = [
        c for c, t in rows.schema.items() if t == pl.Int32 and c.endswith(("_completed", "_total"))
    ]
    return (
        rows.with_columns(
            pl.col(zero_ints).fill_null(0),
            pl.col("points_earned", "points_possible", "time_spent_s").fill_null(0.0),
        )
        .with_columns(
            _status("completed_at", "started_at"),
            _new_since("completed_at"),
            _estimate(as_of),
        )
        .drop("_per_day")
    )


def course_progress(
    learners: pl.DataFrame,
    activity: pl.DataFrame,
    grid: pl.DataFrame,
    lessons: pl.DataFrame,
    modules: pl.DataFrame,
    enroll: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """One row per (user_id, course_id) enrolled or active (0% included), over the course's
    current version: counts and `percent_complete` as in `module_progress`, modules completed,
    the enrollment status, `completed_at` as in `enrollments` (sticky), the "continue here"
    pointer (`current_module`, `current_lesson`) and `estimated_completion_date` (remaining
    required lessons ÷ lessons completed per day over the last 28 days; null when none)."""
    keys = [USER, "course_id"]
    module_counts = modules.group_by(keys).agg(
        (pl.col("status") == "completed").sum().cast(pl.Int32).alias("modules_completed"),
        pl.len().cast(pl.Int32).alias("modules_total"),
    )
    rows = (
        learners.join(_counts(grid, keys), on=keys, how="left")
        .join(module_counts, on=keys, how="left")
        .join(_activity(activity, keys), on=keys, how="left")
        .join(
            enroll.select(*keys, pl.col("status").alias("enrollment_status"), "completed_at"),
            on=keys,
        )
        .join(_pointer(grid.filter(~pl.col("optional")), keys), on=keys, how="left")
        .join(_pace(lessons, as_of), on=keys, how="left")
    )
    return _finish(rows, as_of).sort(keys)


def user_progress(
    enroll: pl.DataFrame, course: pl.DataFrame, lessons: pl.DataFrame, events: pl.DataFrame
) -> pl.DataFrame:
    """One row per user_id with an enrollment: totals across courses (the progress service's
    `UserProgress`)."""
    status = pl.col("status")
    per_user = enroll.group_by(USER).agg(
        pl.len().cast(pl.Int32).alias("courses_enrolled"),
        *((status == s).sum().cast(pl.Int32).alias(f"courses_{s}") for s in ENROLLMENT_STATUSES),
        pl.col("enrolled_at").min().alias("first_enrolled_at"),
        pl.col("last_activity_at").max().alias("last_activity_at"),
    )
    work = course.group_by(USER).agg(
        pl.col(
            "lessons_completed", "quizzes_completed", "assignments_completed", "tasks_completed"
        ).sum(),
        pl.col("points_earned", "time_spent_s").sum(),
    )
    days = (
        events.lazy()
        .group_by(USER)
        .agg(pl.col("occurred_at").dt.date().n_unique().cast(pl.Int32).alias("active_days"))
        .collect()
    )
    return (
        per_user.join(work, on=USER, how="left")
        .join(days, on=USER, how="left")
        .with_columns(pl.col("active_days").fill_null(0))
        .sort(USER)
    )


def learning_path_progress(paths: pl.DataFrame, enroll: pl.DataFrame) -> pl.DataFrame:
    """One row per (user_id, path_id) where the learner is enrolled in one of the path's
    courses: courses completed (sticky) of the path's, `percent_complete`, and
    `current_course`, the first course of the path, in order, not completed."""
    done = enroll.select(USER, "course_id", pl.col("completed_at").is_not_null().alias("_done"))
    members = (
        enroll.join(paths.select("path_id", "course_id"), on="course_id")
        .select(USER, "path_id")
        .unique()
    )
    grid = (
        members.join(paths.select("path_id", "position", "course_id"), on="path_id")
        .join(done, on=[USER, "course_id"], how="left")
        .with_columns(pl.col("_done").fill_null(False))
        .sort(USER, "path_id", "position")
    )
    rows = grid.group_by(USER, "path_id").agg(
        pl.len().cast(pl.Int32).alias("courses_total"),
        pl.col("_done").sum().cast(pl.Int32).alias("courses_completed"),
        pl.col("course_id").filter(~pl.col("_done")).first().alias("current_course"),
    )
    return rows.with_columns(
        (pl.col("courses_completed") / pl.col("courses_total") * 100).alias("percent_complete"),
        pl.when(pl.col("courses_completed") == pl.col("courses_total"))
        .then(pl.lit("completed"))
        .otherwise(pl.lit("in_progress"))
        .alias("status"),
    ).sort(USER, "path_id")
