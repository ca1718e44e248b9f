"""The learner performance page: the trend by hand, the selected learners under pseudonyms,
every chart drawn with data in a real browser, linked from the index."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from landing.generate.lms import LmsGeneratorConfig, generate_lms_landing
from reports.build import pick_learners, remove_stale
from reports.export import chromium_path
from reports.index import link_groups
from reports.pages import PageMeta
from reports.performance import (
    ACTIVITY_SQL,
    PerformanceData,
    build_performance_reports,
    performance_report,
)
from reports.privacy import pseudonym
from tests.browser import assert_page_draws
from tests.lms_build import build_lms_warehouse
from transforms.lms.assessment_trends import assessment_trend
from transforms.warehouse import connect, query

AS_OF = datetime(2026, 8, 20)
KEY = b"performance-test"


def test_trend_by_hand() -> None:
    # slope of 50, 60, 80 against 0, 1, 2: Σ(x − 1)(y − 63.3) / Σ(x − 1)² = (−13.3 + 16.7)/2
    # ... = (−1·−13.33 + 0 + 1·16.67) / 2 = 15 points per assessment: improving
    assert assessment_trend([50, 60, 80]) == "improving"
    assert assessment_trend([80, 80.5, 81]) == "steady"  # 0.5 points per assessment
    assert assessment_trend([90, 70, 50, 40]) == "declining"  # −17 per assessment
    assert assessment_trend([10, 90]) is None  # fewer than 3
    # only the last 10 count: 20 rising scores then 10 flat ones are steady
    assert assessment_trend([float(i) for i in range(20)] + [50.0] * 10) == "steady"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[str]]:
    root = tmp_path_factory.mktemp("performance")
    generate_lms_landing(root / "landing", LmsGeneratorConfig(learners=40, days=50))
    con = connect(root / "w.duckdb")
    build_lms_warehouse(con, root / "landing", AS_OF, root / "outbox")
    users = pick_learners(query(con, ACTIVITY_SQL), "3")
    meta = PageMeta(as_of=str(AS_OF), run_id="test")
    data = PerformanceData.read(con, users)
    con.close()
    pages, figures = build_performance_reports(data, root / "reports", meta, KEY, users)
    # a learner no longer selected loses the page (as the asset removes it)
    (root / "reports" / "performance" / "learner-gone.html").write_text("old")
    pages, figures = build_performance_reports(data, root / "reports", meta, KEY, users)
    remove_stale(root / "reports", ("performance",), ("performance-",), pages, [])
    assert len(pages) == 3 and len(figures) == 9
    return root, pages, users


def test_selected_learners_under_pseudonyms(built: tuple[Path, list[Path], list[str]]) -> None:
    root, pages, users = built
    assert sorted(p.stem for p in pages) == sorted(pseudonym(u, KEY) for u in users)
    assert not (root / "reports" / "performance" / "learner-gone.html").exists()
    con = connect(root / "w.duckdb")
    every_user = set(query(con, "SELECT DISTINCT user_id FROM lms_events")["user_id"])
    report = performance_report(PerformanceData.read(con, users), users[0], KEY)
    con.close()
    for page in pages:
        text = page.read_text()
        assert not any(u in text for u in every_user), page
    assert report.summary.height == 1 and report.assessments.height >= 3
    assert report.trend in ("improving", "steady", "declining")
    groups = {g.title: g for g in link_groups(root / "reports", [])}
    assert [href for _, href in groups["Learner performance"].links] == sorted(
        f"performance/{p.name}" for p in pages
    )


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_every_performance_chart_draws_with_data(
    built: tuple[Path, list[Path], list[str]],
) -> None:
    for page in built[1]:
        rendered = assert_page_draws(page)
        assert len(rendered.charts) == 3, page.name
        progress, assessments, competencies = rendered.charts
        assert progress.bars > 0 and assessments.points > 0 and competencies.bars > 0, page.name
