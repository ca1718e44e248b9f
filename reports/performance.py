"""The learner performance page (the `PerformanceReport` shape): a summary, assessments with
their trend, competencies with mastery, badges, and the next tasks, for each selected learner of
the course platforms, under a pseudonym (the learner pages' selection and privacy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import plotly.graph_objects as go
import polars as pl

from reports.pages import PageMeta, Section, write_page
from reports.privacy import pseudonym
from reports.theme import LAYOUT
from transforms.lms.assessment_trends import TREND_POINTS, TREND_WINDOW, read_assessments
from transforms.warehouse import query, registered, table_exists

# `reports.build.pick_learners` ranks by `attempts`: here every course-platform event counts
ACTIVITY_SQL = "SELECT user_id, count(*) AS attempts FROM lms_events GROUP BY 1"
FOLDER = "performance"


@dataclass(frozen=True)
class PerformanceReport:
    """One learner's performance (the `PerformanceReport` model): `summary` (one row of
    totals), `assessments` (completed quiz attempts and assignment grades in time order) with
    `trend`, `competencies` (level, status, threshold), `badges`, `next_tasks` (the task
    queue, in the order to take them)."""

    learner: str  # the pseudonym
    summary: pl.DataFrame
    courses: pl.DataFrame
    assessments: pl.DataFrame
    trend: str | None
    competencies: pl.DataFrame
    badges: pl.DataFrame
    next_tasks: pl.DataFrame


@dataclass(frozen=True)
class PerformanceData:
    """Every table the performance pages draw, read once, for the selected learners: their
    rows of course_progress, their assessments (completed quiz attempts, graded assignments)
    and assessment_trends, user_competencies, user_badges, task_queue (with task titles) and
    user_progress."""

    courses: pl.DataFrame
    assessments: pl.DataFrame  # `read_assessments`: quiz attempts and graded assignments
    trends: pl.DataFrame  # assessment_trends
    competencies: pl.DataFrame
    badges: pl.DataFrame
    next_tasks: pl.DataFrame
    totals: pl.DataFrame

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, users: list[str]) -> PerformanceData:
        picked = pl.DataFrame({"user_id": users}, schema={"user_id": pl.String})
        picked_only = "user_id IN (SELECT user_id FROM _picked)"
        with registered(con, "_picked", picked):

            def rows(sql: str, table: str | None = None) -> pl.DataFrame:
                """The picked learners' rows of `sql` (empty when `table` is not built)."""
                if table is not None and not table_exists(con, table):
                    return pl.DataFrame(schema={"user_id": pl.String})
                return query(con, sql.format(picked=picked_only))

            return cls(
                courses=rows(
                    "SELECT user_id, course_id, status, percent_complete, weighted_score, "
                    "current_lesson, time_spent_s FROM course_progress WHERE {picked} "
                    "ORDER BY course_id"
                ),
                assessments=read_assessments(con, picked_only),
                trends=rows("SELECT * FROM assessment_trends WHERE {picked}", "assessment_trends"),
                competencies=rows(
                    "SELECT user_id, competency_id, name, level, status, acquired_at, evidence, "
                    "mastery_threshold * 100 AS threshold FROM user_competencies "
                    "WHERE {picked} ORDER BY competency_id",
                    "user_competencies",
                ),
                badges=rows(
                    "SELECT user_id, name, badge_code, context, awarded_at, points "
                    "FROM user_badges WHERE {picked} ORDER BY awarded_at, badge_code",
                    "user_badges",
                ),
                next_tasks=rows(
                    "SELECT q.user_id, q.course_id, q.queue_rank, "
                    "coalesce(n.title, q.task_id) AS task, q.lesson_id, q.next_due_at, "
                    "q.overdue_days FROM task_queue q LEFT JOIN (SELECT node_id, "
                    "arg_max(title, version) AS title FROM course_nodes GROUP BY 1) n "
                    "ON n.node_id = q.task_id WHERE q.{picked} "
                    "ORDER BY q.course_id, q.queue_rank"
                ),
                totals=rows(
                    "SELECT user_id, courses_enrolled, courses_completed, lessons_completed, "
                    "quizzes_completed, assignments_completed, tasks_completed, points_earned, "
                    "time_spent_s / 3600 AS hours, active_days FROM user_progress "
                    "WHERE {picked}"
                ),
            )

    def has_progress(self, user: str) -> bool:
        """Whether the learner has a course-platform course (a page)."""
        return self.courses.filter(pl.col("user_id") == user).height > 0


def _of(frame: pl.DataFrame, user: str) -> pl.DataFrame:
    """One learner's rows, without the user id (a table not built: an empty frame)."""
    if frame.width <= 1:
        return pl.DataFrame()
    return frame.filter(pl.col("user_id") == user).drop("user_id")


