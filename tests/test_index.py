"""The index page: headline figures against the week before, the data-quality panel, links by
audience, table formatting on every page, and the page drawn in Chromium."""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.defs.metrics.headline import headline_figures_in_range
from pipelines.defs.resources import WarehouseResource
from reports.export import chromium_path
from reports.index import link_groups, render_index, sparkline_svg, write_index
from reports.pages import PageMeta, Section, format_value, significant, table_html, write_page
from reports.privacy import small_cohorts
from tests.browser import rendered_dom
from transforms.ingest.last_run import last_ingestion
from transforms.metrics.headline import headline_figures, weekly_active_learners
from transforms.warehouse import replace_table

AS_OF = datetime(2026, 3, 15, 10, 0)  # a Sunday: this week 03-09..03-15, the week before 03-02..08
META = PageMeta(as_of="2026-03-15 10:00:00", run_id="run-1234")


def _daily() -> pl.DataFrame:
    rows = [
        ("u1", "es", date(2026, 3, 15), 10, 8),
        ("u2", "es", date(2026, 3, 9), 5, 5),
        ("u2", "fr", date(2026, 3, 10), 5, 1),
        ("u6", "es", date(2026, 3, 12), 2, 0),
        ("u3", "es", date(2026, 3, 8), 4, 2),  # the week before
        ("u1", "es", date(2026, 3, 2), 6, 3),  # the week before
        ("u4", "es", date(2026, 2, 20), 2, 2),  # both 28-day windows
        ("u5", "es", date(2026, 2, 10), 1, 0),  # the 28 days before only
        ("u7", "es", date(2026, 1, 20), 1, 1),  # churned a week before (47 idle days)
    ]
    return pl.DataFrame(
        rows, schema=["user_id", "language", "day", "attempts", "correct"], orient="row"
    )


def _reviews() -> pl.DataFrame:
    rows = [
        (datetime(2026, 3, 14, 9), 2, 4),  # passed
        (datetime(2026, 3, 13, 9), 3, 2),  # failed
        (datetime(2026, 3, 15, 9), 2, 5),  # passed
        (datetime(2026, 3, 15, 11), 2, 0),  # after as of: left out
        (datetime(2026, 3, 10, 9), 1, 0),  # a card's first review: left out
        (datetime(2026, 3, 5, 9), 2, 3),  # the week before: passed
        (datetime(2026, 3, 1, 9), 2, 1),  # before both weeks
    ]
    return pl.DataFrame(rows, schema=["reviewed_at", "review_index", "quality"], orient="row")


STATUS = pl.DataFrame(
    {
        "user_id": ["u1", "u5", "u7"],
        "course": ["lang:es"] * 3,
        "status": ["active", "churned", "churned"],
        "last_active_day": [date(2026, 3, 15), date(2026, 2, 10), date(2026, 1, 20)],
        "idle_days": [0, 33, 54],
    }
)
AT_RISK = pl.DataFrame(
    {
        "user_id": ["u2", "u4", "u6"],
        "course": ["lang:es"] * 3,
        "risk": [0.8, 0.1, 0.6],
        "flagged": [True, False, True],
        "reasons": ["a", "b", "c"],
        "model": ["logistic"] * 3,
    }
)
BACKTEST = pl.DataFrame(
    {
        "snapshot_day": [date(2026, 2, 23), date(2026, 3, 2), date(2026, 3, 9)],
        "learners": [40, 42, 45],
        "flagged": [4, 5, 7],
    }
)


