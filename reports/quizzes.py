"""The course authors' quiz page: one page per course, one part per quiz in course order.

Per quiz: the score histogram of first attempts and the quiz statistics of every basis (mean,
median, sd, Cronbach's alpha, error ratio, standard error); per question: facility,
discrimination index with its flag in words, discriminative efficiency and the answer
distribution (full, partial, no credit, unanswered). The figures use first attempts (a
learner's first try measures the question, later tries also measure the retakes); the table
gives every basis.

Aggregates only: no learner is named and no response text is shown; a quiz with fewer than 5
learners who completed it is left out (`privacy.MIN_COHORT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl

from reports.pages import PageMeta, Section, share, slug, write_page
from reports.privacy import MIN_COHORT, SUPPRESSED
from reports.theme import LAYOUT
from transforms.lms.tree import current_nodes, versions_as_of
from transforms.warehouse import query, table_exists

SHOWN_BASIS = "first"
QUIZ_FOLDER = "quizzes"


def quiz_page_path(folder: Path, course: str) -> Path:
    return folder / QUIZ_FOLDER / f"{slug(course)}.html"


def current_course_nodes(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pl.DataFrame:
    """The nodes of each course's newest version published by `as_of` (what its pages show)."""
    versions = query(con, "SELECT course_id, version, published_at FROM course_versions")
    nodes = query(con, "SELECT * FROM course_nodes")
    return current_nodes(nodes, versions_as_of(versions, as_of))


def shown_quizzes(stats: pl.DataFrame) -> pl.DataFrame:
    """(course_id, quiz_id, n) of the quizzes whose first attempts come from at least 5
    learners (`stats`: quiz_stats): the ones a quiz page shows."""
    return (
        stats.filter((pl.col("basis") == SHOWN_BASIS) & (pl.col("n") >= MIN_COHORT))
        .select("course_id", "quiz_id", "n")
        .sort("course_id", "quiz_id")
    )


@dataclass(frozen=True)
class QuizData:
    """Every table the quiz pages draw, read once: `stats` and `items` (quiz_stats and
    quiz_item_stats, every basis), each learner's first completed attempt's score, and the
    quizzes' titles and positions in their course's current version."""

    stats: pl.DataFrame
    items: pl.DataFrame
    first_scores: pl.DataFrame  # quiz_id, score_percent
    titles: pl.DataFrame  # course_id, quiz_id, title, position

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection, as_of: datetime) -> QuizData:
        if not table_exists(con, "quiz_stats"):
            return cls.empty()
        attempts = query(
            con, "SELECT user_id, quiz_id, status, attempt_number, score_percent FROM quiz_attempts"
        )
        titles = (
            current_course_nodes(con, as_of)
            .filter(kind="quiz")
            .select("course_id", pl.col("node_id").alias("quiz_id"), "title", "position")
        )
        return cls(
            query(con, "SELECT * FROM quiz_stats"),
            query(con, "SELECT * FROM quiz_item_stats"),
            first_attempt_scores(attempts),
            titles,
        )

    @classmethod
    def empty(cls) -> QuizData:
        stats = pl.DataFrame(
            schema={"course_id": pl.String, "quiz_id": pl.String, "basis": pl.String, "n": pl.Int32}
        )
        return cls(stats, pl.DataFrame(), pl.DataFrame(), pl.DataFrame())

    def courses_with_a_page(self) -> set[str]:
        """The courses that get a quiz page (a quiz of theirs has 5+ learners' first
        attempts)."""
        return set(shown_quizzes(self.stats)["course_id"])


def score_histogram(scores: pl.Series, title: str) -> go.Figure:
    fig = go.Figure(
        go.Histogram(
            x=scores.to_list(),
            xbins={"start": 0, "end": 100.001, "size": 10},
            hovertemplate="%{x}: %{y} attempts<extra></extra>",
        )
    )
    fig.update_layout(**LAYOUT, title=title, bargap=0.05)
    fig.update_xaxes(title="score (% of the quiz's points)", range=[0, 100])
    fig.update_yaxes(title="first attempts")
    return fig


