"""The nightly metrics run: rebuild only the rows that the cards the SRS step changed reach
(`transforms.incremental`), and give the tables a full recompute would.

What a nightly run rebuilds, table by table (keys in brackets):
- `accuracy_daily` (user_id, language, day): each touched learner's days from the day of their
  earliest changed attempt on (a card's first attempt can only move to such a day);
- `user_language_progress` (user_id, language): the history columns of the touched learners;
  the as-of columns (`AS_OF_COLUMNS`: due now, today's words, streaks) of every learner, from
  `accuracy_daily` and the cards' `next_review_at`, as they move with the as-of time;
- `true_retention` (language, cohort, period_week): the weeks of the touched learners' changed
  attempts in their cohort, and every week of both cohorts for a learner whose cohort moved;
- `word_difficulty` (language, word_uid): the touched words; `accuracy_by_step` (language,
  step_type) and `forgetting_curve` (language): the groups of the changed attempts, and their
  per-cohort forms (`accuracy_by_step_cohort`, `forgetting_curve_cohort`) every cohort of them;
- `learner_cohorts`: whole, from `accuracy_daily` (one row per learner);
- `cohort_retention` (language, cohort): the touched learners' cohorts (and the cohort a late
  first day moved them from) rebuilt from their learners' days; every other cohort's stored
  rows aged to the new as-of time (`retention.cohort_retention_later`: later weeks with nobody
  active, `complete` moved);
- `learner_status`: every learner, from `accuracy_daily`'s last day per learner (cheap);
- `at_risk_snapshots` (snapshot_day): the model's stored training rows; a touched learner's
  rows from 14 days before their first changed day, and a Monday whose outcome became known for
  every learner (its overdue cards counted in SQL); `at_risk_backtest` rescored from the
  earliest changed Monday on; `at_risk_learners` from today's features, computed for every
  learner from `accuracy_daily`, the last 14 days' reviews and the cards' `next_review_at`
  (no review older than 14 days is read), scored by the model fitted on the stored snapshots.
Everything is rebuilt when the stored state says so: no state yet, a full SRS recompute
upstream, a change of pass quality, cohorts or course words, or the as-of time moving back.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as clock

import duckdb
import polars as pl

from transforms.incremental import Touched, pending, replace_keys, rows_for
from transforms.keys import LEARNER
from transforms.metrics.accuracy import accuracy_daily
from transforms.metrics.common import learner_cohorts
from transforms.metrics.group_sums import group_sums_as_of, nightly_group_sums
from transforms.metrics.progress import (
    AS_OF_COLUMNS,
    PROGRESS_COLUMNS,
    join_progress,
    progress_as_of,
    progress_history,
    streaks,
)
from transforms.metrics.retention import (
    COHORT_KEYS,
    cohort_retention,
    cohort_retention_later,
    first_days,
)
from transforms.metrics.risk import (
    HORIZON_DAYS,
    KEYS,
    RECENT_DAYS,
    RETENTION_DAYS,
    SNAPSHOT_SCHEMA,
    WINDOW_DAYS,
    History,
    RiskTables,
    at_risk_backtest,
    course_activity,
    features_at,
    labelled_snapshots,
    score_learners,
    snapshot_days,
)
from transforms.metrics.status import CHURN_DAYS, language_course, learner_status
from transforms.metrics.tables import (
    ATTEMPTS_READ,
    METRIC_TABLES,
    METRICS_CONSUMER,
    METRICS_STATE,
    REVIEWS_READ,
    WORD_PROGRESS_READ,
    MetricsRun,
    metrics_inputs_digest,
    recompute_metrics,
    record_metrics_state,
)
from transforms.sm2.store import current_words, params_used
from transforms.warehouse import query, replace_table, table_exists, transaction

DAY_KEYS = ["user_id", "language", "day"]
RECENT_REACH_DAYS = CHURN_DAYS + WINDOW_DAYS + RECENT_DAYS  # today's features read no older day
BY_LEARNER = "USING (user_id, language)"


def _from_day(column: str) -> str:
    """The join condition: a touched learner's rows on or after their first changed day."""
    return (
        "ON t.user_id = _keys.user_id AND t.language = _keys.language "
        f"AND t.{column} >= _keys.from_day"
    )


