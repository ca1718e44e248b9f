"""Reports: figures carry the expected data, privacy holds, and every page draws in Chromium."""

from __future__ import annotations

import html
import json
import os
import re
from datetime import date, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest
from plotly.offline import get_plotlyjs

from landing.generate.landing import GeneratorConfig, generate_landing
from reports import educators, learner_figures, sm2_figures
from reports.build import (
    BuiltReports,
    remove_stale,
    remove_stale_reports,
)
from reports.export import chromium_path
from reports.pages import PageMeta, Section, slug, write_page
from reports.privacy import pseudonym
from tests.browser import assert_page_draws
from tests.pipeline_run import configure, run_all
from transforms.warehouse import connect, query


def test_retention_heatmap_cells_show_rate_n_and_incomplete_weeks() -> None:
    frame = pl.DataFrame(
        {
            "language": ["es"] * 3,
            "cohort": ["c"] * 3,
            "week_offset": [0, 1, 2],
            "cohort_size": [8] * 3,
            "active_learners": [8, 6, 2],
            "retention": [1.0, 0.75, 0.25],
            "complete": [True, True, False],
        }
    )
    fig = educators.retention_heatmap(frame)
    heat = fig.data[0]
    assert list(heat.z[0]) == [1.0, 0.75, 0.25]
    assert list(heat.text[0]) == ["100%<br>n=8/8", "75%<br>n=6/8", "25%*<br>n=2/8"]
    assert list(heat.y) == ["es · c"]


def test_true_retention_bands_are_wilson_intervals() -> None:
    frame = pl.DataFrame(
        {
            "language": ["es", "es"],
            "cohort": ["a", "b"],
            "period_week": [date(2026, 3, 2)] * 2,
            "maturity": ["young", "young"],
            "reviews": [6, 4],
            "passed": [6, 4],
        }
    )
    fig = educators.true_retention_by_week(frame)
    band, line = fig.data
    assert list(line.y) == [1.0] and list(line.customdata) == [10]
    assert band.y[0] == 1.0 and band.y[1] == pytest.approx(0.7225, abs=1e-4)


def test_sm2_against_leitner_scores_the_same_reviews() -> None:
    reviews = pl.DataFrame(
        {
            "review_index": [1, 2, 2, 3],
            "quality": [4, 4, 1, 5],
            "elapsed_days": [None, 1.0, 6.0, 10.0],
            "lapses_after": [0, 0, 1, 1],
            "p_recall": [None, 0.9, 0.5, 0.8],
            "leitner_p_recall": [None, 0.9, 0.2, 0.5],
        }
    )
    scored = sm2_figures.comparable_reviews(reviews, pass_quality=3)
    assert scored["lapses_before"].to_list() == [0, 0, 1]
    table = sm2_figures.model_comparison(scored)
    assert table["model"].to_list() == ["SM-2", "Leitner"]
    assert table["reviews"].to_list() == [3, 3]
    assert table["auc"].to_list() == [1.0, 1.0]
    fig = sm2_figures.calibration_figure(scored)
    assert [t.name for t in fig.data] == ["perfect", "SM-2", "Leitner"]


def test_interval_histogram_bars_count_cards_per_doubling_bin() -> None:
    # bins [0, 1), [1, 2), [2, 4), [4, 8), [8, 16), [16, 32): the empty 8-15 bin is kept
    progress = pl.DataFrame({"interval_days": [0.0, 1.0, 1.0, 2.0, 3.0, 6.0, 20.0, None]})
    fig = sm2_figures.interval_histogram(progress)
    (bars,) = fig.data
    assert bars.type == "bar" and fig.layout.xaxis.type == "category"
    assert list(bars.x) == ["< 1 d", "1 d", "2–3 d", "4–7 d", "8–15 d", "16–31 d"]
    assert list(bars.y) == [1, 2, 2, 1, 0, 1]
    assert [tuple(c) for c in bars.customdata][2] == (2.0, 4.0)
    # cards with interval 1 and up only: the first bar is "1 d"; none at all: no bars
    assert sm2_figures.interval_bins(pl.Series([1, 40]))["label"][0] == "1 d"
    assert sm2_figures.interval_bins(pl.Series([], dtype=pl.Float64)).is_empty()


