"""The nightly metrics run: rebuild only the rows that the cards the SRS step changed reach
(`transforms.incremental`), and give the tables a full recompute would.

What a nightly run rebuilds, table by table (keys in brackets):
- `accuracy_daily` (user_id, language, day): each touched learner's days from the day of their
  earliest changed attempt on (a card's first attempt can only move to such a day);
- `user_language_progress` (user_id, language): the history columns of the touched learners,
  from their cards (`word_progress`) and the stored per-learner and per-card state
  (`learner_state.py`: attempt totals, first reviews), never their reviews; the as-of columns
  (`AS_OF_COLUMNS`: due now, today's words, streaks) of every learner, from that state, the
  as-of day's `accuracy_daily` rows and the cards' `next_review_at`;
- `learner_history_state` (user_id, language): every learner's first and last day, last run,
  longest streak and attempt totals, the touched learners' advanced from their changed days;
  `card_first_reviews` (card): the touched cards whose first review the night replayed;
- `true_retention` (language, cohort, period_week): the weeks of the touched learners' changed
  attempts in their cohort, and every week of both cohorts for a learner whose cohort moved;
- `word_difficulty` (language, word_uid): the touched words; `accuracy_by_step` (language,
  step_type) and `forgetting_curve` (language): the groups of the changed attempts, and their
  per-cohort forms (`accuracy_by_step_cohort`, `forgetting_curve_cohort`) every cohort of them;
- `learner_cohorts`: whole, from `learner_history_state`'s first days (one row per learner);
- `cohort_retention` (language, cohort): the cohorts of a learner whose first day a late file
  moved (and the cohort it moved them from) rebuilt from their learners' days; every other
  cohort from its stored counts plus the weeks the night made its touched learners active in
  (`retention.cohort_retention_moved_on`), `complete` and new weeks moved to the as-of time;
- `learner_status`: every learner, from `learner_history_state`'s last days (cheap);
- `at_risk_snapshots` (snapshot_day): the model's stored training rows; a touched learner's
  rows from 14 days before their first changed day, and a Monday whose outcome became known for
  every learner (from the days around it and the cards' state); `at_risk_backtest` rescored from the
  earliest changed Monday on; `at_risk_learners` from today's features, computed for every
  learner from `accuracy_daily`, the last 14 days' reviews and the cards' `next_review_at`
  (no review older than 14 days is read), scored by the model fitted on the stored snapshots.
A night reads the touched learners' rows from their first changed day on, the last 63 days of
`accuracy_daily`, one row per learner and per touched learner's card: flat as the history
grows. A night that adds a snapshot Monday reads the 77 days around it, its 14 days' reviews
and the cards' state (`_new_snapshot`): a card reviewed since the Monday has its due date then
from its first review after it (`OVERDUE_AT`). Only a night whose late file
reaches a stored snapshot or moves a learner's first day reads those learners' whole histories
(`DaysOf.of_learners`, `touched_reviews`).
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
from transforms.keys import CARD, LEARNER
from transforms.metrics.accuracy import accuracy_daily
from transforms.metrics.common import learner_cohorts
from transforms.metrics.group_sums import group_sums_as_of, nightly_group_sums
from transforms.metrics.learner_state import (
    CARD_STATE,
    LEARNER_STATE,
    STATE_GRAINS,
    advance_learner_state,
    changed_first_reviews,
    keep_scorer,
    kept_scorer,
    needs_earlier_days,
    streaks_from_state,
    write_learner_state,
)
from transforms.metrics.progress import (
    HISTORY_COLUMNS,
    history_columns,
    join_progress,
    progress_as_of,
    streaks,
)
from transforms.metrics.retention import (
    COHORT_KEYS,
    cohort_retention,
    cohort_retention_moved_on,
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
    fit_scorer,
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
DAILY_READ = "SELECT * FROM accuracy_daily"
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


# The cards overdue at a moment (`risk.overdue_at` over every review's spell), in SQL, from
# the cards' state and the reviews after the moment only: a card's last review by the moment
# is its last review (`word_progress.next_review_at` is its due date) when none came after,
# else the review just before its first one after the moment, whose due date that first one
# gives back exactly: the kernel's elapsed time and interval before it are whole microseconds
# over microseconds per day, `rint` of them times 86,400,000,000 (`round_even`) restores them.
OVERDUE_AT = """
WITH after AS (
  SELECT user_id, language, word_uid,
    reviewed_at - to_microseconds(round_even(elapsed_days * 86400000000, 0)::BIGINT)
      + to_microseconds(round_even(interval_before * 86400000000, 0)::BIGINT) AS due
  FROM reviews WHERE reviewed_at > ?
  QUALIFY row_number() OVER (PARTITION BY user_id, language, word_uid ORDER BY review_index) = 1),
