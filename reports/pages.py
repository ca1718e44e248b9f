"""Self-contained HTML pages: plotly.js embedded once per page, so a report opens offline.

Each page records any script error into `#js-errors`, so a browser test can read the DOM and
know the page drew without errors.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
import polars as pl

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
table.data { border-collapse: collapse; font-size: .9rem; }
table.data td, table.data th { border-bottom: 1px solid #ddd; padding: .3rem .6rem;
  text-align: left; vertical-align: top; }
#js-errors:empty { display: none; } #js-errors { color: #b00; }
</style>"""


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
    """A heading with a figure, an HTML table, or a note. A figure without data says so
    (`NO_DATA`) instead of drawing empty axes."""

    title: str
    figure: go.Figure | None = None
    table: pl.DataFrame | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.figure is not None and not has_data(self.figure):
            note_no_data(self.figure)


@dataclass(frozen=True)
class PageMeta:
    as_of: str
    run_id: str


def table_html(frame: pl.DataFrame, max_rows: int = 200) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row)
        + "</tr>"
        for row in frame.head(max_rows).iter_rows()
    )
    more = (
        f"<p class='note'>{frame.height - max_rows} more rows not shown.</p>"
        if frame.height > max_rows
        else ""
    )
    return f"<table class='data'><tr>{head}</tr>{rows}</table>{more}"


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
            parts.append(table_html(section.table))
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


def write_page(
    path: Path,
    title: str,
    sections: list[Section],
    meta: PageMeta,
    links: list[tuple[str, str]] | None = None,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(title, sections, meta, links), encoding="utf-8")
    return path
