"""Self-contained HTML pages: plotly.js embedded once per page, so a report opens offline.

Each page records any script error into `#js-errors`, so a browser test can read the DOM and
know the page drew without errors.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

from transforms.as_of import describe_as_of
from transforms.failpoints import crash_point

ERROR_CAPTURE = """<script>
window.__errors = [];
window.addEventListener('error', e => { window.__errors.push(String(e.message)); show(); });
window.addEventListener('unhandledrejection',
  e => { window.__errors.push(String(e.reason)); show(); });
function show() { var el = document.getElementById('js-errors');
  if (el) { el.textContent = window.__errors.join('\\n'); } }
document.addEventListener('DOMContentLoaded', show);
</script>"""

STYLE = """<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: .2rem; } .meta { color: #666; margin-bottom: 1.5rem; }
section { margin: 2rem 0; } .note { color: #666; font-size: .9rem; }
.table-scroll { overflow-x: auto; max-width: 100%; }
table.data { border-collapse: collapse; font-size: .9rem; }
table.data td, table.data th { border-bottom: 1px solid #ddd; padding: .3rem .6rem;
  text-align: left; vertical-align: top; }
table.data th { background: #f6f7f9; white-space: nowrap; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
#js-errors:empty { display: none; } #js-errors { color: #b00; }
</style>"""


Formatter = Callable[[object], str]


def significant(value: float, digits: int = 4) -> str:
    """A float with at most `digits` significant digits, thousands separated, trailing zeros
    dropped, never in exponent notation above 1e-4: 0.5898457 -> 0.5898, 1234.5678 -> 1,235,
    12.3456 -> 12.35, 2.1 -> 2.1, 3.0 -> 3."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4:
        return f"{value:.{digits - 1}e}"
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent(value: object) -> str:
    """A number already in percent (0..100): 42.123 -> 42.1%."""
    return f"{value:,.1f}%" if isinstance(value, int | float) else format_value(value)


def share(value: object) -> str:
    """A proportion (0..1) as a percentage: 0.4215 -> 42.2%."""
    return f"{value * 100:,.1f}%" if isinstance(value, int | float) else format_value(value)


def format_value(value: object) -> str:
    """The default text of a table cell: integers with thousands separators, floats with 4
    significant digits, booleans as yes/no, timestamps to the second, nulls empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return significant(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def column_formatter(name: str, dtype: pl.DataType) -> Formatter:
    """The formatter a column gets unless a section says otherwise: `percent*` columns hold
    percentages; every other column gets `format_value`."""
    if dtype.is_numeric() and (name.startswith("percent") or name.endswith("_pct")):
        return percent
    return format_value


NO_DATA = "No data to show yet"
REFERENCE = "reference"  # the `meta` of a trace drawn for reference (a diagonal): not data


def _has_values(values: object) -> bool:
    if values is None or isinstance(values, str):
        return values is not None
    try:
        items = list(values)  # type: ignore[call-overload]
    except TypeError:
        return True
    return any(_has_values(v) for v in items)


def has_data(fig: go.Figure) -> bool:
    """Whether any trace but reference ones holds a value (its z, else y, else x)."""
    for trace in fig.data:
        if getattr(trace, "meta", None) == REFERENCE:
            continue
        for axis in ("z", "y", "x"):
            values = getattr(trace, axis, None)
            if values is not None:
                if _has_values(values):
                    return True
                break
    return False


def note_no_data(fig: go.Figure) -> go.Figure:
    """Say "no data" across the plot area and hide the empty axes (in place; idempotent)."""
    if any(a.text == NO_DATA for a in fig.layout.annotations):
        return fig
    fig.add_annotation(
        text=NO_DATA,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 18, "color": "#888"},
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


@dataclass(frozen=True)
class Section:
    """A heading with a figure, an HTML table, or a note. `formats` overrides the text of a
    table column's cells (e.g. `{"accuracy": share}`). A figure without data says so
    (`NO_DATA`) instead of drawing empty axes."""

    title: str
    figure: go.Figure | None = None
    table: pl.DataFrame | None = None
    note: str | None = None
    formats: Mapping[str, Formatter] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.figure is not None and not has_data(self.figure):
            note_no_data(self.figure)


@dataclass(frozen=True)
class PageMeta:
    as_of: str
    run_id: str

    @classmethod
    def of(cls, as_of: datetime, run_id: str) -> PageMeta:
        """The as-of time to the second (UTC), or "no attempts yet", and the run that wrote
        the page."""
        return cls(as_of=describe_as_of(as_of), run_id=run_id)


def table_html(
    frame: pl.DataFrame, max_rows: int = 200, formats: Mapping[str, Formatter] | None = None
) -> str:
    """An HTML table of the frame's first rows, every cell formatted (see `column_formatter`;
    `formats` overrides by column), numbers right-aligned, in a box that scrolls sideways
    when the table is wider than the page."""
    formats = formats or {}
    formatters = [
        formats.get(name) or column_formatter(name, dtype) for name, dtype in frame.schema.items()
    ]
    aligns = [" class='num'" if dtype.is_numeric() else "" for dtype in frame.schema.values()]
    head = "".join(
        f"<th{a}>{html.escape(c)}</th>" for c, a in zip(frame.columns, aligns, strict=True)
    )
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td{a}>{html.escape(f(v))}</td>"
            for v, f, a in zip(row, formatters, aligns, strict=True)
        )
        + "</tr>"
        for row in frame.head(max_rows).iter_rows()
    )
    more = (
        f"<p class='note'>{frame.height - max_rows:,} more rows not shown.</p>"
        if frame.height > max_rows
        else ""
    )
    return (
        f"<div class='table-scroll'><table class='data'><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div>{more}"
    )


def render_page(
    title: str, sections: list[Section], meta: PageMeta, links: list[tuple[str, str]] | None = None
) -> str:
    """The page's HTML; plotly.js is inlined with the first figure only."""
    parts: list[str] = []
    plotly_included = False
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        if section.note:
            parts.append(f"<p class='note'>{html.escape(section.note)}</p>")
        if section.figure is not None:
            parts.append(
                section.figure.to_html(
                    full_html=False,
                    include_plotlyjs=not plotly_included,
                    config={"displaylogo": False, "responsive": True},
                )
            )
            plotly_included = True
        if section.table is not None:
            parts.append(table_html(section.table, formats=section.formats))
        parts.append("</section>")
    nav = ""
    if links:
        nav = (
            "<ul>"
            + "".join(
                f"<li><a href='{html.escape(href)}'>{html.escape(label)}</a></li>"
                for label, href in links
            )
            + "</ul>"
        )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{STYLE}{ERROR_CAPTURE}</head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='meta'>Data as of {html.escape(meta.as_of)} · pipeline run "
        f"{html.escape(meta.run_id)}</p><pre id='js-errors'></pre>{nav}{''.join(parts)}"
        f"</body></html>"
    )


def slug(text: str) -> str:
    """A page file name from a cohort, course or other label."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-").lower() or "x"


def write_page(
    path: Path,
    title: str,
    sections: list[Section],
    meta: PageMeta,
    links: list[tuple[str, str]] | None = None,
) -> Path:
    return write_html(path, render_page(title, sections, meta, links))


def write_html(path: Path, text: str) -> Path:
    """Write a page atomically (a temporary file renamed over it): a run killed mid-way
    leaves the previous page or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    crash_point("reports:page")
    return path
