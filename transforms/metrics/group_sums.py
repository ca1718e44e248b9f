"""Stored partial sums of the group tables, so a nightly run updates them from the night's
changed rows instead of re-reading the history.

The group tables and the sums each one is published from:
- `word_difficulty` (language, word_uid) from `word_sums`: learners (cards with an attempt),
  attempts, correct, first reviews and passes, lapses, reviews, the sum and count of the cards'
  current easiness (mean = sum / count);
- `true_retention`, `forgetting_curve`, `forgetting_curve_cohort` from `review_sums`
  (language, cohort, period_week, maturity, bin_index): graded non-first reviews, passed, and
  the sum of `p_recall` (mean = sum / reviews);
- `accuracy_by_step`, `accuracy_by_step_cohort` from `step_response_counts` (language, cohort,
  step_type, response_time_ms): attempts and correct per integer millisecond, a histogram from
  which the exact median response time comes (the middle value(s) of the cumulative counts).

SM-2 replaces a touched card's `reviews` and `word_progress` rows, so their old contribution is
gone by the time the metrics run: each card's contribution is kept (`card_word_sums`,
`card_review_sums`), subtracted, and the card's new one added. Attempts are never replaced: a
night adds the attempts not counted yet (after the stored as-of time, or from a source not in
`group_sums_sources`). A learner whose cohort moved (a late first attempt) moves all their
contributions from the old cohort to the new one.

Integer sums are exact; the float sums (easiness, p_recall) are updated by adding and
subtracting, so their means agree with a recompute to float rounding (about 1e-15 relative).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import duckdb
import polars as pl

from transforms.incremental import attempts_not_in, replace_keys, rows_for
from transforms.keys import CARD, LEARNER
from transforms.metrics.accuracy import ACCURACY_BY_STEP_COLUMNS, WORD_DIFFICULTY_COLUMNS
from transforms.metrics.common import graded_non_first, week_start, wilson
from transforms.metrics.retention import ELAPSED_EDGES, ELAPSED_LABELS, FORGETTING_CURVE_COLUMNS
from transforms.warehouse import query, replace_table, table_exists

CARD_WORD_SUMS = "card_word_sums"
CARD_REVIEW_SUMS = "card_review_sums"
WORD_SUMS = "word_sums"
REVIEW_SUMS = "review_sums"
STEP_RESPONSE_COUNTS = "step_response_counts"
GROUP_SUMS_STATE = "group_sums_state"  # one row: the as-of time the sums are up to date with
GROUP_SUMS_SOURCES = "group_sums_sources"  # the attempt sources the sums have counted

# The grain of each table this module writes (docs/tables.md; declared assets).
GROUP_SUMS_TABLES: dict[str, str] = {
    CARD_WORD_SUMS: "One row per card (user_id, language, word_uid) with an attempt, a review or "
    "a state: its contribution to word_sums.",
    CARD_REVIEW_SUMS: "One row per (user_id, language, word_uid, period_week, maturity, "
    "bin_index) with graded non-first reviews: the card's contribution to review_sums.",
    WORD_SUMS: "One row per (language, word_uid): the partial sums word_difficulty is "
    "published from.",
    REVIEW_SUMS: "One row per (language, cohort, period_week, maturity, bin_index) with graded "
    "non-first reviews: the partial sums of true_retention and forgetting_curve(_cohort).",
    STEP_RESPONSE_COUNTS: "One row per (language, cohort, step_type, response_time_ms) with "
    "attempts: the histogram accuracy_by_step(_cohort) are published from.",
    GROUP_SUMS_STATE: "One row: the as-of time the partial sums are up to date with.",
    GROUP_SUMS_SOURCES: "One row per attempt source (source_id) the partial sums have counted.",
}

WORD = ["language", "word_uid"]
REVIEW_GROUP = ["language", "cohort", "period_week", "maturity", "bin_index"]
CARD_REVIEW_KEYS = [*CARD, "period_week", "maturity", "bin_index"]
STEP_GROUP = ["language", "cohort", "step_type"]
HISTOGRAM = [*STEP_GROUP, "response_time_ms"]
WORD_SUM_COLUMNS = [
    "cards",
    "learners",
    "attempts",
    "correct",
    "first_reviews",
    "first_passed",
    "lapses",
    "reviews",
    "easiness_sum",
    "easiness_cards",
]
REVIEW_SUM_COLUMNS = ["reviews", "passed", "p_recall_sum"]
CARD_WORD_COLUMNS = [
    "attempts",
    "correct",
    "first_reviews",
    "first_passed",
    "lapses",
    "reviews",
    "easiness",
]


# --- per-card contributions ---------------------------------------------------------------


def first_review_counts(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """(card, first_reviews, first_passed) of the cards whose first review (`review_index` 1)
    is among `reviews`: 1, and 1 when it passed."""
    return (
        reviews.filter(pl.col("review_index") == 1)
        .group_by(CARD)
        .agg(
            pl.len().cast(pl.Int64).alias("first_reviews"),
            (pl.col("quality") >= pass_quality).sum().cast(pl.Int64).alias("first_passed"),
        )
    )


def card_word_sums(
    attempt_counts: pl.DataFrame, first: pl.DataFrame, word_progress: pl.DataFrame
) -> pl.DataFrame:
    """One row per card: `attempt_counts` (card, attempts, correct), its first review
    (`first_review_counts`: 0 or 1, passed or not) and its current state (lapses, reviews,
    easiness; null without one)."""
    state = word_progress.select(
        *CARD,
        pl.col("lapses").cast(pl.Int64),
        pl.col("reviews").cast(pl.Int64),
        pl.col("easiness").cast(pl.Float64),
    )
    counts = attempt_counts.select(
        *CARD, pl.col("attempts").cast(pl.Int64), pl.col("correct").cast(pl.Int64)
    )
    joined = counts.join(
        first.select(*CARD, "first_reviews", "first_passed"), on=CARD, how="full", coalesce=True
    ).join(state, on=CARD, how="full", coalesce=True)
    ints = [c for c in CARD_WORD_COLUMNS if c != "easiness"]
    return joined.with_columns(pl.col(ints).fill_null(0)).select(*CARD, *CARD_WORD_COLUMNS)


def attempt_counts(attempts: pl.DataFrame) -> pl.DataFrame:
    """(card, attempts, correct) of the attempts."""
    return attempts.group_by(CARD).agg(
        pl.len().cast(pl.Int64).alias("attempts"),
        pl.col("correct").sum().cast(pl.Int64).alias("correct"),
    )


def card_review_sums(reviews: pl.DataFrame, pass_quality: int) -> pl.DataFrame:
    """One row per (card, period_week, maturity, bin_index) of graded non-first reviews:
    reviews, passed, the sum of p_recall."""
    graded = graded_non_first(reviews, pass_quality)
    return graded.group_by(
        *CARD,
        week_start(pl.col("reviewed_at").dt.date()).alias("period_week"),
        "maturity",
        pl.sum_horizontal(
            [(pl.col("elapsed_days") >= e).cast(pl.Int32) for e in ELAPSED_EDGES]
        ).alias("bin_index"),
    ).agg(
        pl.len().cast(pl.Int64).alias("reviews"),
        pl.col("passed").sum().cast(pl.Int64).alias("passed"),
        pl.col("p_recall").sum().cast(pl.Float64).alias("p_recall_sum"),
    )


# --- group sums from contributions --------------------------------------------------------


def word_sums(cards: pl.DataFrame) -> pl.DataFrame:
    """`word_sums` rows of the cards' contributions (`card_word_sums`)."""
    return cards.group_by(WORD).agg(
        pl.len().cast(pl.Int64).alias("cards"),
        (pl.col("attempts") > 0).sum().cast(pl.Int64).alias("learners"),
        *(
            pl.col(c).sum().cast(pl.Int64)
            for c in ("attempts", "correct", "first_reviews", "first_passed", "lapses", "reviews")
        ),
        pl.col("easiness").sum().cast(pl.Float64).alias("easiness_sum"),
        pl.col("easiness").count().cast(pl.Int64).alias("easiness_cards"),
    )


