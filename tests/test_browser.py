"""The browser helpers: `chart_marks` tells a chart that shows data from one that does not."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import pytest

from reports.export import chromium_path
from reports.pages import NO_DATA, PageMeta, Section, has_data, write_page
from tests.browser import chart_marks, path_extent, render

needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)

HAND_MADE_DOM = f"""<html><body>
<div id="full" class="plotly-graph-div js-plotly-plot"><div class="plot-container plotly">
<svg><g class="barlayer mlayer"><g class="trace bars"><g class="points">
<g class="point"><path d="M0,270V14H281V270Z"></path></g>
<g class="point"><path d="M281,270V270H467V270Z"></path></g></g></g></g>
<g class="scatterlayer mlayer"><g class="trace scatter"><path class="js-line" d="M0,10L20,30">
</path><g class="points"><path class="point" d="M3,0A3,3 0 1,1 0,-3Z"></path></g></g></g>
<g class="heatmaplayer mlayer"><g class="hm"><image xlink:href="data:image/png;base64,AA">
</image></g></g></svg></div></div>
<div id="empty" class="plotly-graph-div js-plotly-plot"><div class="plot-container plotly">
<svg><g class="barlayer mlayer"></g><g class="scatterlayer mlayer"><g class="trace scatter">
<path class="js-line" d="M5,5Z"></path></g></g></svg></div></div>
<div id="says-none" class="plotly-graph-div js-plotly-plot"><div class="plot-container plotly">
<svg><g class="annotation"><g class="annotation-text-g"><text class="annotation-text">
{NO_DATA}</text></g></g></svg></div></div>
<div id="not-drawn" class="plotly-graph-div js-plotly-plot"></div>
</body></html>"""


def test_chart_marks_counts_marks_per_chart_and_finds_the_empty_one() -> None:
    full, empty, says_none, not_drawn = chart_marks(HAND_MADE_DOM)
    assert (full.chart_id, full.bars, full.lines, full.points, full.heatmaps) == (
        "full",
        1,  # the second bar has no height
        1,
        1,
        1,
    )
    assert full.shows_data_or_says_none and full.marks == 4
    assert empty.marks == 0 and not empty.shows_data_or_says_none
    assert says_none.no_data_note and says_none.shows_data_or_says_none
    assert not not_drawn.drawn and not not_drawn.shows_data_or_says_none


def test_path_extent() -> None:
    assert path_extent("M0,270V14H281V270Z") == (281, 256)
    assert path_extent("M10,10l5,0l0,-4") == (5, 4)
    assert path_extent("M5,5Z") == (0, 0)
    assert path_extent("") == (0, 0)


def test_a_figure_without_data_says_so() -> None:
    assert not has_data(go.Figure(go.Heatmap(z=[[None, None]], x=["a", "b"])))
    assert not has_data(go.Figure(go.Scatter(x=[0, 1], y=[0, 1], meta="reference")))
    assert has_data(go.Figure(go.Bar(x=["a"], y=[0])))
    section = Section("empty", go.Figure(go.Bar(x=[], y=[])))
    assert section.figure is not None
    assert [a.text for a in section.figure.layout.annotations] == [NO_DATA]
    assert section.figure.layout.xaxis.visible is False


@needs_chromium
def test_chart_marks_on_a_rendered_page_reports_the_empty_chart(tmp_path: Path) -> None:
    figures = {
        "bars": go.Figure(go.Bar(x=["a", "b"], y=[1, 2])),
        "line": go.Figure(go.Scatter(x=[1, 2], y=[1, 3], mode="lines+markers")),
        "heatmap": go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])),
        # a 0% bar shows its interval
        "zero bar": go.Figure(
            go.Bar(x=["a"], y=[0], error_y={"type": "data", "array": [0.3], "arrayminus": [0]})
        ),
        "no data": go.Figure(go.Scatter(x=[], y=[])),
        # has values, draws nothing: a zero-height bar and a one-point line
        "empty": go.Figure([go.Bar(x=["a"], y=[0]), go.Scatter(x=[1], y=[1], mode="lines")]),
    }
    page = write_page(
        tmp_path / "page.html",
        "charts",
        [Section(name, fig) for name, fig in figures.items()],
        PageMeta("2026-03-01", "test"),
    )
    rendered = render(page)
    assert rendered.js_errors == ""
    bars, line, heatmap, zero_bar, no_data, empty = rendered.charts
    assert bars.bars == 2 and line.lines == 1 and line.points == 2 and heatmap.heatmaps == 1
    assert zero_bar.bars == 0 and zero_bar.error_bars == 1
    assert no_data.no_data_note and no_data.marks == 0
    assert [c.shows_data_or_says_none for c in rendered.charts] == [True] * 5 + [False]
    assert empty.marks == 0
