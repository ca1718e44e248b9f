"""The educators' course page (issue 12): the enrolment funnel, where learners stop,
completion over time, time spent per lesson and where learners will continue.

Aggregates only: no learner is named, and a course with fewer than 5 enrolled learners gets no
page (`privacy.MIN_COHORT`). Every proportion shown carries its Wilson 95% interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl

from reports.pages import PageMeta, Section, slug, write_page
from reports.privacy import MIN_COHORT
from reports.quizzes import QUIZ_FOLDER, current_course_nodes, quiz_page_path
from reports.theme import LAYOUT
from transforms.lms.course_figures import SERIES
from transforms.lms.stops import IDLE_DAYS
from transforms.warehouse import query


@dataclass(frozen=True)
class CourseData:
    """Every table the course pages draw, read once: enrollments (the privacy rule), each
    course's current nodes as of, and the course figure tables (`transforms/lms/
    course_figures.py`, `course_stop_points`)."""

    courses: list[str]  # every course with a loaded version, in order
    enrollments: pl.DataFrame
    nodes: pl.DataFrame  # course_nodes of each course's newest version published by as of
    funnel: pl.DataFrame  # course_funnel
    stop_points: pl.DataFrame  # course_stop_points
    completion_days: pl.DataFrame  # course_completion_days
    lesson_time: pl.DataFrame  # course_lesson_time
    continue_positions: pl.DataFrame  # course_continue_positions
    badges_weekly: pl.DataFrame  # course_badges_weekly

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: datetime) -> CourseData:
        def table(name: str) -> pl.DataFrame:
            return query(con, f'SELECT * FROM "{name}"')

        return cls(
            query(con, "SELECT DISTINCT course_id FROM course_versions ORDER BY 1")[
                "course_id"
            ].to_list(),
            table("enrollments"),
            current_course_nodes(con, as_of),
            table("course_funnel"),
            table("course_stop_points"),
            table("course_completion_days"),
            table("course_lesson_time"),
            table("course_continue_positions"),
            table("course_badges_weekly"),
        )


@dataclass(frozen=True)
class CourseTables:
    """One course's rows of the tables the page draws and its current lessons in course
    order."""

    course_id: str
    enrollments: pl.DataFrame
    order: pl.DataFrame  # lesson_id, title, module_id, position, optional (current version)
    module_order: pl.DataFrame  # module_id, title, position
    funnel: pl.DataFrame  # the course's rows of each table below
    stop_points: pl.DataFrame
    completion_days: pl.DataFrame
    lesson_time: pl.DataFrame
    continue_positions: pl.DataFrame
    badges_weekly: pl.DataFrame

    @classmethod
    def of(cls, data: CourseData, course: str) -> CourseTables:
        def rows(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("course_id") == course).drop("course_id")

        nodes = rows(data.nodes)
        return cls(
            course,
            rows(data.enrollments),
            nodes.filter(pl.col("kind").is_in(["lesson", "quiz", "assignment"]))
            .select(
                pl.col("node_id").alias("lesson_id"), "title", "module_id", "position", "optional"
            )
            .sort("position"),
            nodes.filter(kind="module")
            .select(pl.col("node_id").alias("module_id"), "title", "position")
            .sort("position"),
            rows(data.funnel),
            rows(data.stop_points),
            rows(data.completion_days),
            rows(data.lesson_time),
            rows(data.continue_positions),
            rows(data.badges_weekly),
        )


def funnel(t: CourseTables) -> go.Figure:
    """Enrolled → started → each module completed (in course order) → course completed
    (`course_funnel`)."""

    def learners(stage: str) -> int:
        return int(t.funnel.filter(stage=stage)["learners"].sum())

    done = t.funnel.filter(stage="module_completed").select("module_id", "learners")
    stages = [("enrolled", learners("enrolled")), ("started", learners("started"))]
    for row in t.module_order.join(done, on="module_id", how="left").iter_rows(named=True):
        stages.append((f"{row['title'] or row['module_id']} completed", int(row["learners"] or 0)))
    stages.append(("course completed", learners("course_completed")))
    fig = go.Figure(
        go.Funnel(
            y=[s for s, _ in stages],
            x=[n for _, n in stages],
            textinfo="value+percent initial",
        )
    )
    fig.update_layout(**LAYOUT, title="Enrolled, started, modules and course completed")
    return fig


def stopped_at(t: CourseTables) -> pl.DataFrame:
    """The course's stop points (`course_stop_points`: learners who withdrew, paused or were
    idle without completing, by the lesson they would continue at) with the lessons' titles,
    ranked by drop-off."""
    return t.stop_points.join(
        t.order.select("lesson_id", "title", "position"), on="lesson_id", how="left"
    ).sort(["stopped", "position"], descending=[True, False])


def drop_off(ranked: pl.DataFrame) -> go.Figure:
    top = ranked.head(15).reverse()
    label = pl.coalesce("title", "lesson_id")
    fig = go.Figure(
        go.Bar(
            x=top["share"].to_list(),
            y=top.select(label).to_series().to_list(),
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (top["share_high"] - top["share"]).to_list(),
                "arrayminus": (top["share"] - top["share_low"]).to_list(),
            },
            text=[
                f"{k} of {n}" for k, n in zip(top["stopped"], top["stopped_learners"], strict=True)
            ],
            hovertemplate="%{y}: %{x:.0%} (%{text})<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, title="Where learners stop (share of those who stopped, 95% CI)")
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    return fig


def completion_over_time(t: CourseTables) -> go.Figure:
    """Cumulative enrollments and course completions by day (`course_completion_days`)."""
    fig = go.Figure()
    for series in SERIES:
        days = t.completion_days.filter(series=series).sort("day")
        fig.add_trace(
            go.Scatter(
                x=days["day"].to_list(),
                y=days["total"].to_list(),
                name=series,
                mode="lines",
                line_shape="hv",
            )
        )
    fig.update_layout(**LAYOUT, title="Enrollments and completions over time (cumulative)")
    return fig


def time_per_lesson(t: CourseTables) -> go.Figure:
    """Median minutes learners spent on each lesson, in course order, with n
    (`course_lesson_time`)."""
    per = t.lesson_time.join(t.order, on="lesson_id").sort("position")
    fig = go.Figure(
        go.Bar(
            x=per.select(pl.coalesce("title", "lesson_id")).to_series().to_list(),
            y=per["minutes"].to_list(),
            text=[f"n={n}" for n in per["learners"]],
            hovertemplate="%{x}: %{y:.1f} min (%{text})<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, title="Median time spent per lesson (minutes)")
    return fig


def continue_positions(t: CourseTables) -> go.Figure:
    """How many learners still on the course will continue at each lesson
    (`course_continue_positions`)."""
    counts = t.continue_positions.join(t.order, on="lesson_id", how="left").sort("position")
    fig = go.Figure(
        go.Bar(
            x=counts.select(pl.coalesce("title", "lesson_id")).to_series().to_list(),
            y=counts["learners"].to_list(),
        )
    )
    fig.update_layout(**LAYOUT, title='Where active learners will "continue here"')
    return fig


def badges_figure(weekly: pl.DataFrame) -> go.Figure:
    """Badges awarded per week, stacked by badge."""
    fig = go.Figure()
    for (code, name), rows in weekly.group_by("badge_code", "name", maintain_order=True):
        fig.add_trace(
            go.Bar(
                x=rows["week"].to_list(),
                y=rows["awards"].to_list(),
                name=str(name or code),
                hovertemplate="week of %{x}: %{y}<extra>" + str(name or code) + "</extra>",
            )
        )
    fig.update_layout(**LAYOUT, barmode="stack", title="Badges awarded per week (by week start)")
    return fig


def course_sections(t: CourseTables) -> list[Section]:
    ranked = stopped_at(t)
    table = ranked.head(15).select(
        pl.coalesce("title", "lesson_id").alias("lesson"),
        "stopped",
        "stopped_learners",
        *(pl.col(c).round(3) for c in ("share", "share_low", "share_high")),
    )
    return [
        Section("Funnel", funnel(t)),
        Section(
            "Where learners stop",
            drop_off(ranked),
            table=table,
            note=f"Learners who withdrew, paused or were idle {IDLE_DAYS}+ days without "
            "completing, by the lesson they would continue at.",
        ),
        Section("Completion over time", completion_over_time(t)),
        Section("Time spent per lesson", time_per_lesson(t)),
        Section('"Continue here" positions', continue_positions(t)),
        Section(
            "Badges awarded per week",
            badges_figure(t.badges_weekly),
            note="Awards to this course's enrolled learners (any badge, wherever earned), by the "
            "ISO week of the event that earned them.",
        ),
    ]


def build_course_reports(
    data: CourseData, quiz_courses: set[str], folder: Path, meta: PageMeta
) -> tuple[list[Path], list[str], list[tuple[str, go.Figure]]]:
    """One page per course platform course with at least 5 enrolled learners under
    `folder/courses/`, linking its quiz page when it has one (`quiz_courses`); returns (pages,
    courses left out, figures)."""
    pages: list[Path] = []
    suppressed: list[str] = []
    figures: list[tuple[str, go.Figure]] = []
    for course in data.courses:
        tables = CourseTables.of(data, course)
        if tables.enrollments.height < MIN_COHORT:
            suppressed.append(course)
            continue
        sections = course_sections(tables)
        title = f"Course: {course}"
        quiz_page = quiz_page_path(folder, course)
        links = [("Quiz statistics", f"../{QUIZ_FOLDER}/{quiz_page.name}")]
        pages.append(
            write_page(
                folder / "courses" / f"{slug(course)}.html",
                title,
                sections,
                meta,
                links if course in quiz_courses else None,
            )
        )
        figures += [
            (f"course-{slug(course)}-{i}", s.figure) for i, s in enumerate(sections) if s.figure
        ]
    return pages, suppressed, figures