def test_headline_figures_by_hand() -> None:
    got = headline_figures(_daily(), _reviews(), AS_OF, 3, STATUS, AT_RISK, BACKTEST)
    expected = pl.DataFrame(
        {
            "figure": [
                "Learners active, last 7 days",
                "Learners active, last 28 days",
                "Attempts, last 7 days",
                "Accuracy, last 7 days",
                "True retention, last 7 days",
                "Learners at risk",
                "Learners churned",
            ],
            "unit": ["learners", "learners", "attempts", "share", "share", "learners", "learners"],
            "higher_is_better": [True, True, True, True, True, False, False],
            # u1 u2 u6 | u1 u2 u6 u3 u4 | 10+5+5+2 | 14/22 | 2 of 3 | 2 flagged | u5, u7
            "value": [3.0, 5.0, 22.0, 14 / 22, 2 / 3, 2.0, 2.0],
            # u3 u1 | u3 u1 u4 u5 | 4+6 | 5/10 | 1 of 1 | snapshot 03-02 | u7 (u5 lapsing)
            "previous": [2.0, 4.0, 10.0, 0.5, 1.0, 5.0, 1.0],
        }
    ).select(
        "figure",
        "unit",
        "higher_is_better",
        pl.lit(date(2026, 3, 15)).alias("day"),
        "value",
        pl.Series("previous_day", [date(2026, 3, 8)] * 5 + [date(2026, 3, 2), date(2026, 3, 8)]),
        "previous",
        (pl.col("value") - pl.col("previous")).alias("change"),
    )
    assert_frame_equal(got, expected)


def test_headline_figures_without_the_status_and_risk_tables() -> None:
    got = headline_figures(_daily(), _reviews(), AS_OF, 3).filter(
        pl.col("figure").is_in(["Learners at risk", "Learners churned"])
    )
    assert got["value"].to_list() == [None, None]
    assert got["previous"].to_list() == [None, 1.0]  # churn a week before needs no table
    assert got["change"].to_list() == [None, None]
    # a backtest with no snapshot a week before as of leaves the previous figure unknown
    late = BACKTEST.filter(pl.col("snapshot_day") > date(2026, 3, 8))
    risk = headline_figures(_daily(), _reviews(), AS_OF, 3, STATUS, AT_RISK, late)
    row = risk.filter(pl.col("figure") == "Learners at risk")
    assert row["previous"].to_list() == [None] and row["previous_day"].to_list() == [None]


def test_headline_figures_on_no_activity() -> None:
    empty = _daily().clear()
    got = headline_figures(empty, _reviews().clear(), AS_OF, 3)
    assert got["value"].to_list()[:3] == [0.0, 0.0, 0.0]
    assert got["value"].to_list()[3:5] == [None, None]  # no attempts: no accuracy


def test_weekly_active_learners_by_hand() -> None:
    got = weekly_active_learners(_daily(), AS_OF, weeks=4)
    expected = pl.DataFrame(
        {
            "week_end": [date(2026, 2, 22), date(2026, 3, 1), date(2026, 3, 8), date(2026, 3, 15)],
            "active_learners": [1, 0, 2, 3],  # u4 | none | u3 u1 | u1 u2 u6
        }
    )
    assert_frame_equal(got, expected)
    svg = sparkline_svg(got)
    assert "4 weeks: 1, 0, 2, 3" in svg and svg.count("<polyline") == 1
    assert sparkline_svg(got.head(1)) == ""


def _files() -> pl.DataFrame:
    first, last = datetime(2026, 3, 14, 2), datetime(2026, 3, 15, 2)
    return pl.DataFrame(
        {
            "content_hash": ["h0", "h1", "h2", "h3"],
            "path": ["old.jsonl", "a.jsonl", "b.csv", "broken.parquet"],
            "status": ["loaded", "loaded", "loaded", "failed"],
            "error": [None, None, None, "the file could not be read: bad magic"],
            "rows_read": [9, 10, 5, 0],
            "accepted": [9, 7, 4, 0],
            "duplicates": [0, 1, 0, 0],
            "rejected": [0, 2, 1, 0],
            "ingested_at": [first, last, last, last],
        }
    )