def question_figure(items: pl.DataFrame, title: str) -> go.Figure:
    """Facility (%) and discrimination index per question, in quiz order."""
    labels = items["question"].to_list()
    fig = go.Figure(
        [
            go.Bar(
                x=labels,
                y=(items["facility"] * 100).to_list(),
                name="facility (%)",
                hovertemplate="%{x}: facility %{y:.0f}%<extra></extra>",
            ),
            go.Bar(
                x=labels,
                y=items["discrimination_index"].to_list(),
                name="discrimination index",
                text=items["flags"].fill_null("").to_list(),
                textposition="none",
                hovertemplate="%{x}: discrimination %{y:.0f} %{text}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(**LAYOUT, title=title, barmode="group")
    fig.add_hline(y=0, line_color="#888")
    return fig


def distribution_figure(items: pl.DataFrame, title: str) -> go.Figure:
    """Per question, how the last answers of first attempts scored (stacked)."""
    labels = items["question"].to_list()
    parts = (
        ("full_credit", "full credit", "#2a9d5c"),
        ("partial_credit", "partial credit", "#e9a23b"),
        ("no_credit", "no credit", "#d1495b"),
        ("unanswered", "unanswered", "#b0b0b0"),
    )
    fig = go.Figure(
        [
            go.Bar(x=labels, y=items[column].to_list(), name=name, marker_color=color)
            for column, name, color in parts
            if items[column].sum() > 0
        ]
    )
    fig.update_layout(**LAYOUT, title=title, barmode="stack")
    fig.update_yaxes(title="first attempts")
    return fig


def quiz_sections(
    quiz_id: str,
    title: str,
    stats: pl.DataFrame,
    items: pl.DataFrame,
    first_scores: pl.Series,
) -> list[Section]:
    """The sections of one quiz: `stats`/`items` are its rows of quiz_stats and
    quiz_item_stats (every basis), `first_scores` its first attempts' score_percent."""
    first = stats.filter(basis=SHOWN_BASIS).row(0, named=True)
    shown = items.filter(basis=SHOWN_BASIS).with_columns(
        pl.col("question_id").str.strip_prefix(quiz_id + "/").alias("question")
    )
    summary = stats.select(
        "basis",
        pl.col("n").alias("attempts"),
        pl.col("mean").alias("mean_pct"),
        pl.col("median").alias("median_pct"),
        pl.col("sd").alias("sd_pct"),
        "skewness",
        "kurtosis",
        "cronbach_alpha",
        pl.col("error_ratio").alias("error_ratio_pct"),
        pl.col("standard_error").alias("standard_error_pct"),
    )
    table = shown.select(
        "question",
        "max_points",
        "facility",
        "sd",
        "random_guess",
        "discrimination_index",
        "discriminative_efficiency",
        pl.col("flags").fill_null(""),
        "full_credit",
        "partial_credit",
        "no_credit",
        "unanswered",
    )
    alpha = first["cronbach_alpha"]
    alpha_text = "n/a" if alpha is None else f"{alpha:.2f}"
    note = (
        f"Basis: first attempts ({first['n']} learners). Cronbach's alpha {alpha_text}; the "
        "table gives every basis (first, highest, last, all completed attempts). Flags need "
        "30 attempts."
    )
    return [
        Section(
            f"{title}: scores",
            score_histogram(first_scores, f"{title}: first-attempt scores"),
            table=summary,
            note=note,
        ),
        Section(
            f"{title}: questions",
            question_figure(shown, f"{title}: facility and discrimination (first attempts)"),
            table=table,
            formats={"facility": share, "random_guess": share, "sd": share},
            note="Facility: mean score as a share of the question's points. Discrimination "
            "index: correlation of the question's score with the rest of the quiz × 100 (< 0 "
            "likely mis-keyed, < 30 very likely needs revision, < 50 likely needs revision). "
            "Efficiency: that covariance as a share of the largest possible (< 15 dubious).",
        ),
        Section(
            f"{title}: answer distribution",
            distribution_figure(shown, f"{title}: how first attempts scored per question"),
        ),
    ]


def first_attempt_scores(attempts: pl.DataFrame) -> pl.DataFrame:
    """(quiz_id, score_percent) of each learner's first completed attempt."""
    return (
        attempts.filter(status="completed")
        .sort("attempt_number")
        .group_by("user_id", "quiz_id")
        .first()
        .sort("quiz_id", "user_id")  # one order: the page's chart data is the same every run
        .select("quiz_id", "score_percent")
    )


def build_quiz_reports(
    data: QuizData, folder: Path, meta: PageMeta
) -> tuple[list[Path], list[str], list[tuple[str, go.Figure]]]:
    """One page per course with a quiz of 5+ learners under `folder/quizzes/`; returns
    (pages, quizzes left out, figures)."""
    if data.stats.is_empty():
        return [], [], []
    shown = shown_quizzes(data.stats)
    every = data.stats["quiz_id"].unique().to_list()
    suppressed = sorted(set(every) - set(shown["quiz_id"]))
    stats, items, scores = data.stats, data.items, data.first_scores
    pages: list[Path] = []
    figures: list[tuple[str, go.Figure]] = []
    ordered = shown.join(data.titles, on=["course_id", "quiz_id"], how="left").sort(
        "course_id", pl.col("position").fill_null(1 << 30), "quiz_id"
    )
    for (course,), quizzes in ordered.group_by("course_id", maintain_order=True):
        sections: list[Section] = []
        for row in quizzes.iter_rows(named=True):
            quiz = row["quiz_id"]
            sections += quiz_sections(
                quiz,
                row["title"] or quiz,
                stats.filter(quiz_id=quiz),
                items.filter(quiz_id=quiz),
                scores.filter(quiz_id=quiz)["score_percent"],
            )
        left_out = [q for q in suppressed if q.startswith(f"{course}/")]
        if left_out:
            sections.append(
                Section("Quizzes not shown", note=f"{SUPPRESSED}: {', '.join(left_out)}.")
            )
        path = quiz_page_path(folder, str(course))
        course_page = folder / "courses" / f"{slug(str(course))}.html"
        links = [("Course page", f"../courses/{course_page.name}")] if course_page.exists() else []
        pages.append(write_page(path, f"Quizzes: {course}", sections, meta, links))
        figures += [
            (f"quiz-{slug(str(course))}-{i}", s.figure) for i, s in enumerate(sections) if s.figure
        ]
    return pages, suppressed, figures