due AS (
  SELECT user_id, language, due FROM after
  UNION ALL
  SELECT user_id, language, next_review_at FROM word_progress ANTI JOIN after
    USING (user_id, language, word_uid))
SELECT user_id, 'lang:' || language AS course, count(*)::BIGINT AS overdue_reviews
FROM due WHERE due <= ? GROUP BY ALL
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


class DaysOf:
    """A night's `accuracy_daily` after its rebuilt rows (`rows`: the touched learners' days
    from their first changed day on) and every learner's `learner_history_state` (`state`):
    the recent days every night needs, read once; the days in a range (a new snapshot day), some
    learners' every day and the touched learners' every review, read when a night asks for them
    (a rebuilt snapshot day, a cohort rebuilt from its learners' days)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        as_of: datetime,
        state: pl.DataFrame,
        rows: pl.DataFrame,
        learner_keys: pl.DataFrame,
        old_rows: pl.DataFrame,
        before_state: pl.DataFrame,
    ) -> None:
        self.con, self.as_of, self.state, self.rows, self.learner_keys = (
            con,
            as_of,
            state,
            rows,
            learner_keys,
        )
        self.old_rows = old_rows  # the touched learners' rows the night replaces
        self.before_state = before_state  # the touched learners' stored state
        cutoff = as_of.date() - timedelta(days=RECENT_REACH_DAYS)
        recent = query(con, "SELECT * FROM accuracy_daily WHERE day > ?", [cutoff])
        self.recent = self._merged(recent, rows.filter(pl.col("day") > pl.lit(cutoff)))
        self._reviews: pl.DataFrame | None = None

    def _merged(self, old: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
        """The stored `old` days with the night's `rows` in place of theirs, in no order (every
        reader groups, or sorts what it needs in order)."""
        return pl.concat(
            [old.join(self.rows.select(DAY_KEYS), on=DAY_KEYS, how="anti"), rows],
            how="vertical_relaxed",
        )

    def between(self, start: date, end: date) -> pl.DataFrame:
        """Every learner's days after `start` up to `end`."""
        day = pl.col("day")
        return self._merged(
            query(self.con, f"{DAILY_READ} WHERE day > ? AND day <= ?", [start, end]),
            self.rows.filter((day > pl.lit(start)) & (day <= pl.lit(end))),
        )

    def of_learners(self, learners: pl.DataFrame) -> pl.DataFrame:
        """Every day of `learners` (user_id, language, ...)."""
        keys = learners.select(LEARNER).unique()
        return self._merged(
            rows_for(self.con, "SELECT * FROM accuracy_daily", keys, BY_LEARNER),
            self.rows.join(keys, on=LEARNER, how="semi"),
        )

    def touched_reviews(self) -> pl.DataFrame:
        """The touched learners' every review."""
        if self._reviews is None:
            self._reviews = rows_for(
                self.con, REVIEWS_READ, self.learner_keys, BY_LEARNER, [self.as_of]
            )
        return self._reviews


