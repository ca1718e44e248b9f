"""The nightly LMS runs: rebuild only the learners (and courses) whose data changed since the
last run (`transforms.incremental`), and give the tables `build_lms_progress` and
`build_assessment_tables` give over all of it (`update_lms_progress`, `update_assessment`).

Which learners a night rebuilds (`user_id`, every course of theirs):
- a learner with an event in an `lms_events` file this step has not read yet
  (`unconsumed_sources`), or with an event the later as-of time now includes;
- a learner of a card the SM-2 step changed (`touched_cards`, consumer `lms_progress`): the
  language courses (`lang:<code>`);
- a learner with a first-try solve of a task whose median attempt time (over every learner,
  `lms_task_medians`) moved across that solve's time: its SM-2 quality (5 or 4) moved.
Every per-learner table (`enrollments`, `lesson_progress`, `task_state`, `module_progress`,
`course_progress`, `user_progress`, `learning_path_progress`) swaps those learners' rows
(`replace_keys`). What moves with the as-of time for everyone is recomputed from small stored
state: `estimated_completion_date` (module and course) of the learners with one, from their
lessons completed in the last 28 days (`lesson_progress`); `task_queue` whole from the tasks
due as of (`task_state`) and `enrollments`, since every queued task's `overdue_days` moves.
Everything is rebuilt when there is no stored state, a full SM-2 recompute upstream, a change
of the course versions in force, the language manifests, the learning paths or the SM-2
parameters, the as-of time moving back, or on `PROGRESS_FULL_REFRESH`. A full build reads
and builds a group of learners at a time (`build_progress`, about `GROUP_ROWS` input rows,
each group with every learner's task medians): every table is per learner, so the groups'
rows, in `user_id` order, are one build's, and only one group's events sit in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

import duckdb
import polars as pl

from transforms.incremental import (
    clear_pending,
    mark_consumed,
    pending,
    replace_keys,
    rows_for,
    unconsumed_sources,
)
from transforms.lms.assessment import ASSESSMENT_TABLES, build_assessment_tables
from transforms.lms.progress import LMS_TABLES, LmsInputs, build_lms_progress, refresh_estimates
from transforms.lms.read import PROGRESS_EVENT_COLUMNS, course_tree, read_lms_inputs
from transforms.lms.schema import ensure_lms_tables
from transforms.lms.tasks import MEDIAN, task_queue
from transforms.lms.tree import current_nodes, versions_as_of
from transforms.registry import table_names
from transforms.settings import Settings
from transforms.sm2 import SM2Params
from transforms.warehouse import query, registered, replace_table, table_exists, transaction

LMS_CONSUMER = "lms_progress"
LMS_STATE = "lms_progress_state"  # one row per consumer: as_of, inputs (digest)
TASK_MEDIANS = "lms_task_medians"  # one row per (node_id) task attempted: median_time_ms
EVENTS_LEDGER = "lms_ingested_files"
AS_OF_TABLES = ("task_queue",)  # recomputed whole from stored state every run
PER_LEARNER = tuple(n for n in table_names(LMS_TABLES) if n not in AS_OF_TABLES)
ESTIMATED = ("module_progress", "course_progress")  # estimated_completion_date moves daily
USER = "user_id"


@dataclass(frozen=True)
class LmsRun:
    """What one run wrote: `tables` (the rows written per table), `mode` (`full` or
    `incremental`), `reason` (why full, or what was touched) and `learners` rebuilt."""

    tables: dict[str, pl.DataFrame]
    mode: str
    reason: str
    learners: int

    @property
    def summary(self) -> dict[str, str | int]:
        """The mode, why, and the learners rebuilt: what every table of the run shares."""
        return {"mode": self.mode, "mode_reason": self.reason, "learners_rebuilt": self.learners}


def inputs_digest(
    con: duckdb.DuckDBPyConnection, in_force: pl.DataFrame, params: SM2Params | None
) -> str:
    """A digest of what every learner's rows depend on besides their own events: the course
    versions in force (`in_force`), the learning paths and the SM-2 parameters."""
    in_force = in_force.select("course_id", "version")
    paths = query(con, "SELECT path_id, position, course_id FROM learning_paths ORDER BY ALL")
    text = repr((in_force.sort("course_id", "version").rows(), paths.rows(), params))
    return hashlib.sha256(text.encode()).hexdigest()


def task_medians(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    courses: list[str],
    tasks: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """(node_id, median_time_ms): each task's median attempt time over every learner's
    `task_attempted` events up to `as_of` in `courses` (as `tasks.attempt_quality` takes it
    over every learner), of every task or of `tasks` (one column, `node_id`)."""
    where = "WHERE type = 'task_attempted' AND occurred_at <= ? AND list_contains(?, course_id)"
    median = f"median(time_spent_ms::DOUBLE) AS {MEDIAN}"
    if tasks is None:
        return query(
            con,
            f"SELECT node_id, {median} FROM lms_events {where} GROUP BY node_id ORDER BY node_id",
            [as_of, courses],
        )
    # the semi join before the aggregate: only the tasks asked for are grouped
    with registered(con, "_tasks", tasks.select("node_id").unique()):
        return query(
            con,
            f"SELECT node_id, {median} FROM lms_events SEMI JOIN _tasks USING (node_id) "
            f"{where} GROUP BY node_id ORDER BY node_id",
            [as_of, courses],
        )


def learner_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    learners: pl.DataFrame,
    medians: pl.DataFrame | None = None,
) -> LmsInputs:
    """The progress inputs of `learners` (one column, `user_id`) with every learner's task
    medians (`medians`, else computed), so `build_lms_progress` gives exactly those learners'
    rows of a build over everyone (a shard of learners calls this too)."""
    if medians is None:
        courses = versions_as_of(course_tree(con)[0], as_of)["course_id"].unique().to_list()
        medians = task_medians(con, as_of, courses)
    return _progress_inputs(con, as_of, medians, learners=learners)


def _progress_inputs(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    medians: pl.DataFrame,
    learners: pl.DataFrame | None = None,
    user_range: tuple[str, str] | None = None,
) -> LmsInputs:
    """The progress tables' inputs (`read_lms_inputs` of the event columns they use, of
    everyone, `learners` or a `user_range`) with every learner's task `medians`."""
    inputs = read_lms_inputs(
        con, as_of, learners=learners, user_range=user_range, columns=PROGRESS_EVENT_COLUMNS
    )
    return replace(inputs, task_medians=medians)


