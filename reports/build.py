"""Build every report from the warehouse: educators' (overview and per cohort), SM-2 and
learners (reports/index.py links them). Reads only what reports may show: never
`user_response` or `correct_answer`, never a user id (learners appear under pseudonyms).

The pages read their inputs once (`ReportData.read`), get a `ReportContext`, and draw: every
figure a page shows is a warehouse table (per-cohort figures are the metrics' `_cohort`
tables), filtered to the learners and cohorts the page may show."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go
import polars as pl

from reports import educators, learner_figures, sm2_figures
from reports.at_risk import at_risk_section
from reports.learner_courses import LearnerCourses, course_sections
from reports.pages import PageMeta, Section, slug, write_page
from reports.privacy import SUPPRESSED, large_cohorts, pseudonym, small_cohorts
from transforms.keys import LEARNER
from transforms.metrics.status import language_course
from transforms.sm2.store import current_words, params_used
from transforms.warehouse import query, registered, scalar, table_exists


@dataclass
class BuiltReports:
    pages: list[Path] = field(default_factory=list)
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)  # (png stem, figure)
    suppressed: list[str] = field(default_factory=list)

    def add_figures(self, stem: str, sections: list[Section]) -> None:
        """The sections' figures, named `<stem>-<section number>` for their PNG copies."""
        self.figures += [
            (f"{stem}-{i}", s.figure) for i, s in enumerate(sections) if s.figure is not None
        ]


SECRETS_DDL = (
    "CREATE TABLE IF NOT EXISTS report_secrets (name VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)"
)


def ensure_pseudonym_key(con: duckdb.DuckDBPyConnection) -> bool:
    """Keep a random pseudonym key in `report_secrets` (one row per secret: name, value), so
    pseudonyms are stable across runs and cannot be reversed without the warehouse. Returns
    whether a new key was made."""
    con.execute(SECRETS_DDL)
    if scalar(con, "SELECT value FROM report_secrets WHERE name = 'pseudonym_key'") is not None:
        return False
    con.execute("INSERT INTO report_secrets VALUES ('pseudonym_key', ?)", [secrets.token_hex(32)])
    return True


def pseudonym_key(con: duckdb.DuckDBPyConnection, configured: str | None) -> bytes:
    """`PROGRESS_PSEUDONYM_KEY` when set, else the key `ensure_pseudonym_key` keeps."""
    if configured:
        return configured.encode()
    key = (
        scalar(con, "SELECT value FROM report_secrets WHERE name = 'pseudonym_key'")
        if table_exists(con, "report_secrets")
        else None
    )
    if key is None:
        raise RuntimeError(
            "no pseudonym key: set PROGRESS_PSEUDONYM_KEY or materialize report_secrets first"
        )
    return str(key).encode()


def _cohort_sizes(learners: pl.DataFrame) -> pl.DataFrame:
    return learners.group_by("language", "cohort").agg(pl.len().alias("cohort_size"))