# The touched learners' cards with what their history columns need (`history_columns`).
PROGRESS_CARDS_READ = (
    "SELECT user_id, language, word_uid, interval_days, repetitions, reviews, lapses "
    "FROM word_progress"
)


def _progress_history(
    cards: pl.DataFrame,
    first_reviews: pl.DataFrame,
    state: pl.DataFrame,
    current_words: pl.DataFrame,
) -> pl.DataFrame:
    """`progress_history` of the touched learners from their cards and state, not their
    reviews: a card's last review passed exactly when SM-2 left its `repetitions` above 0 (a
    pass adds one, a fail sets 0); its graded non-first reviews are `reviews` - 1, of which
    `lapses` failed, less the first review's fail (`card_first_reviews`); accuracy from the
    stored attempt totals."""
    with_first = cards.join(first_reviews, on=CARD, how="left")
    graded = (
        with_first.group_by(LEARNER)
        .agg(
            (pl.col("reviews").cast(pl.Int64) - 1).sum().alias("_graded"),
            (
                pl.col("reviews").cast(pl.Int64)
                - 1
                - pl.col("lapses").cast(pl.Int64)
                + (~pl.col("first_passed")).cast(pl.Int64)
            )
            .sum()
            .alias("_passed"),
        )
        .filter(pl.col("_graded") > 0)
        .select(*LEARNER, (pl.col("_passed") / pl.col("_graded")).alias("true_retention"))
    )
    return history_columns(
        cards.with_columns((pl.col("repetitions") > 0).alias("_learned")),
        state.select(
            *LEARNER, pl.col("correct").alias("_correct"), pl.col("attempts").alias("_attempts")
        ),
        graded,
        current_words,
    )


def _new_snapshot(
    con: duckdb.DuckDBPyConnection, days_of: DaysOf, day: date, pass_quality: int
) -> pl.DataFrame:
    """`labelled_snapshots` of a snapshot day not stored yet, for every learner, from the days
    its features and label reach (`RECENT_REACH_DAYS` before it to `HORIZON_DAYS` after), its
    14 days' graded reviews and its overdue cards counted from the cards' state: a day's cost
    follows the learners, not their histories. A learner not churned that day was active in
    the 28 days before it, so the 63 days hold every feature but a current streak that fills
    them (`_streaks_on`)."""
    as_of = days_of.as_of
    start = day - timedelta(days=RECENT_REACH_DAYS)
    end = min(day + timedelta(days=HORIZON_DAYS), as_of.date())
    window = days_of.between(start, end)

    streak = _streaks_on(days_of, window.filter(pl.col("day") <= day), day, start)
    history = _window_history(
        con,
        window.with_columns(language_course(pl.col("language")).alias("course")),
        day,
        as_of,
        pass_quality,
    )
    return labelled_snapshots(
        history,
        [day],
        lambda moment: _overdue_at(con, moment),
        lambda _: streak.select(
            "user_id", language_course(pl.col("language")).alias("course"), "current_streak"
        ),
    )