def test_last_ingestion_counts_the_latest_run_only() -> None:
    rejects = pl.DataFrame(
        {
            "source_id": ["h0", "h1", "h1", "h2"],
            "reason": ["invalid_uuid", "missing_field", "invalid_uuid", "missing_field"],
        }
    )
    run = last_ingestion(_files(), rejects)
    assert run.ingested_at == datetime(2026, 3, 15, 2)
    assert run.totals.row(0, named=True) == {
        "sources": 3,
        "failed_sources": 1,
        "rows_read": 15,
        "accepted": 11,
        "duplicates": 1,
        "rejected": 3,
    }
    assert run.rejected_by_reason.rows() == [("missing_field", 2), ("invalid_uuid", 1)]
    assert run.failed_files.rows() == [("broken.parquet", "the file could not be read: bad magic")]
    nothing = last_ingestion(_files().clear(), rejects.clear())
    assert nothing.ingested_at is None and nothing.failed_files.height == 0


def test_small_cohorts_are_those_without_a_language_of_five() -> None:
    sizes = pl.DataFrame(
        {
            "language": ["es", "fr", "es", "es"],
            "cohort": ["a", "a", "b", "c"],
            "cohort_size": [3, 5, 4, 1],
        }
    )
    assert small_cohorts(sizes) == ["b", "c"]
    assert small_cohorts(sizes.clear()) == []


def test_table_cells_are_formatted_and_wide_tables_scroll() -> None:
    assert significant(0.5898457104884878) == "0.5898"
    assert significant(12.3456) == "12.35"
    assert significant(1234.5678) == "1,235"
    assert significant(0.000012345) == "1.234e-05"
    assert significant(2.1) == "2.1" and significant(3.0) == "3" and significant(0.5) == "0.5"
    assert format_value(1234567) == "1,234,567"
    assert format_value(True) == "yes" and format_value(None) == ""
    frame = pl.DataFrame(
        {"model": ["SM-2"], "log_loss": [0.5898457104884878], "reviews": [12345]}
    ).with_columns(pl.lit(42.123).alias("percent_complete"))
    text = table_html(frame)
    assert text.startswith("<div class='table-scroll'><table class='data'>")
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    assert cells == ["SM-2", "0.5898", "12,345", "42.1%"]
    assert "<td class='num'>0.5898</td>" in text
    section = Section("t", table=frame, formats={"log_loss": lambda v: "custom"})
    assert ">custom<" in write_page_text(section)


def write_page_text(section: Section) -> str:
    from reports.pages import render_page

    return render_page("p", [section], META)


def _report_folder(root: Path, tuning: bool) -> Path:
    pages = ["educators/overview.html", "educators/cohort-b1.html", "sm2.html", "learners/x.html"]
    titles = [
        "Educators' report: all cohorts",
        "Educators' report: cohort B1",
        "SM-2 report",
        "Learner report: learner-x",
    ]
    if tuning:
        pages.append("tuning.html")
        titles.append("SM-2 tuning lab")
    for page, title in zip(pages, titles, strict=True):
        write_page(root / page, title, [Section("s", note="n")], META)
    return root


def _checks() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "asset": ["attempts", "ingested_files", "cohort_retention"],
            "check": ["attempts_unique_uuid", "no_unreadable_sources", "cohort_sizes_add_up"],
            "passed": [True, False, None],
            "severity": ["ERROR", "WARN", None],
            "description": ["one row per uuid_local", "every source could be read", None],
            "run_id": ["run-1234", "run-0999", None],
        }
    )


def _index(root: Path, tuning: bool = True) -> str:
    _report_folder(root, tuning)
    headline = headline_figures(_daily(), _reviews(), AS_OF, 3, STATUS, AT_RISK, BACKTEST)
    rejects = pl.DataFrame({"source_id": ["h1"], "reason": ["missing_field"]})
    weekly = weekly_active_learners(_daily(), AS_OF)
    ingestion = last_ingestion(_files(), rejects)
    path = write_index(root, META, headline, ingestion, _checks(), ["Z9"], weekly)
    return path.read_text()