def suppressed_cohorts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The cohorts the educator views leave out (fewer than 5 learners in every language)."""
    return small_cohorts(_cohort_sizes(query(con, "SELECT * FROM learner_cohorts")))


@dataclass(frozen=True)
class ReportContext:
    """What every page is written with: where, its header, the pseudonym key, the as-of time."""

    folder: Path
    meta: PageMeta
    key: bytes
    as_of: datetime


def pick_learners(accuracy_daily: pl.DataFrame, setting: str) -> list[str]:
    """A comma-separated list of user ids, or a number: that many most active learners."""
    setting = setting.strip()
    if setting.isdigit():
        most_active = (
            accuracy_daily.group_by("user_id")
            .agg(pl.col("attempts").sum())
            .sort(["attempts", "user_id"], descending=[True, False])
            .head(int(setting))
        )
        return most_active["user_id"].to_list()
    return [u.strip().lower() for u in setting.split(",") if u.strip()]


@dataclass(frozen=True)
class ReportData:
    """Every table the educators', SM-2 and learners' pages draw, read once."""

    pass_quality: int
    learner_cohorts: pl.DataFrame
    cohort_retention: pl.DataFrame
    true_retention: pl.DataFrame
    accuracy_by_step: pl.DataFrame
    accuracy_by_step_cohort: pl.DataFrame
    forgetting_curve: pl.DataFrame
    forgetting_curve_cohort: pl.DataFrame
    progress: pl.DataFrame  # user_language_progress
    at_risk: pl.DataFrame
    at_risk_backtest: pl.DataFrame
    learner_status: pl.DataFrame
    word_progress: pl.DataFrame  # easiness, interval_days
    due_forecast: pl.DataFrame
    sm2_reviews: pl.DataFrame  # every review: what SM-2 and Leitner predicted
    current_words: pl.DataFrame
    learners: list[str]  # the learners with a page
    learner_daily: pl.DataFrame  # their accuracy_daily rows
    learner_words: pl.DataFrame  # their cards' rows of learned_words
    learner_courses: LearnerCourses  # their courses, modules and next tasks

    @classmethod
    def read(
        cls, con: duckdb.DuckDBPyConnection, as_of: datetime, report_learners: str
    ) -> ReportData:
        daily = query(con, "SELECT user_id, language, day, attempts, correct FROM accuracy_daily")
        learners = pick_learners(daily, report_learners)
        picked = pl.DataFrame({"user_id": learners}, schema={"user_id": pl.String})
        with registered(con, "_picked", picked):
            learner_words = query(
                con, "SELECT * FROM learned_words SEMI JOIN _picked USING (user_id)"
            )
        return cls(
            pass_quality=params_used(con).pass_quality,
            learner_cohorts=query(con, "SELECT * FROM learner_cohorts"),
            cohort_retention=query(con, "SELECT * FROM cohort_retention"),
            true_retention=query(con, "SELECT * FROM true_retention"),
            accuracy_by_step=query(con, "SELECT * FROM accuracy_by_step"),
            accuracy_by_step_cohort=query(con, "SELECT * FROM accuracy_by_step_cohort"),
            forgetting_curve=query(con, "SELECT * FROM forgetting_curve"),
            forgetting_curve_cohort=query(con, "SELECT * FROM forgetting_curve_cohort"),
            progress=query(con, "SELECT * FROM user_language_progress"),
            at_risk=query(
                con,
                "SELECT user_id, course, risk, flagged, reasons, model, threshold "
                "FROM at_risk_learners",
            ),
            at_risk_backtest=query(con, "SELECT * FROM at_risk_backtest"),
            learner_status=query(con, "SELECT user_id, course, status FROM learner_status"),
            word_progress=query(con, "SELECT easiness, interval_days FROM word_progress"),
            due_forecast=query(
                con, "SELECT user_id, day, due_reviews, overdue_reviews FROM due_forecast"
            ),
            sm2_reviews=query(
                con,
                "SELECT review_index, quality, elapsed_days, lapses_after, p_recall, "
                "leitner_p_recall FROM reviews",
            ),
            current_words=current_words(con, as_of),
            learners=learners,
            learner_daily=daily.filter(pl.col("user_id").is_in(learners)),
            learner_words=learner_words,
            learner_courses=LearnerCourses.read(con, learners),
        )


def _in_cohort(table: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """A `_cohort` metrics table's rows of the (language, cohort) pairs in `shown`, without the
    cohort column (the page is about one cohort)."""
    return table.join(shown.select("language", "cohort"), on=["language", "cohort"]).drop("cohort")


def _educator_sections(
    data: ReportData,
    learners: pl.DataFrame,
    shown: pl.DataFrame,
    by_step: pl.DataFrame,
    curve: pl.DataFrame,
    key: bytes,
) -> list[Section]:
    """Sections for the learners in `learners` (user_id, language); `shown` holds the
    (language, cohort) rows the heatmap and retention charts may show; `by_step` and `curve`
    are their accuracy by step and forgetting curve."""
    cohorts = shown.select("language", "cohort")
    retention = data.cohort_retention.join(cohorts, on=["language", "cohort"])
    true_ret = data.true_retention.join(cohorts, on=["language", "cohort"])
    progress = data.progress.join(learners.select(LEARNER), on=LEARNER)
    courses = learners.select("user_id", language_course(pl.col("language")).alias("course"))
    at_risk = data.at_risk.join(courses, on=["user_id", "course"])
    churned = (
        data.learner_status.join(courses, on=["user_id", "course"])
        .filter(pl.col("status") == "churned")
        .height
    )
    return [
        Section(
            "Cohort retention",
            educators.retention_heatmap(retention),
            note="Share of each cohort's learners who studied in their week k (the 7 days "
            f"from their first day + 7k); n = active / cohort size. Cohorts with "
            f"{SUPPRESSED} are not shown.",
        ),
        Section(
            "True retention",
            educators.true_retention_by_week(true_ret),
            note="Passed share of graded reviews after a card's first, with 95% Wilson bands.",
        ),
        Section("Accuracy by language and step type", educators.accuracy_by_step_figure(by_step)),
        Section("Forgetting curve", educators.forgetting_curve_figure(curve)),
        Section("Progress through the course", educators.level_progress_figure(progress)),
        at_risk_section(at_risk, data.at_risk_backtest, churned, key),
    ]


def build_educator_reports(data: ReportData, context: ReportContext) -> BuiltReports:
    """The overview of all cohorts and one page per cohort with at least 5 learners."""
    out = BuiltReports()
    learners = data.learner_cohorts
    sizes = _cohort_sizes(learners)
    shown = large_cohorts(sizes)
    out.suppressed = small_cohorts(sizes)
    overview = _educator_sections(
        data, learners, shown, data.accuracy_by_step, data.forgetting_curve, context.key
    )
    folder, meta = context.folder, context.meta
    out.pages.append(
        write_page(
            folder / "educators" / "overview.html", "Educators' report: all cohorts", overview, meta
        )
    )
    out.add_figures("educators-overview", overview)
    for cohort in sorted(learners["cohort"].unique().to_list()):
        if cohort in out.suppressed:
            continue
        allowed = shown.filter(pl.col("cohort") == cohort)
        members = learners.filter(pl.col("cohort") == cohort)
        members = members.join(allowed.select("language"), on="language")
        sections = _educator_sections(
            data,
            members,
            allowed,
            _in_cohort(data.accuracy_by_step_cohort, allowed),
            _in_cohort(data.forgetting_curve_cohort, allowed),
            context.key,
        )
        path = folder / "educators" / f"cohort-{slug(cohort)}.html"
        out.pages.append(write_page(path, f"Educators' report: cohort {cohort}", sections, meta))
        out.add_figures(f"educators-{slug(cohort)}", sections)
    return out


def build_sm2_report(data: ReportData, context: ReportContext) -> BuiltReports:
    scored = sm2_figures.comparable_reviews(data.sm2_reviews, data.pass_quality)
    comparison = sm2_figures.model_comparison(scored) if scored.height else pl.DataFrame()
    forecast = data.due_forecast.select("day", "due_reviews", "overdue_reviews")
    sections = [
        Section("Easiness factors", sm2_figures.ef_histogram(data.word_progress)),
        Section("Intervals", sm2_figures.interval_histogram(data.word_progress)),
        Section(
            "Workload: the 30-day due forecast",
            sm2_figures.workload_figure(forecast, context.as_of.date()),
        ),
        Section(
            "Calibration",
            sm2_figures.calibration_figure(scored),
            note="Graded reviews after a card's first, predicted recall in 10 bins.",
        ),
        Section(
            "SM-2 against Leitner on the same reviews",
            table=comparison,
            note="Lower log loss and RMSE(bins) are better; higher AUC is better.",
        ),
    ]
    out = BuiltReports()
    out.pages.append(write_page(context.folder / "sm2.html", "SM-2 report", sections, context.meta))
    out.add_figures("sm2", sections)
    return out


def _learner_sections(data: ReportData, user: str, daily: pl.DataFrame) -> list[Section]:
    learned = data.learner_words.filter(pl.col("user_id") == user).drop("user_id")
    course = (
        data.current_words.join(daily.select("language").unique(), on="language")
        .join(learned, on=["language", "word_uid"], how="left")
        .with_columns(
            pl.col("learned").is_not_null().alias("seen"), pl.col("learned").fill_null(False)
        )
    )
    streak = (
        data.progress.filter(pl.col("user_id") == user)
        .select(pl.col("current_streak").max(), pl.col("longest_streak").max())
        .row(0)
    )
    forecast = data.due_forecast.filter(pl.col("user_id") == user).select("day", "due_reviews")
    return [
        Section("Progress by level and group", learner_figures.group_progress(course)),
        Section(
            "Study calendar",
            learner_figures.study_calendar(daily, int(streak[0] or 0), int(streak[1] or 0)),
        ),
        Section("Accuracy trend", learner_figures.accuracy_trend(daily)),
        Section("Words due in the coming days", learner_figures.due_soon(forecast)),
        *course_sections(data.learner_courses, user),
    ]


def build_learner_reports(data: ReportData, context: ReportContext) -> BuiltReports:
    out = BuiltReports()
    for user in data.learners:
        name = pseudonym(user, context.key)
        daily = data.learner_daily.filter(pl.col("user_id") == user).drop("user_id")
        if daily.height == 0:
            continue
        sections = _learner_sections(data, user, daily)
        out.pages.append(
            write_page(
                context.folder / "learners" / f"{name}.html",
                f"Learner report: {name}",
                sections,
                context.meta,
            )
        )
        out.add_figures(name, sections)
    return out


PER_RUN_AREAS = ("educators", "learners")  # every page there is rewritten by each run
# the PNG copies of this asset's figures (the course pages' and the tuning page's are not)
PER_RUN_PNG_PREFIXES = ("educators-", "learner-", "sm2-")


def remove_stale_reports(folder: Path, built: list[BuiltReports], pngs_written: bool) -> list[Path]:
    """Delete the pages under educators/ and learners/ and the PNG copies that this run does not
    write (a learner no longer selected, a cohort now below 5 learners), so the index never
    links an old page. Returns the files removed."""
    return remove_stale(
        folder,
        PER_RUN_AREAS,
        PER_RUN_PNG_PREFIXES,
        [p for b in built for p in b.pages],
        [stem for b in built for stem, _ in b.figures] if pngs_written else [],
    )


def remove_stale(
    folder: Path,
    areas: tuple[str, ...],
    png_prefixes: tuple[str, ...],
    pages: list[Path],
    figure_stems: list[str],
) -> list[Path]:
    """Delete the pages under `folder/<area>` not in `pages` and the PNG copies whose stem
    starts with one of `png_prefixes` but is not in `figure_stems` (every page of those areas
    and every such PNG is rewritten by the run that calls this). Returns the files removed."""
    written = {p.resolve() for p in pages}
    stems = set(figure_stems)
    stale = [
        page
        for area in areas
        for page in sorted((folder / area).glob("*.html"))
        if page.resolve() not in written
    ]
    stale += [
        png
        for png in sorted((folder / "png").glob("*.png"))
        if png.stem.startswith(png_prefixes) and png.stem not in stems
    ]
    for path in stale:
        path.unlink()
    return stale