def _stored_as_of(con: duckdb.DuckDBPyConnection) -> tuple[datetime, str] | None:
    if not table_exists(con, METRICS_STATE):
        return None
    rows = query(con, f"SELECT as_of, inputs FROM {METRICS_STATE}").rows()
    return (rows[0][0], rows[0][1]) if len(rows) == 1 else None


# The cards overdue at a moment (`risk.overdue_at` over every review's spell, in SQL): each
# card's last review by then, whose due date has come.
OVERDUE_AT = """
SELECT user_id, 'lang:' || language AS course, count(*)::BIGINT AS overdue_reviews
FROM (SELECT user_id, language, arg_max_null(due_at, reviewed_at) AS due FROM reviews
      WHERE reviewed_at <= ? GROUP BY user_id, language, word_uid)
WHERE due <= ? GROUP BY ALL
"""
# Graded non-first reviews of the days whose 14-day retention a snapshot day needs.
GRADED_BETWEEN = """
SELECT user_id, 'lang:' || language AS course, reviewed_at::DATE AS day, quality >= ? AS passed
FROM reviews WHERE review_index > 1 AND reviewed_at >= ? AND reviewed_at < ? AND reviewed_at <= ?
"""
# Per learner with a card: the cards due by as of (`progress.due_counts`, in SQL).
DUE_NOW = """
SELECT user_id, language, count(*) FILTER (WHERE next_review_at <= ?)::BIGINT AS due_now
FROM word_progress GROUP BY ALL
"""


def _window_history(
    con: duckdb.DuckDBPyConnection,
    course_daily: pl.DataFrame,
    day: date,
    as_of: datetime,
    pass_quality: int,
) -> History:
    """What `features_at` needs on `day` for every learner, without every review: the daily
    activity, and the graded reviews of the 14 days up to `day` (the overdue counts are given)."""
    start = datetime.combine(day - timedelta(days=RETENTION_DAYS - 1), clock())
    end = datetime.combine(day + timedelta(days=1), clock())
    graded = query(con, GRADED_BETWEEN, [pass_quality, start, end, as_of])
    return History(course_daily, graded, None)


def _overdue_at(con: duckdb.DuckDBPyConnection, moment: datetime) -> pl.DataFrame:
    return query(con, OVERDUE_AT, [moment, moment])