def review_sums(cards: pl.DataFrame, cohort_of: pl.DataFrame) -> pl.DataFrame:
    """`review_sums` rows of card contributions (`card_review_sums`), each learner's in their
    cohort (`cohort_of`: user_id, language, cohort)."""
    return (
        cards.join(cohort_of, on=LEARNER, how="left")
        .group_by(REVIEW_GROUP)
        .agg(pl.col("reviews", "passed").sum().cast(pl.Int64), pl.col("p_recall_sum").sum())
    )


def step_response_counts(attempts: pl.DataFrame, cohort_of: pl.DataFrame) -> pl.DataFrame:
    """`step_response_counts` rows of attempts, each learner's in their cohort."""
    return (
        attempts.join(cohort_of, on=LEARNER, how="left")
        .group_by(HISTOGRAM)
        .agg(
            pl.len().cast(pl.Int64).alias("attempts"),
            pl.col("correct").sum().cast(pl.Int64).alias("correct"),
        )
    )


def add_sums(
    stored: pl.DataFrame, delta: pl.DataFrame, keys: list[str], count: str
) -> pl.DataFrame:
    """`stored` + `delta` (both keyed by `keys`, same sum columns; `delta` may be negative),
    without the groups whose `count` falls to 0 (a recompute has no row for them)."""
    sums = [c for c in stored.columns if c not in keys]
    both = pl.concat(
        [stored.select(*keys, *sums), delta.select(*keys, *sums).cast(stored.schema)],  # type: ignore[arg-type]
        how="vertical_relaxed",
    )
    return (
        both.group_by(keys)
        .agg(pl.col(sums).sum())
        .filter(pl.col(count) != 0)
        .cast(stored.select(sums).schema)  # type: ignore[arg-type]
    )


