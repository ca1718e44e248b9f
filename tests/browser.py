"""Open pages in headless Chromium and read back their DOM after the scripts ran, and what
each chart on them draws."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import select
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from reports.export import chromium_path
from reports.pages import NO_DATA

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


class _Chromium:
    """One headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4), so a
    test opens many pages without starting a browser for each."""

    def __init__(self) -> None:
        browser = chromium_path()
        assert browser, "Chromium is not installed"
        self.profile = tempfile.TemporaryDirectory()
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # in the child, before exec
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={self.profile.name}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=pipes_on_3_and_4,
            pass_fds=(3, 4),
            start_new_session=True,  # nothing it signals to its group reaches the tests
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(f"{domain}.enable", session=True)

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        if time.monotonic() > deadline:  # a page that floods events must not keep us forever
            raise TimeoutError("Chromium did not answer in time")
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: bool = False
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + 120
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(self._receive(deadline))

    def open(self, url: str) -> tuple[str, str]:
        """(DOM after the page's scripts ran, the page's uncaught errors and console errors)."""
        self.events = []
        self.call("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")
        # Plotly draws on load; two frames and a pause let anything it deferred finish
        settle = (
            "new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
            "() => setTimeout(r, 100))))"
            ".then(() => document.documentElement.outerHTML)"
        )
        dom = self.call(
            "Runtime.evaluate",
            {"expression": settle, "awaitPromise": True, "returnByValue": True},
            session=True,
        )["result"]["value"]
        return str(dom), "\n".join(_console_lines(self.events))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("Browser.close")
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self.profile.cleanup()


def _console_lines(events: list[dict[str, Any]]) -> Iterator[str]:
    for event in events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            description = details.get("exception", {}).get("description", "")
            yield f"Uncaught: {details.get('text', '')} {description}".strip()
        elif event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            yield "console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
            )


_browser: _Chromium | None = None


def rendered_dom(page: Path) -> tuple[str, str]:
    """(DOM after the page's scripts ran, its uncaught errors and console errors), from one
    Chromium per test process, started on first use."""
    global _browser
    if _browser is None or _browser.process.poll() is not None:
        _browser = _Chromium()
        atexit.register(_browser.close)
    return _browser.open(page.resolve().as_uri())


# What a chart draws, read from the DOM Plotly leaves behind (plotly.js 3): bars are `path`s in
# `g.point` under `.barlayer` (a funnel's stages under `.funnellayer`), scatter traces a
# `path.js-line`, `path.point` markers and `path.js-fill` areas under `.scatterlayer`, heatmaps
# an `<image>` under `.heatmaplayer`, error bars `path.yerror`/`path.xerror` in `g.errorbar`.
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
    error_bars: int = 0  # error bars with a length (a 0% bar still shows its interval)
    no_data_note: bool = False  # an annotation saying there is no data

    @property
    def marks(self) -> int:
        return self.bars + self.lines + self.points + self.fills + self.heatmaps + self.error_bars

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
        elif tag == "path" and self._within("errorbar") and classes & {"xerror", "yerror"}:
            width, height = path_extent(values.get("d", ""))
            chart.error_bars += width > 0 or height > 0
        elif (
            tag == "path"
            and (self._within("barlayer") or self._within("funnellayer"))
            and self._within("point")
        ):
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
        if self.in_annotation_text and self.charts and NO_DATA in data:
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
    # uncaught exceptions and console.error calls
    assert rendered.console == "", (page.name, rendered.console[-2000:])
    blank = [c for c in rendered.charts if not c.shows_data_or_says_none]
    assert not blank, f"{page.name}: charts with neither marks nor a no-data note: {blank}"
    return rendered
