"""What the nightly metrics run keeps per learner and per card, so that a night reads the rows
that changed and this small state, never a touched learner's whole history.

- `learner_history_state`, one row per (user_id, language) with an attempt: `first_day`,
  `last_day`, `run_start` (the first day of the run of consecutive study days ending on
  `last_day`), `longest_streak`, and the learner's `attempts` and `correct` over all days.
- `card_first_reviews`, one row per card (user_id, language, word_uid) with a graded review:
  `first_passed`, whether its first graded review passed.

A night advances them exactly (the tests compare with a full recompute): attempts are never
removed, so a touched learner's days before their first changed day (`from_day`) stand, and the
days from it on are the rebuilt `accuracy_daily` rows. The totals take the old rows of those
days off and the new ones on; the streak runs need only the stored last run, whose days are
consecutive, unless a late file lands before its first day (then that learner's earlier days
are read). SM-2 is causal per card, so a card's first review changes only when it lies
at or after the card's `since`, and then it is among the night's reviews.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta

import duckdb
import polars as pl

from transforms.incremental import replace_keys
from transforms.keys import CARD, LEARNER
from transforms.metrics.risk import Scorer
from transforms.warehouse import query, replace_table, table_exists

LEARNER_STATE = "learner_history_state"
CARD_STATE = "card_first_reviews"
STATE_GRAINS: dict[str, str] = {
    LEARNER_STATE: "One row per (user_id, language) with an attempt: first and last study day, "
    "the first day of the run of study days ending on the last, the longest such run, and "
    "attempts and correct over all days (the nightly run's per-learner state).",
    CARD_STATE: "One row per card (user_id, language, word_uid) with a graded review: whether "
    "its first graded review passed (the nightly run's per-card state).",
}
SCORER_STATE = "at_risk_scorer"
# the state a night may go without (it is then rebuilt): declared with the tables above
KEPT_GRAINS: dict[str, str] = {
    **STATE_GRAINS,
    SCORER_STATE: "One row: the at-risk model fitted on every stored snapshot and its flag "
    "threshold (pickled `risk.Scorer`), and the as-of time of the run that fitted it; a night "
    "whose snapshots did not change scores with it rather than fit again.",
}
LEARNER_STATE_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "language": pl.String(),
    "first_day": pl.Date(),
    "last_day": pl.Date(),
    "run_start": pl.Date(),
    "longest_streak": pl.Int32(),
    "attempts": pl.Int64(),
    "correct": pl.Int64(),
}


def _runs(segments: pl.DataFrame) -> pl.DataFrame:
    """Per learner, from segments of consecutive study days (user_id, language, start, end):
    `first_day`, `last_day`, `run_start` (start of the last run), `longest_run`."""
    runs = (
        segments.sort(*LEARNER, "start")
        .with_columns(
            (
                pl.col("start")
                > (pl.col("end").cum_max().shift(1).over(LEARNER) + pl.duration(days=1))
            )
            .fill_null(True)
            .cum_sum()
            .over(LEARNER)
            .alias("_run")
        )
        .group_by(*LEARNER, "_run")
        .agg(pl.col("start").min(), pl.col("end").max())
        .with_columns(((pl.col("end") - pl.col("start")).dt.total_days() + 1).alias("_length"))
    )
    return runs.group_by(LEARNER).agg(
        pl.col("start").min().alias("first_day"),
        pl.col("end").max().alias("last_day"),
        pl.col("start").sort_by("end").last().alias("run_start"),
        pl.col("_length").max().cast(pl.Int32).alias("longest_run"),
    )


def learner_history_state(daily: pl.DataFrame) -> pl.DataFrame:
    """`learner_history_state` from the whole `accuracy_daily` (a full recompute)."""
    days = daily.select(*LEARNER, pl.col("day").alias("start"), pl.col("day").alias("end"))
    totals = daily.group_by(LEARNER).agg(pl.col("attempts", "correct").sum())
    return (
        _runs(days)
        .rename({"longest_run": "longest_streak"})
        .join(totals, on=LEARNER)
        .select(list(LEARNER_STATE_SCHEMA))
        .cast(LEARNER_STATE_SCHEMA)  # type: ignore[arg-type]
        .sort(LEARNER)
    )


def needs_earlier_days(stored: pl.DataFrame, from_day: pl.DataFrame) -> pl.DataFrame:
    """(user_id, language, from_day): the touched learners whose changed days reach back before
    the first day of their stored last run (a late file): their earlier days are read. (From
    that first day on, the day before it stays without study, so every earlier run stands.)"""
    return (
        from_day.join(stored.select(*LEARNER, "run_start"), on=LEARNER)
        .filter(pl.col("from_day").cast(pl.Date) < pl.col("run_start"))
        .select(*LEARNER, "from_day")
    )


def advance_learner_state(
    stored: pl.DataFrame,
    from_day: pl.DataFrame,
    old_rows: pl.DataFrame,
    new_rows: pl.DataFrame,
    earlier_days: pl.DataFrame,
) -> pl.DataFrame:
    """The touched learners' `learner_history_state` rows after a night.

    `stored`: their stored rows (none for a new learner); `from_day` (user_id, language,
    from_day): their first changed day; `old_rows` / `new_rows`: their `accuracy_daily` rows
    from that day on, before and after the night; `earlier_days` (user_id, language, day): the
    days before `from_day` of the learners `needs_earlier_days` names."""
    starts = from_day.select(*LEARNER, pl.col("from_day").cast(pl.Date))
    late = earlier_days.select(LEARNER).unique()
    prior = stored.join(starts, on=LEARNER).join(late, on=LEARNER, how="anti")
    # the stored last run's days before from_day: consecutive, one segment
    kept_run = prior.select(
        *LEARNER,
        pl.col("run_start").alias("start"),
        pl.min_horizontal("last_day", pl.col("from_day") - pl.duration(days=1)).alias("end"),
    ).filter(pl.col("start") <= pl.col("end"))
    segments = pl.concat(
        [
            kept_run,
            earlier_days.select(*LEARNER, pl.col("day").alias("start"), pl.col("day").alias("end")),
            new_rows.select(*LEARNER, pl.col("day").alias("start"), pl.col("day").alias("end")),
        ]
    )
    runs = _runs(segments)

    def total(rows: pl.DataFrame, sign: int) -> pl.DataFrame:
        return rows.select(
            *LEARNER, (pl.col("attempts") * sign).alias("attempts"), pl.col("correct") * sign
        )

    totals = (
        pl.concat(
            [
                total(stored.join(starts, on=LEARNER, how="semi"), 1),
                total(old_rows, -1),
                total(new_rows, 1),
            ],
            how="vertical_relaxed",
        )
        .group_by(LEARNER)
        .agg(pl.col("attempts", "correct").sum())
    )
    before = stored.select(
        *LEARNER,
        pl.col("first_day").alias("_first"),
        pl.col("longest_streak").alias("_longest"),
        pl.col("last_day").alias("_last"),
    ).join(late, on=LEARNER, how="anti")  # a late learner's runs are all rebuilt
    return (
        runs.join(before, on=LEARNER, how="left")
        .join(totals, on=LEARNER, how="left")
        .with_columns(
            pl.min_horizontal("first_day", "_first").alias("first_day"),
            pl.max_horizontal("longest_run", "_longest").alias("longest_streak"),
        )
        .select(list(LEARNER_STATE_SCHEMA))
        .cast(LEARNER_STATE_SCHEMA)  # type: ignore[arg-type]
        .sort(LEARNER)
    )


def streaks_from_state(state: pl.DataFrame, as_of: datetime) -> pl.DataFrame:
    """`progress.streaks` of every learner from their state: the current streak is the last
    run while its last day is the as-of day or the day before."""
    ongoing = pl.col("last_day") >= pl.lit(as_of.date() - timedelta(days=1))
    length = (pl.col("last_day") - pl.col("run_start")).dt.total_days() + 1
    return state.select(
        *LEARNER,
        pl.when(ongoing).then(length).otherwise(0).cast(pl.Int32).alias("current_streak"),
        pl.col("longest_streak").cast(pl.Int32),
        pl.col("last_day").alias("last_study_date"),
    )


def card_first_reviews(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """`card_first_reviews` from reviews holding every card's first (`review_index` 1)."""
    return (
        reviews.filter(pl.col("review_index") == 1)
        .select(*CARD, (pl.col("quality") >= pass_quality).alias("first_passed"))
        .sort(CARD)
    )