def _streaks_on(days_of: DaysOf, days: pl.DataFrame, day: date, start: date) -> pl.DataFrame:
    """(user_id, language, current_streak) on `day`, from every learner's `days` after `start`
    up to `day`: a run that reaches back to the first of them may begin earlier. When it is
    the learner's last run (`learner_history_state`: it began by then and lasts to its last
    day), it began on the stored `run_start`; else (a gap since) that learner's whole days
    give it."""
    on = streaks(days, datetime.combine(day, clock()))
    began = pl.col("last_study_date") - pl.duration(days=pl.col("current_streak") - 1)
    reaching = on.filter((pl.col("current_streak") > 0) & (began <= pl.lit(start + timedelta(1))))
    state = days_of.state.select(*LEARNER, "run_start", "last_day")
    last_run = reaching.join(state, on=LEARNER).filter(
        (pl.col("run_start") <= pl.lit(start + timedelta(1)))
        & (pl.col("last_day") >= pl.col("last_study_date"))
    )
    from_state = last_run.select(
        *LEARNER,
        ((pl.col("last_study_date") - pl.col("run_start")).dt.total_days() + 1)
        .cast(pl.Int32)
        .alias("current_streak"),
    )
    other = reaching.join(last_run, on=LEARNER, how="anti")
    whole = (
        streaks(
            days_of.of_learners(other).filter(pl.col("day") <= day),
            datetime.combine(day, clock()),
        ).select(*LEARNER, pl.col("current_streak").cast(pl.Int32))
        if other.height
        else from_state.head(0)
    )
    return pl.concat(
        [
            on.join(reaching, on=LEARNER, how="anti").select(
                *LEARNER, pl.col("current_streak").cast(pl.Int32)
            ),
            from_state,
            whole,
        ]
    )