# A full build reads and builds this many input rows (events, attempts, reviews) at a time:
# groups of whole learners, in user_id order, so only one group's rows sit in memory. The
# pipeline takes it from `PROGRESS_LMS_GROUP_ROWS` (transforms.settings), whose default this is.
GROUP_ROWS = Settings().lms_group_rows


def learner_groups(
    con: duckdb.DuckDBPyConnection, as_of: datetime, rows_per_group: int = GROUP_ROWS
) -> list[pl.DataFrame]:
    """Every learner with an event, attempt or review up to `as_of`, in `user_id` order, cut
    into runs (one column, `user_id`) of about `rows_per_group` input rows each."""
    inputs = [
        "SELECT user_id, count(*) AS n FROM lms_events WHERE occurred_at <= $1 GROUP BY ALL",
        "SELECT user_id, count(*) AS n FROM attempts WHERE attempted_at <= $1 GROUP BY ALL",
    ]
    if table_exists(con, "reviews"):
        inputs.append(
            "SELECT user_id, count(*) AS n FROM reviews WHERE reviewed_at <= $1 GROUP BY ALL"
        )
    union = " UNION ALL ".join(inputs)
    counts = query(con, f"SELECT user_id, sum(n) AS n FROM ({union}) GROUP BY ALL", [as_of])
    # every input requires a user_id; a null never opens or closes a range
    grouped = (
        counts.drop_nulls(USER)
        .sort(USER)
        .with_columns(((pl.col("n").cum_sum() - pl.col("n")) // rows_per_group).alias("_group"))
    )
    return [group.select(USER) for group in grouped.partition_by("_group", maintain_order=True)]


def build_progress(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    params: SM2Params | None,
    medians: pl.DataFrame,
    rows_per_group: int = GROUP_ROWS,
) -> dict[str, pl.DataFrame]:
    """`build_lms_progress` over every learner, built one group of learners at a time
    (`learner_groups`, each with every learner's task `medians`): every table is per learner
    and sorted by `user_id` first, so the groups' rows, in order, are the whole build's. Every
    learner with inputs is in a group, so the learners between a group's first and last are
    that group's: each group is read as that range."""
    groups = learner_groups(con, as_of, rows_per_group)
    if len(groups) <= 1:
        return build_lms_progress(_progress_inputs(con, as_of, medians), as_of, params)
    parts = []
    for group in groups:
        # a group is a run of learners in user_id order: read as the range it spans
        span = (group[USER][0], group[USER][-1])
        inputs = _progress_inputs(con, as_of, medians, user_range=span)
        parts.append(build_lms_progress(replace(inputs, learners=group[USER]), as_of, params))
    return {name: pl.concat([part[name] for part in parts]) for name in parts[0]}


def _stored(con: duckdb.DuckDBPyConnection, consumer: str) -> tuple[datetime, str] | None:
    if not table_exists(con, LMS_STATE):
        return None
    rows = query(
        con, f"SELECT as_of, inputs FROM {LMS_STATE} WHERE consumer = ?", [consumer]
    ).rows()
    return (rows[0][0], rows[0][1]) if len(rows) == 1 else None


def _record_state(
    con: duckdb.DuckDBPyConnection,
    consumer: str,
    as_of: datetime,
    digest: str,
    sources: list[str] | None,
) -> None:
    """The step's own bookkeeping, in the transaction that writes its rows."""
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {LMS_STATE} "
        "(consumer VARCHAR, as_of TIMESTAMP, inputs VARCHAR)"
    )
    con.execute(f"DELETE FROM {LMS_STATE} WHERE consumer = ?", [consumer])
    con.execute(f"INSERT INTO {LMS_STATE} VALUES (?, ?, ?)", [consumer, as_of, digest])
    mark_consumed(con, consumer, EVENTS_LEDGER, sources)
    clear_pending(con, consumer)


def _full_reason(
    con: duckdb.DuckDBPyConnection,
    consumer: str,
    as_of: datetime,
    digest: str,
    tables: tuple[str, ...],
    full_refresh: bool,
    cards_pending: bool,
) -> str:
    """Why every row must be rebuilt, or "" when the stored state allows a nightly run."""
    stored = _stored(con, consumer)
    return (
        "full refresh requested"
        if full_refresh
        else "no stored state"
        if stored is None or unconsumed_sources(con, consumer, EVENTS_LEDGER) is None
        else "a table is missing"
        if not all(table_exists(con, t) for t in tables)
        else "every card changed upstream (a full SRS recompute)"
        if not cards_pending
        else "course versions in force, paths or SM-2 parameters changed"
        if stored[1] != digest
        else "as-of time moved back"
        if as_of < stored[0]
        else ""
    )


def _changed_learners(
    con: duckdb.DuckDBPyConnection, consumer: str, as_of: datetime, sources: list[str]
) -> pl.DataFrame:
    """(user_id, since, course_id): the learners with an event in a file the consumer has not
    read, or one the as-of time now includes, per course, with their earliest such event."""
    stored = _stored(con, consumer)
    previous = stored[0] if stored else as_of
    keys = pl.DataFrame({"source_id": sources}, schema={"source_id": pl.String})
    with registered(con, "_sources", keys):
        return query(
            con,
            "SELECT user_id, course_id, min(occurred_at) AS since FROM lms_events "
            "WHERE (source_id IN (SELECT source_id FROM _sources) AND occurred_at <= ?) "
            "OR (occurred_at > ? AND occurred_at <= ?) GROUP BY ALL ORDER BY ALL",
            [as_of, previous, as_of],
        )


def update_lms_progress(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    params: SM2Params | None = None,
    full_refresh: bool = False,
    rows_per_group: int = GROUP_ROWS,
) -> LmsRun:
    """Bring every LMS progress table up to `as_of`: the tables `build_lms_progress` gives over
    all the data, rebuilding only the touched learners when the stored state allows. A full
    build reads and builds about `rows_per_group` input rows at a time
    (`PROGRESS_LMS_GROUP_ROWS`)."""
    ensure_lms_tables(con)
    touched = pending(con, LMS_CONSUMER)
    sources = unconsumed_sources(con, LMS_CONSUMER, EVENTS_LEDGER)
    versions, nodes = course_tree(con)
    in_force = versions_as_of(versions, as_of)
    digest = inputs_digest(con, in_force, params)
    kept = (*table_names(LMS_TABLES), TASK_MEDIANS)
    cards_pending = touched is not None
    reason = _full_reason(con, LMS_CONSUMER, as_of, digest, kept, full_refresh, cards_pending)
    courses = in_force["course_id"].unique().sort().to_list()
    if reason or touched is None or sources is None:
        medians = task_medians(con, as_of, courses)
        tables = build_progress(con, as_of, params, medians, rows_per_group)
        with transaction(con):
            for name, frame in tables.items():
                replace_table(con, name, frame)
            replace_table(con, TASK_MEDIANS, medians)
            _record_state(con, LMS_CONSUMER, as_of, digest, None)
        return LmsRun(tables, "full", reason, tables["user_progress"].height)

    new_events = _changed_learners(con, LMS_CONSUMER, as_of, sources)
    cards = touched.cards.group_by(USER).agg(pl.col("since").min())
    changed = (
        pl.concat([new_events.drop("course_id"), cards], how="vertical_relaxed")
        .group_by(USER)
        .agg(pl.col("since").min())
    )
    old_medians = query(con, f"SELECT * FROM {TASK_MEDIANS}")
    medians, requality = _moved_medians(con, as_of, courses, changed, old_medians)
    learners = pl.concat([changed.select(USER), requality]).unique().sort(USER)

    written: dict[str, pl.DataFrame] = {}
    if learners.height:
        built = build_lms_progress(learner_inputs(con, as_of, learners, medians), as_of, params)
        written = {name: built[name] for name in PER_LEARNER}
    with transaction(con):
        for name, frame in written.items():
            replace_keys(con, name, frame, learners)
        for name, frame in _as_of_rows(con, as_of, learners, current_nodes(nodes, in_force)):
            written[name] = pl.concat([written[name], frame]) if name in written else frame
        replace_table(con, TASK_MEDIANS, medians)
        _record_state(con, LMS_CONSUMER, as_of, digest, sources)
    return LmsRun(
        written,
        "incremental",
        f"{learners.height} learner(s) rebuilt: {new_events['user_id'].n_unique()} with new "
        "events, "
        f"{cards.height} with changed cards, {requality.height} re-graded by a task median",
        learners.height,
    )


def _moved_medians(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    courses: list[str],
    changed: pl.DataFrame,
    old: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every task's median after the changed learners' new attempts, and the learners
    (`user_id`) with a first-try solve whose time lies between a task's old and new median
    (its quality, 5 below the median, else 4, may have moved)."""
    with registered(con, "_changed", changed):
        tasks = query(
            con,
            "SELECT DISTINCT node_id FROM lms_events e JOIN _changed c USING (user_id) "
            "WHERE e.type = 'task_attempted' AND e.occurred_at >= c.since "
            "AND e.occurred_at <= ?",
            [as_of],
        )
    new = task_medians(con, as_of, courses, tasks)
    moved = new.join(old.rename({MEDIAN: "_old"}), on="node_id", how="left").filter(
        pl.col("_old").is_null() | (pl.col("_old") != pl.col(MEDIAN))
    )
    medians = pl.concat([old.join(new, on="node_id", how="anti"), new]).sort("node_id")
    bands = moved.select(
        "node_id",
        pl.min_horizontal(MEDIAN, "_old").alias("lo"),
        pl.max_horizontal(MEDIAN, "_old").alias("hi"),
        pl.col("_old").is_null().alias("new_task"),
    )
    with registered(con, "_bands", bands):
        learners = query(
            con,
            "SELECT DISTINCT e.user_id FROM lms_events e JOIN _bands b USING (node_id) "
            "WHERE e.type = 'task_attempted' AND e.occurred_at <= ? "
            "AND e.solved IS NOT FALSE AND (e.tries IS NULL OR e.tries <= 1) "
            "AND (b.new_task OR e.time_spent_ms BETWEEN b.lo AND b.hi) ORDER BY 1",
            [as_of],
        )
    return medians, learners


def _as_of_rows(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    learners: pl.DataFrame,
    current: pl.DataFrame,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """The rows that move with the as-of time for learners not rebuilt, from stored state
    (call it after the rebuilt learners' rows are written): the completion estimates of
    those with one, and the whole task queue. Yields the rows written per table."""
    # a module's estimate is set only when its course's is (the same pace, fewer lessons)
    keys = query(
        con,
        "SELECT user_id, course_id FROM course_progress "
        "WHERE estimated_completion_date IS NOT NULL",
    ).join(learners, on=USER, how="anti")
    lessons = rows_for(
        con,
        "SELECT user_id, course_id, completed_at FROM lesson_progress",
        keys,
        "USING (user_id, course_id)",
    )
    for name in ESTIMATED:
        rows = rows_for(con, f'SELECT * FROM "{name}"', keys, "USING (user_id, course_id)")
        fresh = refresh_estimates(rows, lessons, as_of)
        replace_keys(con, name, fresh, keys)
        yield name, fresh
    due = query(con, "SELECT * FROM task_state WHERE next_due_at <= ?", [as_of])
    enroll = query(con, "SELECT user_id, course_id, status FROM enrollments")
    queue = task_queue(due, enroll, current, as_of)
    replace_table(con, "task_queue", queue)
    yield "task_queue", queue


ASSESSMENT_CONSUMER = "lms_assessment"
PER_LEARNER_ASSESSMENT = ("quiz_attempts", "assignment_submissions")
PER_COURSE_ASSESSMENT = ("quiz_stats", "quiz_item_stats", "task_stats")  # keyed by course_id


def update_assessment(
    con: duckdb.DuckDBPyConnection, as_of: datetime, full_refresh: bool = False
) -> LmsRun:
    """Bring every assessment table up to `as_of`: the tables `build_assessment_tables` gives
    over all the events. A nightly run rebuilds `quiz_attempts` and `assignment_submissions`
    of the learners with new events and of those with an attempt in progress (it turns
    abandoned 24 h after its start, as of), and the quiz, item and task statistics of the
    courses with new events (each statistic is over one quiz's or task's attempts); when
    every course has new events, one build over all of them (it costs what the per-course
    build would)."""
    ensure_lms_tables(con)
    sources = unconsumed_sources(con, ASSESSMENT_CONSUMER, EVENTS_LEDGER)
    digest = inputs_digest(con, versions_as_of(course_tree(con)[0], as_of), None)
    kept = table_names(ASSESSMENT_TABLES)
    reason = _full_reason(con, ASSESSMENT_CONSUMER, as_of, digest, kept, full_refresh, True)
    if not reason and sources is not None:
        changed = _changed_learners(con, ASSESSMENT_CONSUMER, as_of, sources)
        in_progress = query(
            con, "SELECT DISTINCT user_id FROM quiz_attempts WHERE status = 'in_progress'"
        )
        learners = pl.concat([changed.select(USER), in_progress]).unique().sort(USER)
        courses = changed.select("course_id").unique().sort("course_id")
        active = query(con, "SELECT DISTINCT course_id FROM lms_events")["course_id"]
        if active.is_in(courses["course_id"].implode()).all() and courses.height:
            # one build over every course costs what the per-course build would
            reason = "every course has new events"
    if reason or sources is None:
        tables = build_assessment_tables(read_lms_inputs(con, as_of, languages=False), as_of)
        with transaction(con):
            for name, frame in tables.items():
                replace_table(con, name, frame)
            _record_state(con, ASSESSMENT_CONSUMER, as_of, digest, None)
        return LmsRun(tables, "full", reason, tables["quiz_attempts"]["user_id"].n_unique())

    written: dict[str, pl.DataFrame] = {}
    if learners.height:
        inputs = read_lms_inputs(con, as_of, languages=False, learners=learners)
        built = build_assessment_tables(inputs, as_of)
        written |= {name: built[name] for name in PER_LEARNER_ASSESSMENT}
    if courses.height:
        inputs = read_lms_inputs(con, as_of, languages=False, courses=courses)
        built = build_assessment_tables(inputs, as_of)
        written |= {name: built[name] for name in PER_COURSE_ASSESSMENT}
    with transaction(con):
        for name, frame in written.items():
            keys = learners if name in PER_LEARNER_ASSESSMENT else courses
            replace_keys(con, name, frame, keys)
        _record_state(con, ASSESSMENT_CONSUMER, as_of, digest, sources)
    return LmsRun(
        written,
        "incremental",
        f"{learners.height} learner(s) ({in_progress.height} with an attempt in progress) and "
        f"{courses.height} course(s) rebuilt",
        learners.height,
    )
