"""Build every report from the warehouse: educators' (overview and per cohort), SM-2 and
learners (reports/index.py links them). Reads only what reports may show: never
`user_response` or `correct_answer`, never a user id (learners appear under pseudonyms)."""

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
from reports.pages import PageMeta, Section, slug, write_page
from reports.privacy import SUPPRESSED, large_cohorts, pseudonym, small_cohorts
from transforms.keys import LEARNER
from transforms.metrics.accuracy import accuracy_by_step
from transforms.metrics.common import learner_cohorts
from transforms.metrics.progress import learned_words
from transforms.metrics.retention import first_days, forgetting_curve
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


def _learners_by_cohort(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    daily = query(con, "SELECT user_id, language, day FROM accuracy_daily")
    return learner_cohorts(first_days(daily), query(con, "SELECT user_id, cohort FROM cohorts"))


def _cohort_sizes(learners: pl.DataFrame) -> pl.DataFrame:
    return learners.group_by("language", "cohort").agg(pl.len().alias("cohort_size"))


def suppressed_cohorts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The cohorts the educator views leave out (fewer than 5 learners in every language)."""
    return small_cohorts(_cohort_sizes(_learners_by_cohort(con)))


@dataclass(frozen=True)
class EducatorTables:
    """The analytics tables every educator page filters, read once."""

    cohort_retention: pl.DataFrame
    true_retention: pl.DataFrame
    progress: pl.DataFrame
    at_risk: pl.DataFrame
    at_risk_backtest: pl.DataFrame
    learner_status: pl.DataFrame

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> EducatorTables:
        return cls(
            query(con, "SELECT * FROM cohort_retention"),
            query(con, "SELECT * FROM true_retention"),
            query(con, "SELECT * FROM user_language_progress"),
            query(
                con,
                "SELECT user_id, course, risk, flagged, reasons, model, threshold "
                "FROM at_risk_learners",
            ),
            query(con, "SELECT * FROM at_risk_backtest"),
            query(con, "SELECT user_id, course, status FROM learner_status"),
        )


def _educator_sections(
    con: duckdb.DuckDBPyConnection,
    tables: EducatorTables,
    learners: pl.DataFrame,
    cohort_filter: pl.DataFrame,
    key: bytes,
    pass_quality: int,
    as_of: datetime,
) -> list[Section]:
    """Sections for the learners in `learners` (user_id, language); `cohort_filter` holds the
    (language, cohort) rows the heatmap and retention charts may show."""
    with registered(con, "_learners", learners.select(LEARNER)):
        attempts = query(
            con,
            "SELECT a.language, a.step_type, a.correct, a.response_time_ms "
            "FROM attempts a SEMI JOIN _learners l USING (user_id, language) "
            "WHERE a.attempted_at <= ?",
            [as_of],
        )
        reviews = query(
            con,
            "SELECT r.user_id, r.language, r.review_index, r.quality, "
            "r.elapsed_days, r.p_recall, r.interval_before FROM reviews r "
            "SEMI JOIN _learners l USING (user_id, language)",
        )
    shown = cohort_filter.select("language", "cohort")
    retention = tables.cohort_retention.join(shown, on=["language", "cohort"])
    true_ret = tables.true_retention.join(shown, on=["language", "cohort"])
    progress = tables.progress.join(learners.select(LEARNER), on=LEARNER)
    courses = learners.select("user_id", language_course(pl.col("language")).alias("course"))
    at_risk = tables.at_risk.join(courses, on=["user_id", "course"])
    churned = (
        tables.learner_status.join(courses, on=["user_id", "course"])
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
        Section(
            "Accuracy by language and step type",
            educators.accuracy_by_step_figure(accuracy_by_step(attempts)),
        ),
        Section(
            "Forgetting curve",
            educators.forgetting_curve_figure(forgetting_curve(reviews, pass_quality)),
        ),
        Section("Progress through the course", educators.level_progress_figure(progress)),
        at_risk_section(at_risk, tables.at_risk_backtest, churned, key),
    ]


def build_educator_reports(
    con: duckdb.DuckDBPyConnection, folder: Path, meta: PageMeta, key: bytes, as_of: datetime
) -> BuiltReports:
    """The overview of all cohorts and one page per cohort with at least 5 learners."""
    out = BuiltReports()
    pass_quality = params_used(con).pass_quality
    learners = _learners_by_cohort(con)
    sizes = _cohort_sizes(learners)
    shown = large_cohorts(sizes)
    out.suppressed = small_cohorts(sizes)
    tables = EducatorTables.read(con)
    overview = _educator_sections(con, tables, learners, shown, key, pass_quality, as_of)
    out.pages.append(
        write_page(
            folder / "educators" / "overview.html", "Educators' report: all cohorts", overview, meta
        )
    )
    out.add_figures("educators-overview", overview)
    for cohort in sorted(learners["cohort"].unique().to_list()):
        if cohort in out.suppressed:
            continue
        members = learners.filter(pl.col("cohort") == cohort)
        allowed = shown.filter(pl.col("cohort") == cohort)
        members = members.join(allowed.select("language"), on="language")
        sections = _educator_sections(con, tables, members, allowed, key, pass_quality, as_of)
        path = folder / "educators" / f"cohort-{slug(cohort)}.html"
        out.pages.append(write_page(path, f"Educators' report: cohort {cohort}", sections, meta))
        out.add_figures(f"educators-{slug(cohort)}", sections)
    return out


def build_sm2_report(
    con: duckdb.DuckDBPyConnection, folder: Path, meta: PageMeta, as_of: datetime
) -> BuiltReports:
    pass_quality = params_used(con).pass_quality
    progress = query(con, "SELECT easiness, interval_days FROM word_progress")
    forecast = query(con, "SELECT day, due_reviews, overdue_reviews FROM due_forecast")
    scored = sm2_figures.comparable_reviews(
        query(
            con,
            "SELECT review_index, quality, elapsed_days, lapses_after, p_recall, "
            "leitner_p_recall FROM reviews",
        ),
        pass_quality,
    )
    comparison = sm2_figures.model_comparison(scored) if scored.height else pl.DataFrame()
    sections = [
        Section("Easiness factors", sm2_figures.ef_histogram(progress)),
        Section("Intervals", sm2_figures.interval_histogram(progress)),
        Section(
            "Workload: the 30-day due forecast", sm2_figures.workload_figure(forecast, as_of.date())
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
    out.pages.append(write_page(folder / "sm2.html", "SM-2 report", sections, meta))
    out.add_figures("sm2", sections)
    return out


MOST_ACTIVE_SQL = (
    "SELECT user_id FROM accuracy_daily GROUP BY 1 ORDER BY sum(attempts) DESC, user_id LIMIT ?"
)


def pick_learners(
    con: duckdb.DuckDBPyConnection, setting: str, most_active_sql: str = MOST_ACTIVE_SQL
) -> list[str]:
    """A comma-separated list of user ids, or a number: that many most active learners (by
    `most_active_sql`, a query of user ids in order with the number as its parameter)."""
    setting = setting.strip()
    if setting.isdigit():
        rows = query(con, most_active_sql, [int(setting)])
        return rows["user_id"].to_list()
    return [u.strip().lower() for u in setting.split(",") if u.strip()]


def build_learner_reports(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    meta: PageMeta,
    key: bytes,
    as_of: datetime,
    setting: str,
) -> BuiltReports:
    out = BuiltReports()
    words = current_words(con, as_of)
    pass_quality = params_used(con).pass_quality
    for user in pick_learners(con, setting):
        name = pseudonym(user, key)
        daily = query(
            con,
            "SELECT language, day, attempts, correct FROM accuracy_daily WHERE user_id = ?",
            [user],
        )
        if daily.height == 0:
            continue
        reviews = query(
            con,
            "SELECT user_id, language, word_uid, quality, review_index FROM reviews "
            "WHERE user_id = ?",
            [user],
        )
        learned = learned_words(reviews, pass_quality).drop("user_id")
        course = (
            words.join(daily.select("language").unique(), on="language")
            .join(learned, on=["language", "word_uid"], how="left")
            .with_columns(
                pl.col("learned").is_not_null().alias("seen"), pl.col("learned").fill_null(False)
            )
        )
        streak = query(
            con,
            "SELECT max(current_streak), max(longest_streak) "
            "FROM user_language_progress WHERE user_id = ?",
            [user],
        ).row(0)
        forecast = query(con, "SELECT day, due_reviews FROM due_forecast WHERE user_id = ?", [user])
        sections = [
            Section("Progress by level and group", learner_figures.group_progress(course)),
            Section(
                "Study calendar",
                learner_figures.study_calendar(daily, int(streak[0] or 0), int(streak[1] or 0)),
            ),
            Section("Accuracy trend", learner_figures.accuracy_trend(daily)),
            Section("Words due in the coming days", learner_figures.due_soon(forecast)),
        ]
        out.pages.append(
            write_page(
                folder / "learners" / f"{name}.html", f"Learner report: {name}", sections, meta
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
    written = {p.resolve() for b in built for p in b.pages}
    stems = {stem for b in built for stem, _ in b.figures} if pngs_written else set()
    stale = [
        page
        for area in PER_RUN_AREAS
        for page in sorted((folder / area).glob("*.html"))
        if page.resolve() not in written
    ]
    stale += [
        png
        for png in sorted((folder / "png").glob("*.png"))
        if png.stem.startswith(PER_RUN_PNG_PREFIXES) and png.stem not in stems
    ]
    for path in stale:
        path.unlink()
    return stale