def changed_first_reviews(
    night_reviews: pl.DataFrame, cards: pl.DataFrame, pass_quality: int
) -> pl.DataFrame:
    """The `card_first_reviews` rows a night rewrites: the touched `cards` (with `since`) whose
    first review is among the night's reviews at or after their `since`."""
    first = night_reviews.filter(pl.col("review_index") == 1).join(
        cards.select(*CARD, "since"), on=CARD
    )
    return card_first_reviews(first.filter(pl.col("reviewed_at") >= pl.col("since")), pass_quality)


def write_learner_state(
    con: duckdb.DuckDBPyConnection,
    state: pl.DataFrame,
    first_reviews: pl.DataFrame,
    whole: bool = False,
) -> None:
    """Inside the metrics' writing transaction: every learner's state, and the
    `card_first_reviews` rows given (`whole`: they are the whole table, after a full
    recompute; else they replace their cards' rows)."""
    replace_table(con, LEARNER_STATE, state)
    if whole:
        replace_table(con, CARD_STATE, first_reviews)
    else:
        replace_keys(con, CARD_STATE, first_reviews, first_reviews.select(CARD))


def forget_learner_state(con: duckdb.DuckDBPyConnection) -> None:
    """A writer of the metric tables that keeps no such state (the sharded fan-in) drops it,
    so the next nightly run recomputes everything rather than advance a stale state."""
    for table in KEPT_GRAINS:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')


def kept_scorer(con: duckdb.DuckDBPyConnection, stored_as_of: datetime) -> Scorer | None:
    """The at-risk scorer the last run fitted, when that run left the tables: its as-of time
    is the stored one (`stored_as_of`: `metrics_state`'s as-of)."""
    if not table_exists(con, SCORER_STATE):
        return None
    rows = query(con, f"SELECT as_of, scorer FROM {SCORER_STATE}").rows()
    if len(rows) != 1 or rows[0][0] != stored_as_of:
        return None
    scorer = pickle.loads(rows[0][1])  # written by `keep_scorer` into this warehouse
    return scorer if isinstance(scorer, Scorer) else None


def keep_scorer(con: duckdb.DuckDBPyConnection, as_of: datetime, scorer: Scorer | None) -> None:
    """Inside the metrics' writing transaction: the scorer for the next night (None: none)."""
    con.execute(f"CREATE OR REPLACE TABLE {SCORER_STATE} (as_of TIMESTAMP, scorer BLOB)")
    if scorer is not None:
        con.execute(f"INSERT INTO {SCORER_STATE} VALUES (?, ?)", [as_of, pickle.dumps(scorer)])