def test_study_calendar_and_streak_title() -> None:
    days = pl.DataFrame(
        {"day": [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 10)], "attempts": [5, 3, 7]}
    )
    fig = learner_figures.study_calendar(days, current_streak=1, longest_streak=2)
    assert list(fig.data[0].z[0]) == [5, 0] and list(fig.data[0].z[1]) == [3, 7]  # Mon, Tue
    assert "current streak 1 days, longest 2" in fig.layout.title.text


def test_pages_and_pngs_this_run_does_not_write_are_removed(tmp_path: Path) -> None:
    meta = PageMeta("2026-03-01", "run")
    old = [
        write_page(tmp_path / area / f"{name}.html", name, [], meta)
        for area, name in (("educators", "cohort-gone"), ("learners", "learner-gone"))
    ]
    kept = write_page(tmp_path / "educators" / "overview.html", "overview", [], meta)
    tuning = write_page(tmp_path / "tuning.html", "tuning", [], meta)  # another job's page
    (tmp_path / "png").mkdir()
    for stem in ("educators-gone-0", "sm2-0", "course-c1-0"):
        (tmp_path / "png" / f"{stem}.png").write_bytes(b"png")
    built = BuiltReports(pages=[kept], figures=[("sm2-0", go.Figure())])
    removed = remove_stale_reports(tmp_path, [built], pngs_written=True)
    assert sorted(removed) == sorted([*old, tmp_path / "png" / "educators-gone-0.png"])
    assert kept.exists() and tuning.exists() and (tmp_path / "png" / "sm2-0.png").exists()
    assert (tmp_path / "png" / "course-c1-0.png").exists()  # another asset's figure
    # without PNG export this run, every PNG left is stale
    assert remove_stale_reports(tmp_path, [built], pngs_written=False) == [
        tmp_path / "png" / "sm2-0.png"
    ]


def test_a_learner_no_longer_selected_loses_their_performance_page(tmp_path: Path) -> None:
    meta = PageMeta("2026-03-01", "run")
    gone = write_page(tmp_path / "performance" / "learner-gone.html", "gone", [], meta)
    kept = write_page(tmp_path / "performance" / "learner-kept.html", "kept", [], meta)
    (tmp_path / "png").mkdir()
    for stem in ("performance-learner-gone-0", "performance-learner-kept-0", "sm2-0"):
        (tmp_path / "png" / f"{stem}.png").write_bytes(b"png")
    stems = ["performance-learner-kept-0"]
    removed = remove_stale(tmp_path, ("performance",), ("performance-",), [kept], stems)
    assert removed == [gone, tmp_path / "png" / "performance-learner-gone-0.png"]
    assert (tmp_path / "png" / "sm2-0.png").exists()  # another asset's figure


def test_pseudonyms_are_keyed_and_stable() -> None:
    assert pseudonym("u1", b"k") == pseudonym("u1", b"k")
    assert pseudonym("u1", b"k") != pseudonym("u1", b"other")
    assert re.fullmatch(r"learner-[0-9a-f]{10}", pseudonym("u1", b"k"))


@pytest.fixture(scope="module")
def report_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports")
    generate_landing(
        root / "landing",
        GeneratorConfig(learners=70, days=35, words_per_language=40, classes_per_language=2),
    )
    with pytest.MonkeyPatch.context() as mp:
        configure(mp, root, PROGRESS_REPORT_LEARNERS="2", PROGRESS_EXPORT_PNG="0")
        run_all()
        small = {
            "search_size": 12,
            "learner_sample": 60,
            "horizon_days": 20,
            "simulated_learners": 20,
            "bootstrap_draws": 20,
        }
        index = (root / "reports" / "index.html").read_text()
        run_all({"ops": {"tuning_lab": {"config": small}}}, job_name="tuning")
        assert (root / "reports" / "index.html").read_text() == index  # tuning leaves it alone
        run_all(selection=["report_index"])  # now linking the tuning lab
    return root


def _page_text_without_plotly_js(page: Path) -> str:
    """A page's raw text, chart data and all, less the embedded plotly.js library (whose
    minified code could contain any short word)."""
    return page.read_text().replace(get_plotlyjs(), "")


def _written_forms(text: str) -> set[str]:
    """How a string can appear in a page: as is, escaped for HTML, or inside JSON chart data."""
    return {
        text,
        html.escape(text),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
    }


