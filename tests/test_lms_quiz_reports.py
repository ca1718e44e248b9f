"""The course authors' quiz pages: every chart draws with data, no learner or response is
shown, small quizzes are left out, and the index and the course pages link them."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing
from reports.courses import CourseData, build_course_reports
from reports.export import chromium_path
from reports.index import link_groups
from reports.pages import PageMeta
from reports.quizzes import QuizData, build_quiz_reports
from tests.browser import assert_page_draws
from tests.lms_build import build_lms_warehouse
from tests.lms_landing import write_landing
from transforms.warehouse import connect, query

AS_OF = datetime(2026, 8, 20)


def _warehouse(landing: Path, db: Path, as_of: datetime) -> None:
    con = connect(db)
    build_lms_warehouse(con, landing, as_of, db.parent / "outbox")
    con.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[str]]:
    root = tmp_path_factory.mktemp("quiz-pages")
    generate_lms_landing(root / "landing", LmsGeneratorConfig(learners=80, days=50))
    _warehouse(root / "landing", root / "w.duckdb", AS_OF)
    con = connect(root / "w.duckdb")
    meta = PageMeta(as_of=str(AS_OF), run_id="test")
    courses, quizzes = CourseData.read(con, AS_OF), QuizData.read(con, AS_OF)
    con.close()
    build_course_reports(courses, quizzes.courses_with_a_page(), root / "reports", meta)
    built, suppressed, figures = build_quiz_reports(quizzes, root / "reports", meta)
    assert len(built) == 3 and len(figures) % 3 == 0 and figures
    return root, built, suppressed


def test_pages_link_both_ways_and_from_the_index(
    pages: tuple[Path, list[Path], list[str]],
) -> None:
    root, built, _ = pages
    for page in built:
        course_page = root / "reports" / "courses" / page.name
        assert f"../quizzes/{page.name}" in course_page.read_text()
        assert f"../courses/{page.name}" in page.read_text()
    authors = next(g for g in link_groups(root / "reports", []) if g.title == "Course authors")
    assert sorted(href for _, href in authors.links) == sorted(f"quizzes/{p.name}" for p in built)


def test_no_learner_is_named(pages: tuple[Path, list[Path], list[str]]) -> None:
    con = connect(pages[0] / "w.duckdb")
    users = set(query(con, "SELECT DISTINCT user_id FROM lms_events")["user_id"])
    con.close()
    for page in pages[1]:
        content = page.read_text()
        assert not any(u in content for u in users), page


def test_the_page_flags_the_mis_keyed_question(pages: tuple[Path, list[Path], list[str]]) -> None:
    py101 = next(p for p in pages[1] if p.name == "py101.html").read_text()
    assert "likely mis-keyed" in py101 and "Basis: first attempts" in py101


def test_small_quizzes_are_left_out(tmp_path: Path) -> None:
    """The hand-written landing: py101's q1 has one learner's attempts: no page."""
    landing = write_landing(tmp_path / "landing")
    as_of = datetime(2026, 2, 10)
    _warehouse(landing, tmp_path / "w.duckdb", as_of)
    con = connect(tmp_path / "w.duckdb")
    data = QuizData.read(con, as_of)
    con.close()
    built, suppressed, _ = build_quiz_reports(
        data, tmp_path / "reports", PageMeta(as_of=str(as_of), run_id="t")
    )
    assert built == [] and suppressed == ["py101/m1/q1"]


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_every_quiz_chart_draws_with_data(pages: tuple[Path, list[Path], list[str]]) -> None:
    for page in pages[1]:
        rendered = assert_page_draws(page)
        assert rendered.charts and all(c.bars > 0 for c in rendered.charts), page.name
