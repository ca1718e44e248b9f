"""The index: the page an educator opens every morning. Headline figures with their change from
the week before, links grouped by audience, and the data-quality panel (the latest ingestion and
the latest result of every asset check). Pure: tables in, HTML out."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from reports.pages import (
    ERROR_CAPTURE,
    STYLE,
    PageMeta,
    format_value,
    share,
    table_html,
    write_html,
)
from reports.privacy import SUPPRESSED
from reports.quizzes import QUIZ_FOLDER
from transforms.ingest.last_run import LastIngestion

MISSING = "—"

INDEX_STYLE = """<style>
body { background: #f4f5f7; }
main { background: transparent; }
h2 { font-size: 1.15rem; margin: 2rem 0 .8rem; color: #333; }
h3 { font-size: 1rem; margin: 0 0 .6rem; color: #333; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr));
  gap: .9rem; }
.card, .panel { background: #fff; border: 1px solid #e1e4e8; border-radius: 8px;
  padding: .9rem 1rem; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.card .label { color: #555; font-size: .85rem; min-height: 2.2em; }
.card .value { font-size: 2rem; font-weight: 600; margin: .2rem 0; color: #111;
  font-variant-numeric: tabular-nums; }
.card .change { font-size: .85rem; font-variant-numeric: tabular-nums; }
.change.good { color: #1a7f37; } .change.bad { color: #c62828; }
.change.flat, .change.unknown { color: #777; }
.sparkline { display: block; margin-top: .5rem; } .spark-note { font-size: .75rem; }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr));
  gap: .9rem; align-items: start; }
.panel ul { margin: 0; padding-left: 1.1rem; } .panel li { margin: .25rem 0; }
.panel ul.long { columns: 9.5rem 2; column-gap: 1rem; font-size: .92rem; }
.panel ul.long li { break-inside: avoid; white-space: nowrap; }
.quality { display: grid; grid-template-columns: minmax(280px, 1fr) minmax(0, 2fr);
  gap: .9rem; align-items: start; }
@media (max-width: 900px) { .quality { grid-template-columns: 1fr; } }
.panel .who { color: #777; font-size: .85rem; margin: -.4rem 0 .6rem; }
.muted { color: #777; font-size: .85rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 9px; font-size: .8rem;
  font-weight: 600; }
.badge.passed { background: #dff3e4; color: #1a7f37; }
.badge.failed { background: #fde2e1; color: #c62828; }
.badge.warn { background: #fff3cd; color: #8a6d00; }
.badge.unknown { background: #eee; color: #555; }
.panel table.data { width: 100%; }
table.checks td.check { overflow-wrap: anywhere; min-width: 12rem; }
details summary { cursor: pointer; color: #1a7f37; margin: .4rem 0; }
</style>"""


@dataclass(frozen=True)
class LinkGroup:
    """The reports one audience reads: (label, href) links, and a note (e.g. cohorts left out)."""

    title: str
    audience: str
    links: list[tuple[str, str]]
    note: str | None = None


def _title(page: Path) -> str | None:
    """The page's <title> (read from its first bytes: the head comes before any figure)."""
    with page.open(encoding="utf-8", errors="replace") as handle:
        found = re.search(r"<title>(.*?)</title>", handle.read(8192), re.S)
    return html.unescape(found.group(1)) if found else None


def link_groups(folder: Path, suppressed: list[str]) -> list[LinkGroup]:
    """Every report page under `folder`, grouped by audience: educators (overview first, then
    the cohorts), the product team (SM-2, and the tuning lab when its page exists), learners."""

    def links(pages: list[Path], prefix: str) -> list[tuple[str, str]]:
        out = []
        for page in pages:
            title = _title(page) or page.stem
            label = title.removeprefix(f"{prefix}: ") if prefix else title
            out.append((label, page.relative_to(folder).as_posix()))
        return out

    educators = sorted(
        (folder / "educators").glob("*.html"), key=lambda p: (p.stem != "overview", p.stem)
    )
    product = [p for p in (folder / "sm2.html", folder / "tuning.html") if p.exists()]
    learners = sorted((folder / "learners").glob("*.html"))
    courses = sorted((folder / "courses").glob("*.html"))
    performance = sorted((folder / "performance").glob("*.html"))
    quizzes = sorted((folder / QUIZ_FOLDER).glob("*.html"))
    note = (
        f"Not shown, {SUPPRESSED}: {', '.join(suppressed)}."
        if suppressed
        else "Every cohort has a page."
    )
    groups = [
        LinkGroup(
            "Educators",
            "Retention, accuracy, progress and learners at risk, per cohort.",
            links(educators, "Educators' report"),
            note,
        ),
        LinkGroup(
            "Product team",
            "How SM-2 schedules and predicts; the tuning lab's parameter search.",
            links(product, ""),
        ),
        LinkGroup(
            "Learners",
            "One page per selected learner, under a pseudonym.",
            links(learners, "Learner report"),
        ),
    ]
    if performance:  # course platforms' learners: only when the landing has them
        groups.append(
            LinkGroup(
                "Learner performance",
                "Per selected course-platform learner, under a pseudonym: assessments and their "
                "trend, competencies, badges, next tasks.",
                links(performance, "Learner performance"),
            )
        )
    if courses:  # course platforms: only when the landing has them
        groups.insert(
            1,
            LinkGroup(
                "Course platforms",
                "Per course: the enrolment funnel, where learners stop, completion over time.",
                links(courses, "Course"),
            ),
        )
    if quizzes:  # for course authors: which questions are broken
        groups.insert(
            2 if courses else 1,
            LinkGroup(
                "Course authors",
                "Per course: each quiz's score distribution and reliability, and per question "
                "its facility, discrimination (with flags in words) and answer distribution.",
                links(quizzes, "Quizzes"),
            ),
        )
    return groups


def _figure_text(value: float | None, unit: str) -> str:
    if value is None:
        return MISSING
    return share(value) if unit == "share" else format_value(round(value))


def _change_html(row: dict[str, object]) -> str:
    """An arrow and the change from the week before, green when it goes the good way."""
    change, previous, unit = row["change"], row["previous"], str(row["unit"])
    if not isinstance(previous, float):
        return "<div class='change unknown'>no figure for a week before</div>"
    day, previous_day = row["day"], row["previous_day"]
    when = (
        "a week before"
        if isinstance(day, date) and day - timedelta(days=7) == previous_day
        else f"on {format_value(previous_day)}"
    )
    before = f"{html.escape(_figure_text(previous, unit))} {when}"
    if not isinstance(change, float):
        return f"<div class='change unknown'>{before}</div>"
    shown = round(change * 1000) / 10 if unit == "share" else float(round(change))
    amount = f"{abs(shown):.1f} pts" if unit == "share" else format_value(abs(round(change)))
    if shown == 0:
        tone, arrow = "flat", "→"
    else:
        tone = "good" if (shown > 0) == bool(row["higher_is_better"]) else "bad"
        arrow = "▲" if shown > 0 else "▼"
    return (
        f"<div class='change {tone}'>{arrow} {html.escape(amount)} "
        f"<span class='muted'>vs {before}</span></div>"
    )


SPARKLINE_FIGURE = "Learners active, last 7 days"


def sparkline_svg(weekly: pl.DataFrame, width: int = 240, height: int = 40) -> str:
    """An inline SVG line of `active_learners` by `week_end` (oldest first), from zero up to
    the largest week, the latest week marked; empty with fewer than two weeks."""
    values = weekly.sort("week_end")["active_learners"].to_list()
    if len(values) < 2:
        return ""
    top = max(max(values), 1)
    step = (width - 8) / (len(values) - 1)
    points = [(4 + i * step, height - 4 - (height - 8) * v / top) for i, v in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    x, y = points[-1]
    label = f"learners active per week, the last {len(values)} weeks: " + ", ".join(
        str(v) for v in values
    )
    return (
        f"<svg class='sparkline' viewBox='0 0 {width} {height}' width='100%' height='{height}' "
        f"preserveAspectRatio='none' role='img' aria-label='{html.escape(label)}'>"
        f"<title>{html.escape(label)}</title>"
        f"<polyline points='{line}' fill='none' stroke='#4c78a8' stroke-width='2' "
        f"stroke-linejoin='round' vector-effect='non-scaling-stroke'/>"
        f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='#4c78a8'/>"
        f"</svg><div class='muted spark-note'>weekly, the last {len(values)} weeks</div>"
    )


def headline_html(headline: pl.DataFrame | None, weekly: pl.DataFrame | None = None) -> str:
    """One card per headline figure: its label, value, and change from the week before; the
    weekly active learners as a sparkline under theirs."""
    if headline is None or headline.height == 0:
        return "<p class='muted'>The headline figures have not been computed yet.</p>"
    spark = sparkline_svg(weekly) if weekly is not None else ""
    cards = [
        f"<div class='card' data-figure='{html.escape(str(row['figure']))}'>"
        f"<div class='label'>{html.escape(str(row['figure']))}</div>"
        f"<div class='value'>{html.escape(_figure_text(row['value'], str(row['unit'])))}</div>"
        f"{_change_html(row)}{spark if row['figure'] == SPARKLINE_FIGURE else ''}</div>"
        for row in headline.iter_rows(named=True)
    ]
    return f"<div class='cards'>{''.join(cards)}</div>"


def _links_html(group: LinkGroup) -> str:
    items = "".join(
        f"<li><a href='{html.escape(href)}'>{html.escape(label)}</a></li>"
        for label, href in group.links
    )
    long = " class='long'" if len(group.links) > 8 else ""
    body = f"<ul{long}>{items}</ul>" if items else "<p class='muted'>No pages yet.</p>"
    note = f"<p class='muted'>{html.escape(group.note)}</p>" if group.note else ""
    return (
        f"<div class='panel links'><h3>{html.escape(group.title)}</h3>"
        f"<p class='who'>{html.escape(group.audience)}</p>{body}{note}</div>"
    )


def _badge(passed: bool | None, severity: str | None) -> str:
    if passed is None:
        return "<span class='badge unknown'>not run</span>"
    if passed:
        return "<span class='badge passed'>passed</span>"
    if severity == "WARN":
        return "<span class='badge warn'>warning</span>"
    return "<span class='badge failed'>failed</span>"


def _checks_table(checks: pl.DataFrame) -> str:
    rows = "".join(
        f"<tr><td>{_badge(row['passed'], row['severity'])}</td>"
        f"<td class='check'>{html.escape(str(row['check']))}"
        f"<div class='muted'>on {html.escape(str(row['asset']))}</div></td>"
        f"<td>{html.escape(row['description'] or '')}</td></tr>"
        for row in checks.sort(pl.col("passed").is_null(), "asset", "check").iter_rows(named=True)
    )
    return (
        "<div class='table-scroll'><table class='data checks'><thead><tr><th>result</th>"
        f"<th>check</th><th>description</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _checks_html(checks: pl.DataFrame, run_id: str) -> str:
    """The latest result of every asset check: those that failed or never ran in a table,
    those that passed folded away; says how many results are from a run before `run_id`."""
    if checks.height == 0:
        return "<p class='muted'>No asset check has run yet.</p>"
    passed = checks.filter(pl.col("passed").fill_null(False))
    attention = checks.filter(~pl.col("passed").fill_null(False))
    earlier = checks.filter(pl.col("run_id").is_not_null() & (pl.col("run_id") != run_id)).height
    summary = (
        f"<p class='muted'>{passed.height} of {checks.height} checks passed at their latest "
        "evaluation"
        + (f" ({earlier} of them evaluated in an earlier run)" if earlier else "")
        + ".</p>"
    )
    shown = _checks_table(attention) if attention.height else ""
    folded = (
        f"<details><summary>{passed.height} passed check{'' if passed.height == 1 else 's'}"
        f"</summary>{_checks_table(passed)}"
        "</details>"
        if passed.height
        else ""
    )
    return summary + shown + folded


def quality_html(ingestion: LastIngestion, checks: pl.DataFrame, run_id: str) -> str:
    """The data-quality panel: the latest ingestion's counts, rejects by reason, unreadable
    files; and the asset checks."""
    if ingestion.ingested_at is None:
        latest = "<p class='muted'>Nothing has been ingested yet.</p>"
    else:
        counts = ingestion.totals.unpivot(variable_name="count", value_name="value").with_columns(
            pl.col("count").str.replace_all("_", " ")
        )
        rejects = (
            table_html(ingestion.rejected_by_reason)
            if ingestion.rejected_by_reason.height
            else "<p class='muted'>No row was rejected.</p>"
        )
        failed = (
            table_html(ingestion.failed_files)
            if ingestion.failed_files.height
            else "<p class='muted'>Every file could be read.</p>"
        )
        latest = (
            f"<p class='muted'>Sources loaded at "
            f"{html.escape(format_value(ingestion.ingested_at))} UTC.</p>"
            f"{table_html(counts)}<h3 style='margin-top:1rem'>Rejected rows by reason</h3>"
            f"{rejects}<h3 style='margin-top:1rem'>Files that could not be read</h3>{failed}"
        )
    return (
        "<div class='quality'>"
        f"<div class='panel'><h3>Latest ingestion</h3>{latest}</div>"
        f"<div class='panel'><h3>Asset checks</h3>{_checks_html(checks, run_id)}</div>"
        "</div>"
    )


def render_index(
    meta: PageMeta,
    headline: pl.DataFrame | None,
    groups: list[LinkGroup],
    ingestion: LastIngestion,
    checks: pl.DataFrame,
    weekly: pl.DataFrame | None = None,
) -> str:
    """The index page's HTML. `headline` is the `headline_figures` table and `weekly` the
    `weekly_active_learners` table (None when missing); `checks` has asset, check, passed
    (null: never ran), severity, description."""
    title = "Learning-progress reports"
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>{STYLE}{INDEX_STYLE}{ERROR_CAPTURE}</head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='meta'>Data as of {html.escape(meta.as_of)} · pipeline run "
        f"{html.escape(meta.run_id)}</p><pre id='js-errors'></pre>"
        f"<section id='headline'><h2>This week against the week before</h2>"
        f"{headline_html(headline, weekly)}</section>"
        f"<section id='reports'><h2>Reports</h2><div class='panels'>"
        f"{''.join(_links_html(g) for g in groups)}</div></section>"
        f"<section id='data-quality'><h2>Data quality</h2>"
        f"{quality_html(ingestion, checks, meta.run_id)}</section></body></html>"
    )


def write_index(
    folder: Path,
    meta: PageMeta,
    headline: pl.DataFrame | None,
    ingestion: LastIngestion,
    checks: pl.DataFrame,
    suppressed: list[str],
    weekly: pl.DataFrame | None = None,
) -> Path:
    """Write `index.html` linking every report page in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    groups = link_groups(folder, suppressed)
    page = render_index(meta, headline, groups, ingestion, checks, weekly)
    return write_html(folder / "index.html", page)