def test_privacy_in_every_page(report_folder: Path) -> None:
    con = connect(report_folder / "warehouse.duckdb")
    users = set(query(con, "SELECT DISTINCT user_id FROM attempts")["user_id"])
    # typed answers that are not also a word of the course (words are shown, answers never)
    answers = query(
        con,
        """SELECT DISTINCT user_response AS t FROM attempts WHERE user_response IS NOT NULL
           EXCEPT SELECT correct_answer FROM attempts WHERE correct_answer IS NOT NULL
           EXCEPT SELECT text FROM manifest_words WHERE text IS NOT NULL
           EXCEPT SELECT translation FROM manifest_words WHERE translation IS NOT NULL""",
    )["t"].to_list()
    sizes = query(
        con, "SELECT language, cohort, cohort_size FROM cohort_retention WHERE week_offset = 0"
    )
    con.close()
    assert len(answers) > 10
    secrets = users | {form for t in answers if len(t) > 3 for form in _written_forms(t)}
    # any of them as a whole word (not inside a longer one, as "anin" in "training")
    pattern = re.compile(
        r"(?<!\w)(?:"
        + "|".join(map(re.escape, sorted(secrets, key=len, reverse=True)))
        + r")(?!\w)"
    )
    pages = list((report_folder / "reports").rglob("*.html"))
    assert len(pages) >= 4
    for page in pages:
        leaked = pattern.findall(_page_text_without_plotly_js(page))
        assert not leaked, (page, leaked[:5])
    small = sizes.filter(pl.col("cohort_size") < 5)
    index = (report_folder / "reports" / "index.html").read_text()
    for cohort in small["cohort"].to_list():
        if sizes.filter((pl.col("cohort") == cohort) & (pl.col("cohort_size") >= 5)).height:
            continue
        assert not (
            report_folder / "reports" / "educators" / f"cohort-{slug(cohort)}.html"
        ).exists()
        assert cohort in index and "fewer than 5 learners" in index
    overview = (report_folder / "reports" / "educators" / "overview.html").read_text()
    for lang, cohort in small.select("language", "cohort").iter_rows():
        assert f'{lang} · {cohort}"' not in overview


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_every_page_draws_in_chromium(report_folder: Path) -> None:
    pages = sorted((report_folder / "reports").rglob("*.html"))
    for page in pages:
        # no script errors, and every chart shows marks (bars with an area, lines, markers,
        # heatmap cells) or says it has no data
        rendered = assert_page_draws(page)
        assert rendered.charts or page.name == "index.html", page.name
        # the full report's data fills every chart
        assert all(c.marks for c in rendered.charts), (page.name, rendered.charts)
    index = (report_folder / "reports" / "index.html").read_text()
    linked = re.findall(r"href='([^']+)'", index)
    assert {str(p.relative_to(report_folder / "reports")) for p in pages} - {"index.html"} == set(
        linked
    )


def test_as_of_and_run_on_every_page(report_folder: Path) -> None:
    for page in (report_folder / "reports").rglob("*.html"):
        content = page.read_text()
        # the as-of time comes from the data (2026), not the clock
        assert "Data as of 2026-" in content and "pipeline run " in content


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_scheduler_frontier_draws_a_line_per_scheduler(report_folder: Path) -> None:
    """The tuning lab's simulated frontier, from the lab's own table: one line per scheduler
    (SM-2's simulated sets, FSRS-6 at its four desired retentions), a marker per schedule."""
    from reports.tuning_report import scheduler_frontier, scheduler_frontier_figure
    from tests.browser import render

    con = connect(report_folder / "warehouse.duckdb")
    simulation = query(con, "SELECT * FROM sm2_simulation")
    con.close()
    runs = scheduler_frontier(simulation)
    assert runs.filter(pl.col("scheduler") == "FSRS-6").height == 4
    meta = PageMeta.of(datetime(2026, 1, 1), "test")
    page = write_page(
        report_folder / "frontier-only.html",
        "frontier",
        [Section("frontier", scheduler_frontier_figure(simulation))],
        meta,
    )
    (chart,) = render(page).charts
    page.unlink()
    with_lines = runs.group_by("scheduler").len().filter(pl.col("len") > 1).height
    assert chart.drawn and chart.lines == with_lines >= 1
    assert chart.points == runs.height