def test_links_by_audience(tmp_path: Path) -> None:
    groups = link_groups(_report_folder(tmp_path, tuning=False), ["Z9"])
    assert [g.title for g in groups] == ["Educators", "Product team", "Learners"]
    assert groups[0].links == [
        ("all cohorts", "educators/overview.html"),
        ("cohort B1", "educators/cohort-b1.html"),
    ]
    assert groups[1].links == [("SM-2 report", "sm2.html")]  # no tuning page yet
    assert groups[2].links == [("learner-x", "learners/x.html")]
    assert groups[0].note is not None and "Z9" in groups[0].note
    _report_folder(tmp_path, tuning=True)
    assert link_groups(tmp_path, [])[1].links[-1] == ("SM-2 tuning lab", "tuning.html")


def test_index_shows_figures_groups_and_quality(tmp_path: Path) -> None:
    page = _index(tmp_path)
    for text in ("Educators", "Product team", "Learners", "Data quality", "Latest ingestion"):
        assert f">{text}<" in page
    assert "Data as of 2026-03-15 10:00:00" in page and "run-1234" in page
    cards = re.findall(r"<div class='card' data-figure='([^']+)'>", page)
    assert len(cards) == 7
    # learners active in 7 days: 3, up 1 from 2 (good: green)
    assert (
        "<div class='value'>3</div><div class='change good'>▲ 1 <span class='muted'>vs 2 a week"
        in page
    )
    assert "<div class='value'>63.6%</div><div class='change good'>▲ 13.6 pts" in page
    # churned 2 against 1: up is bad; at risk 2 against 5 at the backtest's 03-02 snapshot
    assert "<div class='value'>2</div><div class='change bad'>▲ 1" in page
    assert "▼ 3 <span class='muted'>vs 5 on 2026-03-02</span>" in page
    assert "fewer than 5 learners: Z9" in page
    assert "broken.parquet" in page and "missing_field" in page
    assert (
        "1 of 3 checks passed at their latest evaluation (1 of them evaluated in an earlier run)"
        in page
    )
    assert "<span class='badge warn'>warning</span>" in page
    assert "<span class='badge unknown'>not run</span>" in page
    assert "plotly" not in page.lower()  # no figure, no plotly.js
    assert page.count("<svg class='sparkline'") == 1


def test_index_without_headline_or_ingestion(tmp_path: Path) -> None:
    _report_folder(tmp_path, tuning=False)
    empty = last_ingestion(
        _files().clear(), pl.DataFrame(schema={"source_id": pl.String, "reason": pl.String})
    )
    page = render_index(META, None, link_groups(tmp_path, []), empty, _checks().clear())
    assert "have not been computed yet" in page
    assert "Nothing has been ingested yet" in page and "No asset check has run yet" in page


def test_headline_check_fails_on_a_broken_table(tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    good = headline_figures(_daily(), _reviews(), AS_OF, 3, STATUS, AT_RISK, BACKTEST)
    broken = good.with_columns(
        pl.when(pl.col("unit") == "share").then(1.5).otherwise(pl.col("value")).alias("value")
    )
    warehouse = WarehouseResource(database=str(database))
    for frame, passes in ((good, True), (broken, False), (pl.concat([good, good]), False)):
        with duckdb.connect(str(database)) as con:
            replace_table(con, "headline_figures", frame)
        assert headline_figures_in_range(warehouse=warehouse).passed is passes


@pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)
def test_index_draws_in_chromium(tmp_path: Path) -> None:
    _index(tmp_path)
    dom, log = rendered_dom(tmp_path / "index.html")
    assert len(re.findall(r'<div class="card" data-figure="', dom)) == 7
    values = re.findall(r'<div class="value">([^<]+)</div>', dom)
    assert values == ["3", "5", "22", "63.6%", "66.7%", "2", "2"]
    assert re.search(r'<svg class="sparkline"[^>]*>.*?<polyline points="[^"]+"', dom, re.S)
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert errors is not None and errors.group(1).strip() == ""
    assert "Uncaught" not in log
