"""Open a page in headless Chromium and read back its DOM after the scripts ran."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from reports.export import chromium_path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def rendered_dom(page: Path, budget_ms: int = 20000) -> tuple[str, str]:
    """(DOM after the page's scripts ran, Chromium's stderr with console messages)."""
    browser = chromium_path()
    assert browser, "Chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout, done.stderr


# What a chart draws, read from the DOM Plotly leaves behind (plotly.js 3): bars are `path`s in
# `g.point` under `.barlayer`, scatter traces a `path.js-line`, `path.point` markers and
# `path.js-fill` areas under `.scatterlayer`, heatmaps an `<image>` under `.heatmaplayer`.
NO_DATA_NOTE = "no data"  # reports.pages.NO_DATA starts with it (any case)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class ChartMarks:
    """The marks one chart (a `div.plotly-graph-div`) shows."""

    chart_id: str
    drawn: bool = False  # Plotly built its plot container
    bars: int = 0  # bar paths with a non-zero area
    lines: int = 0  # scatter lines through at least two distinct points
    points: int = 0  # scatter markers
    fills: int = 0  # filled scatter areas (bands) with a non-zero area
    heatmaps: int = 0  # heatmap images with an image href
    no_data_note: bool = False  # an annotation saying there is no data

    @property
    def marks(self) -> int:
        return self.bars + self.lines + self.points + self.fills + self.heatmaps

    @property
    def shows_data_or_says_none(self) -> bool:
        return self.drawn and (self.marks > 0 or self.no_data_note)


def path_extent(d: str) -> tuple[float, float]:
    """(width, height) of the points an SVG path's M/L/H/V/C/Q/T/S commands visit (absolute
    or relative); arcs and curves count their end points and controls."""
    xs: list[float] = []
    ys: list[float] = []
    x = y = 0.0
    for command, args in re.findall(r"([MLHVCSQTAZmlhvcsqtaz])([^MLHVCSQTAZmlhvcsqtaz]*)", d):
        numbers = [float(n) for n in re.findall(r"-?\d*\.?\d+(?:e[-+]?\d+)?", args)]
        upper = command.upper()
        relative = command != upper
        if upper == "H":
            for n in numbers:
                x = x + n if relative else n
                xs.append(x)
                ys.append(y)
        elif upper == "V":
            for n in numbers:
                y = y + n if relative else n
                xs.append(x)
                ys.append(y)
        elif upper == "A":
            for i in range(0, len(numbers) - 6, 7):
                end_x, end_y = numbers[i + 5], numbers[i + 6]
                x, y = (x + end_x, y + end_y) if relative else (end_x, end_y)
                xs.append(x)
                ys.append(y)
        elif upper != "Z":
            base = (x, y)
            for i in range(0, len(numbers) - 1, 2):
                px, py = numbers[i], numbers[i + 1]
                if relative:
                    px, py = base[0] + px, base[1] + py
                xs.append(px)
                ys.append(py)
            if len(numbers) >= 2:
                x, y = xs[-1], ys[-1]
    if not xs:
        return 0.0, 0.0
    return max(xs) - min(xs), max(ys) - min(ys)


class _ChartParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.charts: list[ChartMarks] = []
        self.chart_depth: int | None = None
        self.in_annotation_text = False

    def _within(self, cls: str) -> bool:
        return any(cls in classes for _, classes in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        classes = set(values.get("class", "").split())
        if tag == "div" and "plotly-graph-div" in classes:
            self.charts.append(ChartMarks(values.get("id", f"chart-{len(self.charts)}")))
            self.chart_depth = len(self.stack)
        elif self.chart_depth is not None and self.charts:
            self._mark(tag, classes, values)
        if tag not in VOID:
            self.stack.append((tag, classes))
            if tag == "text" and "annotation-text" in classes:
                self.in_annotation_text = True

    def _mark(self, tag: str, classes: set[str], values: dict[str, str]) -> None:
        chart = self.charts[-1]
        if tag == "div" and "plot-container" in classes:
            chart.drawn = True
        elif tag == "path" and self._within("barlayer") and self._within("point"):
            width, height = path_extent(values.get("d", ""))
            chart.bars += width > 0 and height > 0
        elif tag == "path" and self._within("scatterlayer"):
            width, height = path_extent(values.get("d", ""))
            if "js-line" in classes:
                chart.lines += width > 0 or height > 0
            elif "js-fill" in classes:
                chart.fills += width > 0 and height > 0
            elif "point" in classes:
                chart.points += bool(values.get("d", "").strip())
        elif tag == "image" and self._within("heatmaplayer"):
            href = values.get("href") or values.get("xlink:href") or ""
            chart.heatmaps += href.startswith("data:image")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack:
            popped, _ = self.stack.pop()
            if popped == "text":
                self.in_annotation_text = False
            if popped == tag:
                break
        if self.chart_depth is not None and len(self.stack) <= self.chart_depth:
            self.chart_depth = None

    def handle_data(self, data: str) -> None:
        if self.in_annotation_text and self.charts and NO_DATA_NOTE in data.lower():
            self.charts[-1].no_data_note = True


def chart_marks(dom: str) -> list[ChartMarks]:
    """The marks every chart of a rendered page shows, in page order."""
    parser = _ChartParser()
    parser.feed(dom)
    parser.close()
    return parser.charts


@dataclass
class RenderedPage:
    name: str
    charts: list[ChartMarks]
    js_errors: str
    console: str


def render(page: Path) -> RenderedPage:
    dom, log = rendered_dom(page)
    errors = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    return RenderedPage(
        page.name, chart_marks(dom), errors.group(1).strip() if errors else "<no js-errors>", log
    )


def assert_page_draws(page: Path) -> RenderedPage:
    """The page opens without script errors and every chart on it drew, showing marks, or a
    note that it has no data."""
    rendered = render(page)
    assert rendered.js_errors == "", (page.name, rendered.js_errors)
    assert "Uncaught" not in rendered.console, (page.name, rendered.console[-2000:])
    blank = [c for c in rendered.charts if not c.shows_data_or_says_none]
    assert not blank, f"{page.name}: charts with neither marks nor a no-data note: {blank}"
    return rendered