def _risk_nightly(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    pass_quality: int,
    daily: pl.DataFrame,
    touched: pl.DataFrame,
    touched_reviews: pl.DataFrame,
    streak: pl.DataFrame,
    due: pl.DataFrame,
) -> tuple[RiskTables, pl.DataFrame]:
    """The at-risk tables, and the snapshot days whose `at_risk_snapshots` rows are rebuilt:
    - a snapshot day's rows of a learner not touched do not change (features as of that day,
      outcome in the 14 days after, both already known); a touched learner's rows change from
      14 days before their first changed day on, rebuilt from their own history;
    - a snapshot day not stored yet (a Monday whose outcome became known) is built for every
      learner, its overdue cards counted in SQL and its reviews read for its 14 days only;
    - the backtest is scored again from the earliest snapshot day that changed on;
    - today's features of every learner come from `accuracy_daily`, the recent reviews and the
      cards' due dates, and the model fitted on the stored snapshots scores them."""
    as_of_day = as_of.date()
    course_daily = daily.filter(pl.col("day") <= as_of_day).with_columns(
        language_course(pl.col("language")).alias("course")
    )
    days = snapshot_days(course_daily, as_of_day)
    stored = query(con, "SELECT * FROM at_risk_snapshots").filter(
        pl.col("snapshot_day").is_in(days)
    )
    stored_days = set(stored["snapshot_day"].to_list())
    new_days = [d for d in days if d not in stored_days]
    touched_courses = touched.select("user_id", language_course(pl.col("language")).alias("course"))
    parts = [stored]
    redo: list[date] = []
    if touched.height:
        since = touched["since"].min()
        assert isinstance(since, datetime)
        touched_from = since.date() - timedelta(days=HORIZON_DAYS)
        redo = [d for d in days if d in stored_days and d >= touched_from]
        if redo:
            mine = pl.col("snapshot_day") >= pl.lit(touched_from)
            is_touched = stored.join(touched_courses, on=KEYS, how="semi")
            parts = [
                stored.join(is_touched.filter(mine), on=[*KEYS, "snapshot_day"], how="anti"),
                labelled_snapshots(
                    History.of(
                        daily.join(touched.select(LEARNER), on=LEARNER, how="semi").filter(
                            pl.col("day") <= as_of_day
                        ),
                        touched_reviews,
                        pass_quality,
                    ),
                    redo,
                ),
            ]
    for day in new_days:
        parts.append(
            labelled_snapshots(
                _window_history(con, course_daily, day, as_of, pass_quality),
                [day],
                lambda moment: _overdue_at(con, moment),
            )
        )
    snapshots = (
        pl.concat(parts, how="diagonal_relaxed").select(list(SNAPSHOT_SCHEMA)).cast(SNAPSHOT_SCHEMA)  # type: ignore[arg-type]
    )
    changed = redo + new_days
    backtest = query(con, "SELECT * FROM at_risk_backtest")
    rebuilt = snapshots.head(0)
    if changed:
        from_day = min(changed)
        scored = at_risk_backtest(snapshots, from_day)
        rebuilt = scored.snapshots
        snapshots = pl.concat(
            [snapshots.filter(pl.col("snapshot_day") < from_day), rebuilt], how="vertical_relaxed"
        )
        backtest = pl.concat(
            [backtest.filter(pl.col("snapshot_day") < from_day), scored.table],
            how="vertical_relaxed",
        )
    rebuilt_days = pl.DataFrame({"snapshot_day": changed and days[days.index(min(changed)) :]})
    # today's features reach back at most 63 days for a learner not churned (idle <= 28 days,
    # then the 28 days before the last active day, or the 35 of the accuracy windows)
    recent = pl.col("day") > pl.lit(as_of_day - timedelta(days=RECENT_REACH_DAYS))
    current = features_at(
        _window_history(con, course_daily.filter(recent), as_of_day, as_of, pass_quality),
        as_of_day,
        as_of,
        overdue=due.select(
            "user_id",
            language_course(pl.col("language")).alias("course"),
            pl.col("due_now").alias("overdue_reviews"),
        ),
        streak=streak.select(
            "user_id", language_course(pl.col("language")).alias("course"), "current_streak"
        ),
    )
    status = learner_status(course_activity(course_daily), as_of_day)
    tables = RiskTables(
        status, score_learners(current, snapshots), backtest.sort("snapshot_day"), rebuilt
    )
    return tables, rebuilt_days.cast({"snapshot_day": pl.Date()})