def performance_report(data: PerformanceData, user: str, key: bytes) -> PerformanceReport:
    """One learner's rows of the course-platform tables."""
    assessments = _of(data.assessments, user)
    trend = _of(data.trends, user)
    competencies = _of(data.competencies, user)
    badges = _of(data.badges, user)
    summary = _of(data.totals, user).with_columns(
        pl.lit(badges.height).alias("badges"),
        pl.lit(
            competencies.filter(pl.col("status") == "mastered").height if competencies.height else 0
        ).alias("competencies_mastered"),
        pl.lit(
            trend["mean_assessment_percent"][0] if trend.height else None, dtype=pl.Float64
        ).alias("mean_assessment_percent"),
    )
    return PerformanceReport(
        learner=pseudonym(user, key),
        summary=summary,
        courses=_of(data.courses, user),
        assessments=assessments,
        trend=trend["assessment_trend"][0] if trend.height else None,
        competencies=competencies,
        badges=badges,
        next_tasks=_of(data.next_tasks, user).head(20),
    )


def progress_figure(report: PerformanceReport) -> go.Figure:
    courses = report.courses
    fig = go.Figure(
        go.Bar(
            x=courses["percent_complete"].fill_null(0.0).to_list() if courses.height else [],
            y=courses["course_id"].to_list() if courses.height else [],
            orientation="h",
            hovertemplate="%{y}: %{x:.0f}% complete<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, title="Progress by course (% of required lessons completed)")
    fig.update_xaxes(range=[0, 100])
    return fig


def assessments_figure(report: PerformanceReport) -> go.Figure:
    """Each assessment's score over time by kind, and the least-squares trend line over the
    last 10."""
    fig = go.Figure()
    a = report.assessments
    for kind in ("quiz", "assignment"):
        rows = a.filter(pl.col("kind") == kind) if a.height else a
        fig.add_trace(
            go.Scatter(
                x=rows["at"].to_list() if rows.height else [],
                y=rows["score_percent"].to_list() if rows.height else [],
                text=rows["item"].to_list() if rows.height else [],
                mode="markers",
                name=kind,
                hovertemplate="%{text}: %{y:.0f}%<extra></extra>",
            )
        )
    recent = a.drop_nulls("score_percent").tail(TREND_WINDOW) if a.height else a
    if recent.height >= 3:
        k, b = np.polyfit(np.arange(recent.height), recent["score_percent"].to_numpy(), 1)
        fig.add_trace(
            go.Scatter(
                x=recent["at"].to_list(),
                y=[float(b + k * i) for i in range(recent.height)],
                mode="lines",
                name=f"trend: {report.trend}",
            )
        )
    fig.update_layout(**LAYOUT, title=f"Assessment scores (trend: {report.trend or 'too few'})")
    fig.update_yaxes(range=[0, 105], title="score %")
    return fig


def competencies_figure(report: PerformanceReport) -> go.Figure:
    """Mastery level per competency against its threshold."""
    c = report.competencies
    labels = (
        c.select(pl.coalesce("name", "competency_id")).to_series().to_list() if c.height else []
    )
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=c["level"].to_list() if c.height else [],
                text=c["status"].to_list() if c.height else [],
                name="level",
                hovertemplate="%{x}: %{y:.0f} (%{text})<extra></extra>",
            ),
            go.Scatter(
                x=labels,
                y=c["threshold"].to_list() if c.height else [],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 30},
                name="mastery threshold",
            ),
        ]
    )
    fig.update_layout(**LAYOUT, title="Competencies: probability of mastery (BKT, 0–100)")
    fig.update_yaxes(range=[0, 100])
    return fig


def performance_sections(report: PerformanceReport) -> list[Section]:
    return [
        Section("Summary", progress_figure(report), table=report.summary),
        Section(
            "Assessments",
            assessments_figure(report),
            table=report.assessments.tail(20) if report.assessments.height else None,
            note="Completed quiz attempts and graded assignments. Trend: the least-squares slope "
            f"of the last {TREND_WINDOW} scores, beyond ±{TREND_POINTS:g} point per assessment.",
        ),
        Section(
            "Competencies",
            competencies_figure(report),
            table=report.competencies if report.competencies.height else None,
        ),
        Section(
            "Badges",
            table=report.badges if report.badges.height else None,
            note=None if report.badges.height else "No badge yet.",
        ),
        Section(
            "Next tasks",
            table=report.next_tasks if report.next_tasks.height else None,
            note="Due as of, in the order to take them (the retry queue)."
            if report.next_tasks.height
            else "Nothing due.",
        ),
    ]


def build_performance_reports(
    data: PerformanceData, folder: Path, meta: PageMeta, key: bytes, users: list[str]
) -> tuple[list[Path], list[tuple[str, go.Figure]]]:
    """One page per selected learner with course-platform progress, `folder/performance/
    <pseudonym>.html` (the asset removes the pages of learners no longer selected)."""
    pages: list[Path] = []
    figures: list[tuple[str, go.Figure]] = []
    for user in users:
        if not data.has_progress(user):
            continue
        report = performance_report(data, user, key)
        sections = performance_sections(report)
        title = f"Learner performance: {report.learner}"
        pages.append(write_page(folder / FOLDER / f"{report.learner}.html", title, sections, meta))
        figures += [
            (f"performance-{report.learner}-{i}", s.figure)
            for i, s in enumerate(sections)
            if s.figure is not None
        ]
    return pages, figures
