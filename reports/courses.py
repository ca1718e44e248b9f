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
from transforms.lms.stops import IDLE_DAYS
from transforms.warehouse import query, table_exists

BADGE_SCHEMA = {"user_id": pl.String, "awarded_at": pl.Datetime, "badge_code": pl.String,
                "name": pl.String}  # fmt: skip


@dataclass(frozen=True)
class CourseData:
    """Every table the course pages draw, read once: the progress tables, each course's
    current nodes as of, the awards to enrolled learners."""

    courses: list[str]  # every course with a loaded version, in order
    enrollments: pl.DataFrame
    module_progress: pl.DataFrame
    course_progress: pl.DataFrame
    lesson_progress: pl.DataFrame
    nodes: pl.DataFrame  # course_nodes of each course's newest version published by as of
    badges: pl.DataFrame  # user_id, awarded_at, badge_code, name
    stop_points: pl.DataFrame  # course_stop_points

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: datetime) -> CourseData:
        return cls(
            query(con, "SELECT DISTINCT course_id FROM course_versions ORDER BY 1")[
                "course_id"
            ].to_list(),
            query(con, "SELECT * FROM enrollments"),
            query(con, "SELECT * FROM module_progress"),
            query(con, "SELECT * FROM course_progress"),
            query(con, "SELECT * FROM lesson_progress"),
            current_course_nodes(con, as_of),
            query(con, "SELECT user_id, awarded_at, badge_code, name FROM user_badges")
            if table_exists(con, "user_badges")
            else pl.DataFrame(schema=BADGE_SCHEMA),
            query(con, "SELECT * FROM course_stop_points"),
        )


@dataclass(frozen=True)
class CourseTables:
    """One course's rows of the progress tables and its current lessons in course order."""

    course_id: str
    enrollments: pl.DataFrame
    modules: pl.DataFrame
    courses: pl.DataFrame
    lessons: pl.DataFrame  # lesson_progress
    order: pl.DataFrame  # lesson_id, title, module_id, position, optional (current version)
    module_order: pl.DataFrame  # module_id, title, position
    badges: pl.DataFrame  # awarded_at, badge_code, name: awards to the course's learners
    stop_points: pl.DataFrame  # the course's rows of course_stop_points

    @classmethod
    def of(cls, data: CourseData, course: str) -> CourseTables:
        def rows(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.filter(pl.col("course_id") == course)

        nodes = rows(data.nodes)
        enrollments = rows(data.enrollments)
        return cls(
            course,
            enrollments,
            rows(data.module_progress),
            rows(data.course_progress),
            rows(data.lesson_progress),
            nodes.filter(pl.col("kind").is_in(["lesson", "quiz", "assignment"]))
            .select(
                pl.col("node_id").alias("lesson_id"), "title", "module_id", "position", "optional"
            )
            .sort("position"),
            nodes.filter(kind="module")
            .select(pl.col("node_id").alias("module_id"), "title", "position")
            .sort("position"),
            data.badges.join(enrollments.select("user_id"), on="user_id").select(
                "awarded_at", "badge_code", "name"
            ),
            rows(data.stop_points),
        )


def funnel(t: CourseTables) -> go.Figure:
    """Enrolled → started → each module completed (in course order) → course completed."""
    started = t.courses.filter(pl.col("started_at").is_not_null()).height
    done = t.modules.filter(status="completed").group_by("module_id").len()
    stages = [("enrolled", t.enrollments.height), ("started", started)]
    for row in t.module_order.join(done, on="module_id", how="left").iter_rows(named=True):
        stages.append((f"{row['title'] or row['module_id']} completed", int(row["len"] or 0)))
    stages.append(
        ("course completed", t.enrollments.filter(pl.col("completed_at").is_not_null()).height)
    )
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
    return (
        t.stop_points.drop("course_id")
        .join(t.order.select("lesson_id", "title", "position"), on="lesson_id", how="left")
        .sort(["stopped", "position"], descending=[True, False])
    )


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
    """Cumulative enrollments and course completions by day."""
    fig = go.Figure()
    for column, name in (("enrolled_at", "enrolled"), ("completed_at", "completed")):
        days = (
            t.enrollments.filter(pl.col(column).is_not_null())
            .group_by(pl.col(column).dt.date().alias("day"))
            .len()
            .sort("day")
            .with_columns(pl.col("len").cum_sum().alias("total"))
        )
        fig.add_trace(
            go.Scatter(
                x=days["day"].to_list(),
                y=days["total"].to_list(),
                name=name,
                mode="lines",
                line_shape="hv",
            )
        )
    fig.update_layout(**LAYOUT, title="Enrollments and completions over time (cumulative)")
    return fig


def time_per_lesson(t: CourseTables) -> go.Figure:
    """Median minutes learners spent on each lesson, in course order, with n."""
    per = (
        t.lessons.filter(pl.col("time_spent_s") > 0)
        .group_by("lesson_id")
        .agg((pl.col("time_spent_s").median() / 60).alias("minutes"), pl.len().alias("n"))
        .join(t.order, on="lesson_id")
        .sort("position")
    )
    fig = go.Figure(
        go.Bar(
            x=per.select(pl.coalesce("title", "lesson_id")).to_series().to_list(),
            y=per["minutes"].to_list(),
            text=[f"n={n}" for n in per["n"]],
            hovertemplate="%{x}: %{y:.1f} min (%{text})<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, title="Median time spent per lesson (minutes)")
    return fig


def continue_positions(t: CourseTables) -> go.Figure:
    """How many learners still on the course will continue at each lesson."""
    active = t.courses.filter(
        pl.col("completed_at").is_null()
        & (pl.col("enrollment_status") == "active")
        & pl.col("current_lesson").is_not_null()
    )
    counts = (
        active.group_by(pl.col("current_lesson").alias("lesson_id"))
        .len()
        .join(t.order, on="lesson_id", how="left")
        .sort("position")
    )
    fig = go.Figure(
        go.Bar(
            x=counts.select(pl.coalesce("title", "lesson_id")).to_series().to_list(),
            y=counts["len"].to_list(),
        )
    )
    fig.update_layout(**LAYOUT, title='Where active learners will "continue here"')
    return fig


def badges_per_week(t: CourseTables) -> pl.DataFrame:
    """Awards to the course's enrolled learners per ISO week (Monday) and badge."""
    return (
        t.badges.with_columns(pl.col("awarded_at").dt.truncate("1w").dt.date().alias("week"))
        .group_by("week", "badge_code", "name")
        .agg(pl.len().alias("awards"))
        .sort("week", "badge_code")
    )


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
            badges_figure(badges_per_week(t)),
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