def _risk_nightly(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    stored_as_of: datetime,
    pass_quality: int,
    days_of: DaysOf,
    touched: pl.DataFrame,
    streak: pl.DataFrame,
    due: pl.DataFrame,
) -> tuple[RiskTables, pl.DataFrame]:
    """The at-risk tables with the scorer of today's learners (`RiskTables.scorer`: kept
    from the last run, as of `stored_as_of`, while no snapshot changes), and the snapshot days
    whose `at_risk_snapshots` rows are rebuilt:
    - a snapshot day's rows of a learner not touched do not change (features as of that day,
      outcome in the 14 days after, both already known); a touched learner's rows change from
      14 days before their first changed day on, rebuilt from their own history;
    - a snapshot day not stored yet (a Monday whose outcome became known) is built for every
      learner, its overdue cards counted in SQL and its reviews read for its 14 days only;
    - the backtest is scored again from the earliest snapshot day that changed on;
    - today's features of every learner come from `accuracy_daily`, the recent reviews and the
      cards' due dates, and the model fitted on the stored snapshots scores them.
    Only a night that rebuilds a stored snapshot day reads whole histories: the touched
    learners' (`days_of`)."""
    as_of_day = as_of.date()

    def with_course(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("day") <= as_of_day).with_columns(
            language_course(pl.col("language")).alias("course")
        )

    days = snapshot_days(days_of.state.select(pl.col("first_day").alias("day")), as_of_day)
    stored_days = set(
        query(con, "SELECT DISTINCT snapshot_day FROM at_risk_snapshots")["snapshot_day"]
    ).intersection(days)
    new_days = [d for d in days if d not in stored_days]
    since = touched["since"].min() if touched.height else None
    assert since is None or isinstance(since, datetime)
    reaches = since is not None and any(
        d >= since.date() - timedelta(days=HORIZON_DAYS) for d in stored_days
    )
    kept = None if new_days or reaches else kept_scorer(con, stored_as_of)
    # no snapshot changes: the kept scorer scores, and no snapshot row is read
    stored = (
        query(con, "SELECT * FROM at_risk_snapshots").filter(pl.col("snapshot_day").is_in(days))
        if kept is None
        else pl.DataFrame(schema=SNAPSHOT_SCHEMA)
    )
    touched_courses = touched.select("user_id", language_course(pl.col("language")).alias("course"))
    parts = [stored]
    redo: list[date] = []
    if since is not None:
        touched_from = since.date() - timedelta(days=HORIZON_DAYS)
        redo = [d for d in days if d in stored_days and d >= touched_from]
        if redo:
            mine = pl.col("snapshot_day") >= pl.lit(touched_from)
            is_touched = stored.join(touched_courses, on=KEYS, how="semi")
            parts = [
                stored.join(is_touched.filter(mine), on=[*KEYS, "snapshot_day"], how="anti"),
                labelled_snapshots(
                    History.of(
                        days_of.of_learners(touched).filter(pl.col("day") <= as_of_day),
                        days_of.touched_reviews(),
                        pass_quality,
                    ),
                    redo,
                ),
            ]
    for day in new_days:
        parts.append(_new_snapshot(con, days_of, day, pass_quality))
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
    current = features_at(
        _window_history(con, with_course(days_of.recent), as_of_day, as_of, pass_quality),
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
    status = learner_status(
        course_activity(days_of.state.select(*LEARNER, pl.col("last_day").alias("day"))),
        as_of_day,
    )
    scorer = fit_scorer(snapshots) if kept is None else kept
    tables = RiskTables(
        status, score_learners(current, scorer), backtest.sort("snapshot_day"), rebuilt, scorer
    )
    return tables, rebuilt_days.cast({"snapshot_day": pl.Date()})


def _learner_days(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    learners: pl.DataFrame,
    from_day: pl.DataFrame,
    night: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
    cohorts: pl.DataFrame,
) -> tuple[pl.DataFrame, DaysOf, pl.DataFrame]:
    """The touched learners' rebuilt `accuracy_daily` rows (from the night's attempts, reviews
    and new cards), every learner's `learner_history_state` after the night, the night's view of
    `accuracy_daily`, and the touched learners' cohorts before the night. Reads the stored
    state, the touched learners' old rows of their changed days, and (a late file only) the days
    before them."""
    stored = query(con, f"SELECT * FROM {LEARNER_STATE}")
    learner_keys = learners.select(LEARNER)
    # the earliest changed day bounds the scan first (a column filter, before the key join)
    old_rows = rows_for(
        con,
        f"{DAILY_READ} WHERE day >= ?",
        from_day,
        _from_day("day"),
        [from_day["from_day"].cast(pl.Date).min()],
    )
    daily_rows = accuracy_daily(*night)
    earlier = needs_earlier_days(stored, from_day)
    earlier_days = rows_for(
        con,
        "SELECT user_id, language, day FROM accuracy_daily",
        earlier,
        "ON t.user_id = _keys.user_id AND t.language = _keys.language AND t.day < _keys.from_day",
    )
    touched_stored = stored.join(learner_keys, on=LEARNER, how="semi")
    advanced = advance_learner_state(touched_stored, from_day, old_rows, daily_rows, earlier_days)
    state = pl.concat([stored.join(learner_keys, on=LEARNER, how="anti"), advanced]).sort(LEARNER)
    before = learner_cohorts(touched_stored.select(*LEARNER, "first_day"), cohorts)
    days_of = DaysOf(con, as_of, state, daily_rows, learner_keys, old_rows, touched_stored)
    return daily_rows, days_of, before


def _touched_progress_history(
    con: duckdb.DuckDBPyConnection,
    touched: Touched,
    night_reviews: pl.DataFrame,
    state: pl.DataFrame,
    current_words: pl.DataFrame,
    pass_quality: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The touched learners' history columns of `user_language_progress`, and the
    `card_first_reviews` rows the night changed; reads their cards and cards' state."""
    keys = touched.learners.select(LEARNER)
    cards = rows_for(con, PROGRESS_CARDS_READ, keys, BY_LEARNER)
    stored_first = rows_for(con, f"SELECT * FROM {CARD_STATE}", keys, BY_LEARNER)
    changed = changed_first_reviews(night_reviews, touched.cards, pass_quality)
    first = pl.concat([stored_first.join(changed, on=CARD, how="anti"), changed])
    history = _progress_history(
        cards, first, state.join(keys, on=LEARNER, how="semi"), current_words
    )
    return history, changed


def _studied_today(days_of: DaysOf) -> pl.DataFrame:
    """(user_id, language, words_studied_today) of every learner (0 without a row today)."""
    today = days_of.recent.filter(pl.col("day") == pl.lit(days_of.as_of.date()))
    studied = today.group_by(LEARNER).agg(
        pl.col("words_studied").sum().cast(pl.Int64).alias("words_studied_today")
    )
    return (
        days_of.state.select(LEARNER)
        .join(studied, on=LEARNER, how="left")
        .with_columns(pl.col("words_studied_today").fill_null(0))
    )


def _week_changes(
    con: duckdb.DuckDBPyConnection, days_of: DaysOf, kept: pl.DataFrame, from_day: pl.DataFrame
) -> pl.DataFrame:
    """(language, cohort, week_offset, active, on_or_after): per touched learner whose first
    day stands (`kept`: user_id, language, cohort, first_day) and per week of theirs from the
    week of their first changed day on, 1 where the night made them active in the week, and
    where it made them active in it or later. A new learner counts from week 0. Reads their
    days in that week before their first changed day (at most six per learner)."""
    offset = ((pl.col("day") - pl.col("first_day")).dt.total_days() // 7).cast(pl.Int32)
    keys = kept.join(from_day, on=LEARNER).with_columns(
        pl.col("from_day").cast(pl.Date),
        (
            pl.col("first_day")
            + pl.duration(
                days=(pl.col("from_day").cast(pl.Date) - pl.col("first_day")).dt.total_days()
                // 7
                * 7
            )
        ).alias("week_day"),
    )
    before_from = rows_for(
        con,
        "SELECT user_id, language, day FROM accuracy_daily",
        keys.select(*LEARNER, "week_day", "from_day"),
        "ON t.user_id = _keys.user_id AND t.language = _keys.language "
        "AND t.day >= _keys.week_day AND t.day < _keys.from_day",
    )

    def weeks(days: pl.DataFrame) -> pl.DataFrame:
        return (
            days.join(kept, on=LEARNER)
            .select(*LEARNER, "cohort", offset.alias("week_offset"))
            .unique()
        )

    had = pl.concat([weeks(days_of.old_rows), weeks(before_from)]).unique()
    active = weeks(days_of.rows).join(had, on=[*LEARNER, "cohort", "week_offset"], how="anti")
    old_last = days_of.before_state.select(*LEARNER, pl.col("last_day").alias("_old_last"))
    last = (
        days_of.state.join(kept, on=LEARNER)
        .join(old_last, on=LEARNER, how="left")
        .select(
            "language",
            "cohort",
            pl.int_ranges(
                ((pl.col("_old_last") - pl.col("first_day")).dt.total_days() // 7 + 1).fill_null(0),
                (pl.col("last_day") - pl.col("first_day")).dt.total_days() // 7 + 1,
                dtype=pl.Int32,
            ).alias("week_offset"),
        )
        .explode("week_offset")
        .drop_nulls("week_offset")
    )
    return pl.concat(
        [
            active.select(
                "language",
                "cohort",
                "week_offset",
                pl.lit(1).alias("active"),
                pl.lit(0).alias("on_or_after"),
            ),
            last.select(
                "language",
                "cohort",
                "week_offset",
                pl.lit(0).alias("active"),
                pl.lit(1).alias("on_or_after"),
            ),
        ]
    )


def _cohort_retention(
    con: duckdb.DuckDBPyConnection,
    days_of: DaysOf,
    by_learner: pl.DataFrame,
    before: pl.DataFrame,
    from_day: pl.DataFrame,
    as_of: datetime,
) -> pl.DataFrame:
    """`cohort_retention`: the cohorts of a learner whose first day moved (a late file; now,
    and before) rebuilt from their learners' days; every other cohort from its stored rows and
    the weeks the night made its touched learners active in (`cohort_retention_moved_on`)."""
    group = ["language", "cohort"]
    touched = by_learner.join(from_day, on=LEARNER, how="semi")
    moved = touched.join(
        before.select(*LEARNER, pl.col("first_day").alias("_before")), on=LEARNER
    ).filter(pl.col("first_day") != pl.col("_before"))
    groups = pl.concat(
        [
            moved.select(group),
            before.join(moved, on=LEARNER, how="semi").select(group),
        ]
    ).unique()
    stored = query(con, "SELECT * FROM cohort_retention").join(groups, on=group, how="anti")
    kept = touched.join(moved, on=LEARNER, how="anti").select(*LEARNER, "cohort", "first_day")
    moved_on = cohort_retention_moved_on(
        stored,
        by_learner.join(groups, on=group, how="anti"),
        _week_changes(con, days_of, kept, from_day),
        as_of,
    )
    if groups.height == 0:
        return moved_on
    members = by_learner.join(groups, on=group, how="semi")
    rebuilt = cohort_retention(days_of.of_learners(members), members, as_of)
    return pl.concat([rebuilt, moved_on], how="vertical_relaxed").sort(COHORT_KEYS)


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
        if not all(table_exists(con, t) for t in (*(t.name for t in METRIC_TABLES), *STATE_GRAINS))
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
    if reason or touched is None or stored is None:
        return replace(recompute_metrics(con, as_of), reason=reason)
    return _incremental(con, as_of, touched, digest, stored[0])


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
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    touched: Touched,
    digest: str,
    stored_as_of: datetime,
) -> MetricsRun:
    """A night from the state stored as of `stored_as_of` (the metric tables', the partial
    sums' and the kept scorer's)."""
    lap = Laps()
    pq = params_used(con).pass_quality
    words = current_words(con, as_of)
    cohorts = query(con, "SELECT user_id, cohort FROM cohorts")
    learners = touched.learners
    learner_keys = learners.select(LEARNER)
    from_day = learners.select(*LEARNER, pl.col("since").dt.truncate("1d").alias("from_day"))
    recent_attempts = rows_for(con, ATTEMPTS_READ, from_day, _from_day("attempted_at"), [as_of])
    new_cards = rows_for(con, WORD_PROGRESS_READ, from_day, _from_day("first_attempted_at"))
    old_progress = query(con, "SELECT * FROM user_language_progress")
    due = query(con, DUE_NOW, [as_of])
    recent_reviews = rows_for(con, REVIEWS_READ, from_day, _from_day("reviewed_at"), [as_of])
    lap("read")
    daily_rows, days_of, before = _learner_days(
        con, as_of, learners, from_day, (recent_attempts, recent_reviews, new_cards), cohorts
    )
    state = days_of.state
    day_keys = daily_rows.select(DAY_KEYS)
    by_learner = learner_cohorts(state.select(*LEARNER, "first_day"), cohorts)
    lap("accuracy_daily, learner_history_state")

    cohort_of = by_learner.select(*LEARNER, "cohort")
    group_sums = nightly_group_sums(
        con, as_of, stored_as_of, touched.cards, cohort_of, before.select(*LEARNER, "cohort"), pq
    )
    lap("group tables from their partial sums")

    def of(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
        return frame.join(keys, on=keys.columns, how="semi")

    history_rows, first_reviews = _touched_progress_history(
        con, touched, recent_reviews, state, words, pq
    )
    history = pl.concat(
        [
            old_progress.select(HISTORY_COLUMNS).join(learner_keys, on=LEARNER, how="anti"),
            history_rows,
        ],
        how="vertical_relaxed",
    )
    streak = streaks_from_state(state, as_of)
    progress = join_progress(
        history,
        progress_as_of(
            due.head(0), daily_rows, as_of, due=due, streak=streak, today=_studied_today(days_of)
        ),
    )
    lap("user_language_progress")
    risk, snapshot_keys = _risk_nightly(
        con, as_of, stored_as_of, pq, days_of, learners, streak, due
    )
    lap("learner_status, at_risk_*")
    retention_by_cohort = _cohort_retention(con, days_of, by_learner, before, from_day, as_of)
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
        write_learner_state(con, state, first_reviews)
        keep_scorer(con, as_of, risk.scorer)
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
