"""A learner's courses on their page: every course-platform and language (`lang:`) course they
are enrolled in or active in, progress per module, and what to do next (their `task_queue`).

Only the learner's own rows are read, and only ids, counts, percentages and times: never an
answer's text. The page is named by the learner's pseudonym, as every learner page."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import plotly.graph_objects as go
import polars as pl

from reports.pages import Section, percent
from reports.theme import LAYOUT
from transforms.lms.language import language_nodes
from transforms.warehouse import query, registered, table_exists

NEXT_TASKS = 10  # the queue rows shown per course: the top of `task_queue`


def module_progress_chart(modules: pl.DataFrame) -> go.Figure:
    """Percent complete per module (one dot each, in course order), coloured by course: a dot,
    not a bar, so a module not started (0%) still shows. `modules` has course_id, module_id,
    percent_complete (module_progress rows)."""
    fig = go.Figure(
        [
            go.Scatter(
                x=rows["percent_complete"].fill_null(0.0).to_list(),
                y=rows["module_id"].to_list(),
                mode="markers",
                marker={"size": 12},
                name=course,
                hovertemplate="%{y}: %{x:.0f}% complete<extra></extra>",
            )
            for (course,), rows in modules.group_by("course_id", maintain_order=True)
        ]
    )
    fig.update_layout(
        **{**LAYOUT, "height": max(250, 40 * modules.height + 120)},
        title="Progress per module",
        xaxis={"title": "% of required lessons completed", "range": [-5, 105]},
        yaxis={"autorange": "reversed"},
    )
    return fig


def module_positions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """One row per (course_id, module_id): the module's `position` in its course's tree, in
    the newest version that holds it: the course platforms' `course_nodes` and the language
    courses' trees (`language_nodes` of the manifests)."""
    nodes = query(
        con,
        "SELECT course_id, version, node_id, position FROM course_nodes WHERE kind = 'module'",
    )
    if table_exists(con, "manifest_words"):
        words = query(con, "SELECT * FROM manifest_words")
        if words.height:
            modules = language_nodes(words).filter(pl.col("kind") == "module")
            nodes = pl.concat([nodes, modules.select(nodes.columns)], how="vertical_relaxed")
    return (
        nodes.sort("version")
        .group_by("course_id", pl.col("node_id").alias("module_id"))
        .agg(pl.col("position").last())
    )


@dataclass(frozen=True)
class LearnerCourses:
    """The course rows of the learners with a page, read once: `courses` (course_progress),
    `modules` (module_progress, each course's modules in course-tree order:
    `module_positions`) and `tasks` (the top `NEXT_TASKS` of task_queue per course); empty
    when the course-platform tables are not built."""

    courses: pl.DataFrame
    modules: pl.DataFrame
    tasks: pl.DataFrame

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, learners: list[str]) -> LearnerCourses:
        if not table_exists(con, "course_progress"):
            empty = pl.DataFrame(schema={"user_id": pl.String})
            return cls(empty, empty, empty)
        picked = pl.DataFrame({"user_id": learners}, schema={"user_id": pl.String})
        with registered(con, "_learners", picked):
            return cls(
                courses=query(
                    con,
                    "SELECT user_id, course_id, enrollment_status, percent_complete, "
                    "lessons_completed, lessons_total, current_lesson, estimated_completion_date "
                    "FROM course_progress SEMI JOIN _learners USING (user_id) "
                    "ORDER BY user_id, course_id",
                ),
                modules=query(
                    con,
                    "SELECT user_id, course_id, module_id, percent_complete, status "
                    "FROM module_progress SEMI JOIN _learners USING (user_id)",
                )
                .join(module_positions(con), on=["course_id", "module_id"], how="left")
                .sort("user_id", "course_id", "position", "module_id", nulls_last=True)
                .drop("position"),
                tasks=query(
                    con,
                    "SELECT user_id, course_id, queue_rank, task_id, lesson_id, next_due_at, "
                    "round(overdue_days, 1) AS overdue_days "
                    "FROM task_queue SEMI JOIN _learners USING (user_id) "
                    "WHERE queue_rank <= ? ORDER BY user_id, course_id, queue_rank",
                    [NEXT_TASKS],
                ),
            )

    def of(self, user: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(courses, modules, next tasks) of one learner, without the user id."""
        return tuple(  # type: ignore[return-value]
            f.filter(pl.col("user_id") == user).drop("user_id")
            for f in (self.courses, self.modules, self.tasks)
        )


def course_sections(data: LearnerCourses, user: str) -> list[Section]:
    """The learner page's course sections: their courses ("continue here" and the completion
    estimate), progress per module, and the next tasks to take; none when they have no
    course rows."""
    courses, modules, tasks = data.of(user)
    if courses.height == 0:
        return []
    sections = [
        Section(
            "Courses",
            table=courses,
            formats={"percent_complete": percent},
            note="Continue at the current lesson; the estimate divides the lessons left by "
            "the lessons completed per day over the last 28 days.",
        ),
        Section("Progress per module", module_progress_chart(modules)),
    ]
    if tasks.height:
        sections.append(
            Section(
                "What to do next",
                table=tasks,
                note=f"The first {NEXT_TASKS} due tasks of each course, failed ones first, "
                "then the most overdue (task_queue).",
            )
        )
    else:
        sections.append(Section("What to do next", note="No task is due as of this report."))
    return sections
