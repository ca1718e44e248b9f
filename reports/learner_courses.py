"""A learner's courses on their page: every course-platform and language (`lang:`) course they
are enrolled in or active in, progress per module, and what to do next (their `task_queue`).

Only the learner's own rows are read, and only ids, counts, percentages and times: never an
answer's text. The page is named by the learner's pseudonym, as every learner page."""

from __future__ import annotations

import duckdb
import plotly.graph_objects as go
import polars as pl

from reports.educators import LAYOUT
from reports.pages import Section, percent
from transforms.warehouse import query, table_exists

NEXT_TASKS = 10  # the queue rows shown per course: the top of `task_queue`


def module_progress_chart(modules: pl.DataFrame) -> go.Figure:
    """Percent complete per module (one bar each, in course order), coloured by course.
    `modules` has course_id, module_id, percent_complete (module_progress rows)."""
    fig = go.Figure(
        [
            go.Bar(
                x=rows["percent_complete"].fill_null(0.0).to_list(),
                y=rows["module_id"].to_list(),
                orientation="h",
                name=course,
                hovertemplate="%{y}: %{x:.0f}% complete<extra></extra>",
            )
            for (course,), rows in modules.group_by("course_id", maintain_order=True)
        ]
    )
    fig.update_layout(
        **{**LAYOUT, "height": max(250, 40 * modules.height + 120)},
        title="Progress per module",
        xaxis={"title": "% of required lessons completed", "range": [0, 100]},
        yaxis={"autorange": "reversed"},
    )
    return fig


def read_learner_courses(
    con: duckdb.DuckDBPyConnection, user: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(courses, modules, next tasks) of one learner from `course_progress`,
    `module_progress` and `task_queue` (the top `NEXT_TASKS` per course); empty frames when
    the course-platform tables are not built."""
    if not table_exists(con, "course_progress"):
        empty = pl.DataFrame()
        return empty, empty, empty
    courses = query(
        con,
        "SELECT course_id, enrollment_status, percent_complete, lessons_completed, "
        "lessons_total, current_lesson, estimated_completion_date FROM course_progress "
        "WHERE user_id = ? ORDER BY course_id",
        [user],
    )
    modules = query(
        con,
        "SELECT m.course_id, m.module_id, m.percent_complete, m.status "
        "FROM module_progress m WHERE m.user_id = ? ORDER BY m.course_id, m.module_id",
        [user],
    )
    tasks = query(
        con,
        "SELECT course_id, queue_rank, task_id, lesson_id, next_due_at, "
        "round(overdue_days, 1) AS overdue_days FROM task_queue "
        "WHERE user_id = ? AND queue_rank <= ? ORDER BY course_id, queue_rank",
        [user, NEXT_TASKS],
    )
    return courses, modules, tasks


def course_sections(con: duckdb.DuckDBPyConnection, user: str) -> list[Section]:
    """The learner page's course sections: their courses ("continue here" and the completion
    estimate), progress per module, and the next tasks to take; none when they have no
    course rows."""
    courses, modules, tasks = read_learner_courses(con, user)
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