def minus(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.with_columns(-pl.col(columns))


# --- published tables from the sums --------------------------------------------------------


def word_difficulty_of(sums: pl.DataFrame) -> pl.DataFrame:
    """`word_difficulty` rows of `word_sums` (the words with an attempt)."""
    keys = WORD
    return (
        sums.filter(pl.col("attempts") > 0)
        .with_columns(
            *wilson("correct", "attempts", "accuracy"),
            *wilson("first_passed", "first_reviews", "first_review_pass_rate"),
            *wilson("lapses", "reviews", "lapse_rate"),
            pl.when(pl.col("easiness_cards") > 0)
            .then(pl.col("easiness_sum") / pl.col("easiness_cards"))
            .alias("mean_easiness"),
        )
        .select(
            *keys,
            *WORD_DIFFICULTY_COLUMNS,
        )
        .sort(keys)
    )


def true_retention_of(sums: pl.DataFrame) -> pl.DataFrame:
    """`true_retention` rows of `review_sums`."""
    keys = ["language", "cohort", "period_week", "maturity"]
    return (
        sums.group_by(keys)
        .agg(pl.col("reviews", "passed").sum().cast(pl.Int64))
        .with_columns(wilson("passed", "reviews", "true_retention"))
        .sort(keys)
    )


def forgetting_curve_of(sums: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """`forgetting_curve` (by cohort: `forgetting_curve_cohort`) rows of `review_sums`."""
    return (
        sums.group_by("language", *by, "bin_index")
        .agg(pl.col("reviews", "passed").sum().cast(pl.Int64), pl.col("p_recall_sum").sum())
        .with_columns(
            pl.col("bin_index")
            .replace_strict(dict(enumerate(ELAPSED_LABELS)), return_dtype=pl.String)
            .alias("elapsed_bin"),
            (pl.col("p_recall_sum") / pl.col("reviews")).alias("mean_p_recall"),
        )
        .with_columns(wilson("passed", "reviews", "recall_rate"))
        .sort("language", *by, "bin_index")
        .select("language", *by, *FORGETTING_CURVE_COLUMNS)
    )


def histogram_median(counts: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """(keys, median_response_ms): the exact median of each group's response times from its
    histogram (`response_time_ms`, `attempts`): the mean of the values at ranks (n-1)//2 and
    n//2 of the sorted times, found on the cumulative counts (nulls left out)."""
    ms = pl.col("response_time_ms")
    ranked = (
        counts.filter(ms.is_not_null())
        .sort(*keys, "response_time_ms")
        .with_columns(
            pl.col("attempts").cum_sum().over(keys).alias("_through"),
            pl.col("attempts").sum().over(keys).alias("_n"),
        )
    )

    def at(rank: pl.Expr, name: str) -> pl.DataFrame:
        return ranked.filter(pl.col("_through") > rank).group_by(keys).agg(ms.min().alias(name))

    low = at((pl.col("_n") - 1) // 2, "_low")
    high = at(pl.col("_n") // 2, "_high")
    return low.join(high, on=keys, nulls_equal=True).select(
        *keys, ((pl.col("_low") + pl.col("_high")) / 2.0).alias("median_response_ms")
    )


def accuracy_by_step_of(counts: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """`accuracy_by_step` (by cohort: `accuracy_by_step_cohort`) rows of
    `step_response_counts`."""
    keys = ["language", *by, "step_type"]
    grouped = counts.group_by(*keys, "response_time_ms").agg(pl.col("attempts", "correct").sum())
    return (
        grouped.group_by(keys)
        .agg(pl.col("attempts", "correct").sum().cast(pl.Int64))
        .join(histogram_median(grouped, keys), on=keys, how="left", nulls_equal=True)
        .with_columns(wilson("correct", "attempts", "accuracy"))
        .select(*keys, *ACCURACY_BY_STEP_COLUMNS)
        .sort(keys)
    )


# --- the full path and the nightly path ------------------------------------------------------


@dataclass
class GroupSums:
    """What a run writes: the published group tables' rebuilt rows with the keys they replace
    (`tables`: name -> (frame, keys); keys None = the whole table), and the sums' rows likewise
    (`sums`)."""

    tables: dict[str, tuple[pl.DataFrame, pl.DataFrame | None]] = field(default_factory=dict)
    sums: dict[str, tuple[pl.DataFrame, pl.DataFrame | None]] = field(default_factory=dict)
    from_week: date | None = None  # a night's: no `card_review_sums` row before it changes

    def published(self) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
        """The group tables' rebuilt rows with the keys they replace (a nightly run's)."""
        return {
            name: (frame, keys) for name, (frame, keys) in self.tables.items() if keys is not None
        }

    def write_sums(self, con: duckdb.DuckDBPyConnection, as_of: datetime) -> None:
        """Inside the writing transaction, after `record_metrics_state` (which marks the sums
        out of date): the sums' rows, the sources counted and the as-of time."""
        for name, (frame, keys) in self.sums.items():
            if keys is None:
                replace_table(con, name, frame)
            elif name == CARD_REVIEW_SUMS and self.from_week is not None:
                replace_keys(con, name, frame, keys, ("period_week", self.from_week))
            else:
                replace_keys(con, name, frame, keys)
        con.execute(
            f"CREATE OR REPLACE TABLE {GROUP_SUMS_SOURCES} AS "
            "SELECT content_hash AS source_id FROM ingested_files"
            if table_exists(con, "ingested_files")
            else f"CREATE OR REPLACE TABLE {GROUP_SUMS_SOURCES} (source_id VARCHAR)"
        )
        con.execute(f"CREATE OR REPLACE TABLE {GROUP_SUMS_STATE} (as_of TIMESTAMP)")
        con.execute(f"INSERT INTO {GROUP_SUMS_STATE} VALUES (?)", [as_of])


def forget_group_sums(con: duckdb.DuckDBPyConnection) -> None:
    """The metric tables were written without the sums (e.g. by the sharded run): the next
    run recomputes them whole."""
    con.execute(f"DROP TABLE IF EXISTS {GROUP_SUMS_STATE}")


def group_sums_as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The as-of time the stored sums are up to date with, or None when they cannot be used."""
    names = [*GROUP_SUMS_TABLES]
    if not all(table_exists(con, name) for name in names):
        return None
    rows = query(con, f"SELECT as_of FROM {GROUP_SUMS_STATE}").rows()
    return rows[0][0] if len(rows) == 1 else None


def full_group_sums(
    attempts: pl.DataFrame,
    reviews: pl.DataFrame,
    word_progress: pl.DataFrame,
    cohort_of: pl.DataFrame,
    pass_quality: int,
) -> GroupSums:
    """Every partial sum, from all the inputs (the full recompute's)."""
    cards = card_word_sums(
        attempt_counts(attempts), first_review_counts(reviews, pass_quality), word_progress
    )
    card_reviews = card_review_sums(reviews, pass_quality)
    return GroupSums(
        sums={
            CARD_WORD_SUMS: (cards, None),
            # in week order: a night's keyed delete of recent weeks skips the older row groups
            CARD_REVIEW_SUMS: (card_reviews.sort("period_week", *CARD), None),
            WORD_SUMS: (word_sums(cards), None),
            REVIEW_SUMS: (review_sums(card_reviews, cohort_of), None),
            STEP_RESPONSE_COUNTS: (step_response_counts(attempts, cohort_of), None),
        }
    )


CARDS_ON = "USING (user_id, language, word_uid)"
BY_LEARNER = "USING (user_id, language)"
ATTEMPT_SUMS_READ = (
    "SELECT user_id, language, word_uid, step_type, correct, response_time_ms FROM attempts"
)


def _uncounted_sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The ingested files whose attempts the sums have not counted."""
    if not table_exists(con, "ingested_files"):
        return []
    rows = query(
        con,
        "SELECT content_hash FROM ingested_files "
        f"EXCEPT SELECT source_id FROM {GROUP_SUMS_SOURCES}",
    )
    return sorted(str(h) for h in rows["content_hash"])


def _new_attempts(
    con: duckdb.DuckDBPyConnection, sums_as_of: datetime, as_of: datetime, moved: pl.DataFrame
) -> pl.DataFrame:
    """The attempts up to `as_of` the sums have not counted (`is_new`: after `sums_as_of`, or
    from a file not counted yet), and every attempt of the `moved` learners (a late first
    attempt: rare, read by learner). The new ones are read by conditions DuckDB prunes row
    groups on, never a pass over every attempt (`attempts_not_in`)."""
    sources = _uncounted_sources(con)
    in_sources = f"source_id IN ({', '.join('?' * len(sources))})" if sources else "false"
    is_new = f"coalesce(attempted_at > ? OR {in_sources}, false)"
    parts = [
        attempts_not_in(con, ATTEMPT_SUMS_READ, sources, sums_as_of, as_of)
        .join(moved, on=LEARNER, how="anti")
        .with_columns(pl.lit(True).alias("is_new"))
    ]
    if moved.height:
        parts.append(
            rows_for(
                con,
                f"SELECT user_id, language, word_uid, step_type, correct, response_time_ms, "
                f"{is_new} AS is_new FROM attempts WHERE attempted_at <= ?",
                moved,
                BY_LEARNER,
                [sums_as_of, *sources, as_of],
            )
        )
    return pl.concat(parts, how="vertical_relaxed")


# A touched card's graded reviews from the week of its `since` on (the weeks SM-2 may have
# changed: its reviews before `since` stand).
CARD_WEEKS_ON = (
    "ON t.user_id = _keys.user_id AND t.language = _keys.language "
    "AND t.word_uid = _keys.word_uid AND t.{column} >= _keys.from_week"
)


def nightly_group_sums(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    sums_as_of: datetime,
    touched_cards: pl.DataFrame,
    cohort_of: pl.DataFrame,
    cohort_before: pl.DataFrame,
    pass_quality: int,
) -> GroupSums:
    """The group tables' rows a night changes, from the stored sums and the night's rows:
    `sums_as_of` (the as-of time the stored sums are up to date with, `group_sums_as_of`),
    `touched_cards` (the cards whose reviews and state SM-2 replaced, with `since`),
    `cohort_of` (every learner's cohort now), `cohort_before` (the touched learners' cohorts
    before this run). Reads the touched cards' reviews and review sums from the week of their
    `since` on, and the attempts not counted yet."""
    moved = (
        cohort_of.join(
            cohort_before.select(*LEARNER, pl.col("cohort").alias("_before")), on=LEARNER
        )
        .filter(pl.col("cohort").ne_missing(pl.col("_before")))
        .select(*LEARNER, "_before")
    )
    old_cohort_of = cohort_of.join(moved, on=LEARNER, how="left").select(
        *LEARNER, pl.coalesce("_before", "cohort").alias("cohort")
    )
    # attempts: the ones not counted yet, and every attempt of a learner whose cohort moved
    attempts = (
        _new_attempts(con, sums_as_of, as_of, moved.select(LEARNER))
        .join(moved.select(*LEARNER, pl.lit(True).alias("_moved")), on=LEARNER, how="left")
        .with_columns(pl.col("_moved").fill_null(False))
    )
    is_moved = pl.col("_moved")
    fresh = attempts.filter("is_new")
    histogram_delta = pl.concat(
        [
            step_response_counts(attempts.filter(pl.col("is_new") | is_moved), cohort_of),
            minus(
                step_response_counts(attempts.filter(~pl.col("is_new") & is_moved), old_cohort_of),
                ["attempts", "correct"],
            ),
        ]
    )
    step_keys = histogram_delta.select("language", "step_type").unique()
    stored_counts = rows_for(
        con, f"SELECT * FROM {STEP_RESPONSE_COUNTS}", step_keys, "USING (language, step_type)"
    )
    counts = add_sums(stored_counts, histogram_delta, HISTOGRAM, "attempts")
    step_cohort_keys = histogram_delta.select(STEP_GROUP).unique()

    # the touched cards' reviews from the week of their `since` on
    weeks = touched_cards.select(
        *CARD, week_start(pl.col("since").dt.date()).cast(pl.Datetime("us")).alias("from_week")
    )
    first_week = weeks["from_week"].min()
    assert first_week is None or isinstance(first_week, datetime)
    from_week = None if first_week is None else first_week.date()
    changed_reviews = rows_for(
        con,
        "SELECT user_id, language, word_uid, reviewed_at, quality, review_index, "
        "elapsed_days, interval_before, p_recall FROM reviews "
        "WHERE reviewed_at >= ? AND reviewed_at <= ?",
        weeks,
        CARD_WEEKS_ON.format(column="reviewed_at"),
        [first_week, as_of],
    )

    # word_difficulty: the cards SM-2 replaced and the cards with new attempts
    refresh = pl.concat([touched_cards.select(CARD), fresh.select(CARD)]).unique()
    old_cards = rows_for(con, f"SELECT * FROM {CARD_WORD_SUMS}", refresh, CARDS_ON)
    counted = attempt_counts(fresh)
    new_counts = (
        pl.concat([old_cards.select(*CARD, "attempts", "correct"), counted])
        .group_by(CARD)
        .agg(pl.col("attempts", "correct").sum())
    )
    # a card's first review changes only at or after its `since`: among the reviews read
    changed_first = first_review_counts(changed_reviews, pass_quality)
    first = pl.concat(
        [
            old_cards.select(*CARD, "first_reviews", "first_passed").join(
                changed_first, on=CARD, how="anti"
            ),
            changed_first,
        ]
    )
    progress = rows_for(
        con,
        "SELECT user_id, language, word_uid, lapses, reviews, easiness FROM word_progress",
        refresh,
        CARDS_ON,
    )
    new_cards = card_word_sums(new_counts, first, progress)
    word_delta = pl.concat([word_sums(new_cards), minus(word_sums(old_cards), WORD_SUM_COLUMNS)])
    word_keys = word_delta.select(WORD).unique()
    stored_words = rows_for(
        con, f"SELECT * FROM {WORD_SUMS}", word_keys, "USING (language, word_uid)"
    )
    words = add_sums(
        stored_words, word_delta, WORD, "cards"
    )  # a word's row lasts while cards count

    # review sums: the touched cards' weeks from their `since` on, and a moved learner's
    # every card's in their new cohort
    old_touched = rows_for(
        con,
        f"SELECT * FROM {CARD_REVIEW_SUMS} WHERE period_week >= ?",
        weeks.with_columns(pl.col("from_week").cast(pl.Date)),
        CARD_WEEKS_ON.format(column="period_week"),
        [from_week],
    )
    new_reviews = card_review_sums(changed_reviews, pass_quality)
    moved_rest = (
        rows_for(con, f"SELECT * FROM {CARD_REVIEW_SUMS}", moved.select(LEARNER), BY_LEARNER).join(
            old_touched, on=CARD_REVIEW_KEYS, how="anti"
        )
        if moved.height
        else old_touched.head(0)
    )
    old_reviews = pl.concat([old_touched, moved_rest])
    review_delta = pl.concat(
        [
            review_sums(pl.concat([new_reviews, moved_rest], how="vertical_relaxed"), cohort_of),
            minus(review_sums(old_reviews, old_cohort_of), REVIEW_SUM_COLUMNS),
        ]
    )
    stored_reviews = query(con, f"SELECT * FROM {REVIEW_SUMS}")
    all_reviews = add_sums(stored_reviews, review_delta, REVIEW_GROUP, "reviews")
    review_keys = review_delta.select(REVIEW_GROUP).unique()
    week_keys = review_delta.select("language", "cohort", "period_week").unique()
    cohort_keys = review_delta.select("language", "cohort").unique()
    language_keys = review_delta.select("language").unique()

    def of(frame: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
        return frame.join(keys, on=keys.columns, how="semi", nulls_equal=True)

    return GroupSums(
        tables={
            "word_difficulty": (word_difficulty_of(words), word_keys),
            "accuracy_by_step": (accuracy_by_step_of(counts), step_keys),
            "accuracy_by_step_cohort": (
                accuracy_by_step_of(of(counts, step_cohort_keys), by=("cohort",)),
                step_cohort_keys,
            ),
            "true_retention": (true_retention_of(of(all_reviews, week_keys)), week_keys),
            "forgetting_curve": (
                forgetting_curve_of(of(all_reviews, language_keys)),
                language_keys,
            ),
            "forgetting_curve_cohort": (
                forgetting_curve_of(of(all_reviews, cohort_keys), by=("cohort",)),
                cohort_keys,
            ),
        },
        sums={
            STEP_RESPONSE_COUNTS: (of(counts, step_cohort_keys), step_cohort_keys),
            CARD_WORD_SUMS: (new_cards, refresh),
            WORD_SUMS: (words, word_keys),
            CARD_REVIEW_SUMS: (
                new_reviews,
                pl.concat(
                    [old_touched.select(CARD_REVIEW_KEYS), new_reviews.select(CARD_REVIEW_KEYS)],
                    how="vertical_relaxed",
                ),
            ),
            REVIEW_SUMS: (of(all_reviews, review_keys), review_keys),
        },
        from_week=from_week,
    )
