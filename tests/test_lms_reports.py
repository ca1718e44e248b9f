"""Educators' course pages: every chart draws, no learner is named, small courses left out."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing
from reports.courses import CourseData, CourseTables, build_course_reports, stopped_at
from reports.export import chromium_path
from reports.learner_courses import LearnerCourses, course_sections, module_progress_chart
from reports.pages import PageMeta, write_page
from reports.quizzes import QuizData
from tests.browser import assert_page_draws, chart_marks, rendered_dom
from tests.lms_build import build_lms_warehouse
from tests.lms_landing import B, write_landing
from transforms.lms.schema import ensure_lms_tables
from transforms.warehouse import connect, query, registered

AS_OF = datetime(2026, 8, 20)


def _warehouse(landing: Path, db: Path, as_of: datetime) -> None:
    con = connect(db)
    build_lms_warehouse(con, landing, as_of, db.parent / "outbox")
    con.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("course-pages")
    generate_lms_landing(root / "landing", LmsGeneratorConfig(learners=60, days=50))
    _warehouse(root / "landing", root / "w.duckdb", AS_OF)
    con = connect(root / "w.duckdb")
    data, quizzes = CourseData.read(con, AS_OF), QuizData.read(con, AS_OF).courses_with_a_page()
    con.close()
    built, suppressed, figures = build_course_reports(
        data, quizzes, root / "reports", PageMeta(as_of=str(AS_OF), run_id="test")
    )
    assert len(built) == 3 and not suppressed and len(figures) == 18
    return root, built


def test_no_learner_is_named(pages: tuple[Path, list[Path]]) -> None:
    con = connect(pages[0] / "w.duckdb")
    users = set(query(con, "SELECT DISTINCT user_id FROM lms_events")["user_id"])
    con.close()
    for page in pages[1]:
        content = page.read_text()
        assert not any(u in content for u in users), page


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_every_course_chart_draws_with_data(pages: tuple[Path, list[Path]]) -> None:
    for page in pages[1]:
        dom, log = rendered_dom(page)
        charts = re.findall(
            r'<div id="[^"]+" class="plotly-graph-div[^"]*"[^>]*>'
            r'(<div class="plot-container plotly")?',
            dom,
        )
        assert len(charts) == 6 and all(charts), page.name
        # every chart has marks: funnel stages and bars with an area, lines with a length
        assert dom.count('class="trace bars"') + dom.count("funnellayer") >= 4, page.name
        empty = [c for c in chart_marks(dom) if c.marks == 0]
        assert not empty, (page.name, empty)
        errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
        assert errors is not None and errors.group(1).strip() == "", page.name
        assert "Uncaught" not in log
        badges = chart_marks(dom)[-1]  # badges awarded per week
        assert badges.bars > 0, page.name


def test_small_courses_are_left_out_and_drop_off_by_hand(tmp_path: Path) -> None:
    landing = write_landing(tmp_path / "landing")
    as_of = datetime(2026, 2, 10)
    _warehouse(landing, tmp_path / "w.duckdb", as_of)
    con = connect(tmp_path / "w.duckdb")
    data = CourseData.read(con, as_of)
    con.close()
    built, suppressed, _ = build_course_reports(
        data, set(), tmp_path / "reports", PageMeta(as_of=str(as_of), run_id="t")
    )
    # Bob paused at q1 and Carol withdrew at q1 (their "continue here"): 2 of 2 who stopped
    ranked = stopped_at(CourseTables.of(data, "py101"))
    assert built == [] and suppressed == ["ds201", "py101"]  # 2 and 3 enrolled learners
    assert ranked.select("lesson_id", "stopped", "stopped_learners", "share").rows() == [
        ("py101/m1/q1", 2, 2, 1.0)
    ]
    assert ranked["share_low"][0] == pytest.approx(0.342, abs=1e-3)  # Wilson, 2 of 2
    assert isinstance(ranked, pl.DataFrame)


def test_learner_page_shows_courses_modules_and_next_tasks(tmp_path: Path) -> None:
    """Bob (tests/lms_landing.py): py101 paused, l1 done; t2 solved on a retry, t3 failed, so
    both are due by Feb 10 and t3 (failed last, priority 4) comes before t2 (priority 2)."""
    landing = write_landing(tmp_path / "landing")
    as_of = datetime(2026, 2, 10)
    _warehouse(landing, tmp_path / "w.duckdb", as_of)
    con = connect(tmp_path / "w.duckdb")
    data = LearnerCourses.read(con, [B])
    courses, modules, tasks = data.of(B)
    sections = course_sections(data, B)
    con.close()
    assert courses.select("course_id", "enrollment_status").rows() == [("py101", "paused")]
    assert modules.select("module_id", "status").rows() == [
        ("py101/m1", "in_progress"),
        ("py101/m2", "in_progress"),  # v2 moved l2, where he works, to m2
    ]
    assert tasks.select("queue_rank", "task_id").rows() == [
        (1, "py101/m1/l2/t3"),
        (2, "py101/m1/l2/t2"),
    ]
    assert [s.title for s in sections] == ["Courses", "Progress per module", "What to do next"]
    page = write_page(
        tmp_path / "learners" / "learner-b.html",
        "Learner report",
        sections,
        PageMeta(as_of=str(as_of), run_id="t"),
    )
    content = page.read_text()
    assert B not in content and "py101/m1/l2/t3" in content
    if chromium_path() is not None or os.environ.get("CI"):
        rendered = assert_page_draws(page)
        assert len(rendered.charts) == 1 and rendered.charts[0].marks > 0


def test_learner_modules_in_course_tree_order(tmp_path: Path) -> None:
    """Modules are listed (and charted) by their position in the course's newest version, not
    by id: c v1 is intro(1), basics(5), advanced(9); v2 moves advanced to 2, so intro,
    advanced, basics (by id: advanced, basics, intro). The language course's levels come in
    level order: lang:xx/L2 before lang:xx/L10 (by id, L10 first)."""
    con = connect(tmp_path / "w.duckdb")
    ensure_lms_tables(con)
    tree = [(1, "c/intro", 1), (1, "c/basics", 5), (1, "c/advanced", 9)]
    tree += [(2, "c/intro", 1), (2, "c/advanced", 2), (2, "c/basics", 5)]
    for version, node, position in tree:
        con.execute(
            "INSERT INTO course_nodes (course_id, version, node_id, kind, position, optional) "
            "VALUES ('c', ?, ?, 'module', ?, false)",
            [version, node, position],
        )
    for uid, level, position in (("w1", 10, 2), ("w2", 2, 1)):
        con.execute(
            "INSERT INTO manifest_words (language, version, word_uid, level, group_uid, "
            "position) VALUES ('xx', 1, ?, ?, 'g' || ?, ?)",
            [uid, level, level, position],
        )
    modules = ["c/advanced", "c/basics", "c/intro", "lang:xx/L10", "lang:xx/L2"]
    rows = pl.DataFrame(
        {
            "user_id": "u",
            "course_id": ["c", "c", "c", "lang:xx", "lang:xx"],
            "module_id": modules,
            "percent_complete": [10.0, 20.0, 30.0, 40.0, 50.0],
            "status": "in_progress",
        }
    )
    with registered(con, "_rows", rows):
        con.execute("CREATE TABLE module_progress AS SELECT * FROM _rows")
    con.execute(
        "CREATE TABLE course_progress (user_id VARCHAR, course_id VARCHAR, "
        "enrollment_status VARCHAR, percent_complete DOUBLE, lessons_completed INTEGER, "
        "lessons_total INTEGER, current_lesson VARCHAR, estimated_completion_date DATE)"
    )
    con.execute(
        "CREATE TABLE task_queue (user_id VARCHAR, course_id VARCHAR, queue_rank INTEGER, "
        "task_id VARCHAR, lesson_id VARCHAR, next_due_at TIMESTAMP, overdue_days DOUBLE)"
    )
    data = LearnerCourses.read(con, ["u"])
    con.close()
    order = ["c/intro", "c/advanced", "c/basics", "lang:xx/L2", "lang:xx/L10"]
    assert data.modules["module_id"].to_list() == order
    chart = module_progress_chart(data.of("u")[1])
    assert [list(trace.y) for trace in chart.data] == [order[:3], order[3:]]