def _streaks(
    daily: pl.DataFrame, old_progress: pl.DataFrame, touched: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    """`progress.streaks` of every learner without sorting every learner's days: the touched
    learners' from their days; another learner's days are those the stored progress saw, so
    their longest streak and last study date stand, and their current streak (the run ending on
    the last study date) stays only while that date is the as-of day or the day before."""
    columns = ["current_streak", "longest_streak", "last_study_date"]
    rebuilt = streaks(daily.join(touched, on=LEARNER, how="semi"), as_of)
    ongoing = pl.col("last_study_date") >= pl.lit(as_of.date() - timedelta(days=1))
    kept = old_progress.join(touched, on=LEARNER, how="anti").select(
        *LEARNER,
        pl.when(ongoing).then(pl.col("current_streak")).otherwise(0).alias("current_streak"),
        "longest_streak",
        "last_study_date",
    )
    return pl.concat(
        [rebuilt.select(*LEARNER, *columns), kept.cast(rebuilt.select(columns).schema)],  # type: ignore[arg-type]
        how="vertical_relaxed",
    )


def _cohort_retention(
    con: duckdb.DuckDBPyConnection,
    daily: pl.DataFrame,
    by_learner: pl.DataFrame,
    before: pl.DataFrame,
    touched: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """`cohort_retention`: the cohorts of the touched learners (now, and before a late first
    day moved them) rebuilt from their learners' days; every other cohort's stored rows brought
    to as of (`cohort_retention_later`)."""
    group = ["language", "cohort"]
    groups = pl.concat(
        [
            by_learner.join(touched, on=LEARNER, how="semi").select(group),
            before.select(group),
        ]
    ).unique()
    members = by_learner.join(groups, on=group, how="semi")
    rebuilt = cohort_retention(daily.join(members, on=LEARNER, how="semi"), members, as_of)
    stored = query(con, "SELECT * FROM cohort_retention").join(groups, on=group, how="anti")
    later = cohort_retention_later(stored, by_learner.join(groups, on=group, how="anti"), as_of)
    return pl.concat([rebuilt, later], how="vertical_relaxed").sort(COHORT_KEYS)


def update_metrics(
    con: duckdb.DuckDBPyConnection, as_of: datetime, full_refresh: bool = False
) -> MetricsRun:
    """Bring every metric table up to `as_of`: the tables `recompute_metrics` would give,
    rebuilding only the rows the pending touched cards reach when the stored state allows."""
    touched = pending(con, METRICS_CONSUMER)
    digest = metrics_inputs_digest(con, as_of)
    stored = _stored_as_of(con)
    reason = (
        "full refresh requested"
        if full_refresh
        else "no stored metrics state"
        if stored is None
        else "a metric table is missing"
        if not all(table_exists(con, t.name) for t in METRIC_TABLES)
        else "every card changed upstream (a full SRS recompute)"
        if touched is None
        else "pass quality, cohorts or course words changed"
        if stored[1] != digest
        else "as-of time moved back"
        if as_of < stored[0]
        else "the group tables' partial sums are missing or out of date"
        if group_sums_as_of(con) != stored[0]
        else ""
    )
    if reason or touched is None:
        return replace(recompute_metrics(con, as_of), reason=reason)
    return _incremental(con, as_of, touched, digest)


class Laps:
    """Seconds per named step of a run: `lap(name)` adds the time since the previous lap."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = self.steps.get(name, 0.0) + now - self._last
        self._last = now


def _incremental(
    con: duckdb.DuckDBPyConnection, as_of: datetime, touched: Touched, digest: str
) -> MetricsRun:
    lap = Laps()
    pq = params_used(con).pass_quality
    words = current_words(con, as_of)
    cohorts = query(con, "SELECT user_id, cohort FROM cohorts")
    learners = touched.learners
    learner_keys = learners.select(LEARNER)
    from_day = learners.select(*LEARNER, pl.col("since").dt.truncate("1d").alias("from_day"))
    recent_attempts = rows_for(con, ATTEMPTS_READ, from_day, _from_day("attempted_at"), [as_of])
    new_cards = rows_for(con, WORD_PROGRESS_READ, from_day, _from_day("first_attempted_at"))
    old_daily = query(con, "SELECT * FROM accuracy_daily")
    learner_cards = rows_for(con, WORD_PROGRESS_READ, learner_keys, BY_LEARNER)
    old_progress = query(con, "SELECT * FROM user_language_progress")
    due = query(con, DUE_NOW, [as_of])
    learner_reviews = rows_for(con, REVIEWS_READ, learner_keys, BY_LEARNER, [as_of])
    recent_reviews = (
        learner_reviews.join(from_day, on=LEARNER)
        .filter(pl.col("reviewed_at") >= pl.col("from_day"))
        .drop("from_day")
    )
    lap("read")

    daily_rows = accuracy_daily(recent_attempts, recent_reviews, new_cards)
    day_keys = daily_rows.select(DAY_KEYS)
    daily = pl.concat(
        [old_daily.join(day_keys, on=DAY_KEYS, how="anti"), daily_rows], how="vertical_relaxed"
    ).sort(DAY_KEYS)
    by_learner = learner_cohorts(first_days(daily), cohorts)
    before = learner_cohorts(
        first_days(old_daily.join(learner_keys, on=LEARNER, how="semi")), cohorts
    )

    cohort_of = by_learner.select(*LEARNER, "cohort")
    lap("accuracy_daily, learner_cohorts")
    group_sums = nightly_group_sums(
        con, as_of, touched.cards, cohort_of, before.select(*LEARNER, "cohort"), pq
    )
    lap("group tables from their partial sums")

    def of(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
        return frame.join(keys, on=keys.columns, how="semi")

    history_rows = progress_history(
        learner_cards,
        learner_reviews,
        daily.join(learner_keys, on=LEARNER, how="semi"),
        words,
        pq,
    )
    history_columns = [c for c in PROGRESS_COLUMNS if c not in AS_OF_COLUMNS]
    history = pl.concat(
        [
            old_progress.select(history_columns).join(learner_keys, on=LEARNER, how="anti"),
            history_rows,
        ],
        how="vertical_relaxed",
    )
    streak = _streaks(daily, old_progress, learner_keys, as_of)
    progress = join_progress(
        history, progress_as_of(due.head(0), daily, as_of, due=due, streak=streak)
    )
    lap("user_language_progress")
    risk, snapshot_keys = _risk_nightly(
        con, as_of, pq, daily, learners, learner_reviews, streak, due
    )
    lap("learner_status, at_risk_*")
    retention_by_cohort = _cohort_retention(con, daily, by_learner, before, learner_keys, as_of)
    lap("cohort_retention")
    # A group's rows depend on that group's input rows only, and the inputs hold every row of
    # the touched groups (and more): build over them and keep the touched groups' output rows,
    # rather than filtering millions of input rows by key.
    grouped = {
        "accuracy_daily": (daily_rows, day_keys),
        "at_risk_snapshots": (risk.snapshots, snapshot_keys),
    }
    grouped = {name: (of(frame, keys), keys) for name, (frame, keys) in grouped.items()}
    grouped |= group_sums.published()
    lap("accuracy_daily, at_risk_snapshots rows")
    whole = {
        "cohort_retention": retention_by_cohort,
        "learner_cohorts": by_learner.select(*LEARNER, "first_day", "cohort").sort(LEARNER),
        "user_language_progress": progress,
        "learner_status": risk.status,
        "at_risk_learners": risk.at_risk,
        "at_risk_backtest": risk.backtest,
    }
    with transaction(con):
        for name, (frame, keys) in grouped.items():
            replace_keys(con, name, frame, keys)
        for name, frame in whole.items():
            replace_table(con, name, frame)
        record_metrics_state(con, as_of, digest)
        group_sums.write_sums(con, as_of)
    lap("write")
    tables = {name: frame for name, (frame, _) in grouped.items()} | whole
    steps = lap.steps
    read = sum(v for k, v in steps.items() if k.startswith("read"))
    return MetricsRun(
        tables,
        read,
        sum(steps.values()) - read - steps["write"],
        steps["write"],
        mode="incremental",
        reason=f"{learners.height} touched learner(s), {touched.cards.height} card(s)",
        steps=steps,
    )
