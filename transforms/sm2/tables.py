"""The SRS tables, computed from attempts: `reviews`, `word_progress` and `due_forecast`.

Each function takes one batch of learners' full histories (a batch never splits a learner), so
the pipeline can process learners batch by batch with memory bounded by a batch.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from transforms.keys import CARD
from transforms.sm2 import SM2Params, replay, replay_leitner, select_reviews
from transforms.sm2.card_order import CardOrder
from transforms.sm2.kernel import MICROS_PER_DAY
from transforms.sm2.replay import CardStart

FORECAST_DAYS = 30


def with_card_keys(attempts: pl.DataFrame, presorted: bool = False) -> pl.DataFrame:
    """Attempts sorted by card and time, with `card_key` numbering the cards 1, 2, ...;
    `presorted` says they already are (by card, `attempted_at`, `uuid_local`)."""
    ordered = (
        attempts
        if presorted
        else attempts.sort(*CARD, "attempted_at", "uuid_local", maintain_order=True)
    )
    new_card = pl.any_horizontal([pl.col(c) != pl.col(c).shift(1) for c in CARD]).fill_null(True)
    return ordered.with_columns(new_card.cum_sum().cast(pl.Int64).alias("card_key"))


def learner_parts(attempts: pl.DataFrame, parts: int) -> list[pl.DataFrame]:
    """`attempts` sorted by card and time (so each learner's rows are contiguous), cut at
    learner boundaries into at most `parts` pieces of about equal size, each with its own
    `card_key`. Learners are independent, so the pieces can be computed in parallel."""
    user = pl.col("user_id")
    # rows where a learner other than the first begins, then the end
    starts = attempts.select(pl.arg_where(user != user.shift(1))).to_series().to_numpy()
    ends = np.append(starts, attempts.height)
    even = np.arange(1, max(parts, 1)) * attempts.height // max(parts, 1)
    cuts = ends[np.searchsorted(starts, even)]  # each even cut moves to the next boundary
    bounds = np.unique(np.concatenate([[0], cuts, [attempts.height]]))
    return [
        with_card_keys(attempts.slice(int(lo), int(hi - lo)), presorted=True)
        for lo, hi in itertools.pairwise(bounds)
    ] or [with_card_keys(attempts, presorted=True)]


# The stored state a resumed card continues from: its `word_progress` row, and its last
# review's time (`last_reviewed_at`, `last_reviewed_at()`)
LAST_REVIEWED_AT = "last_reviewed_at"


def last_reviewed_at() -> pl.Expr:
    """`last_reviewed_at` of `word_progress` rows, null for a card without a review: its last
    review's time. `next_review_at` is that review's due time, which the kernel computes as the
    review's time plus `rint(interval_days x microseconds per day)` whole microseconds, so
    subtracting the same integer gives the time back exactly, without reading `reviews`."""
    micros = (pl.col("interval_days") * MICROS_PER_DAY).round(0, mode="half_to_even")
    return (pl.col("next_review_at") - pl.duration(microseconds=micros.cast(pl.Int64))).alias(
        LAST_REVIEWED_AT
    )


def _card_starts(stored: pl.DataFrame) -> pl.DataFrame:
    """`CardStart.of`'s states from stored cards (`card_key`, `word_progress` columns and
    `last_reviewed_at`): the state after each card's last review."""
    return stored.select(
        pl.col("card_key").alias("card_id"),
        pl.col("easiness").alias("ef_after"),
        pl.col("repetitions").alias("reps_after"),
        "interval_days",
        pl.col("lapses").alias("lapses_after"),
        pl.col("reviews").alias("review_index"),
        pl.col(LAST_REVIEWED_AT).alias("reviewed_at"),
        pl.col("leitner_level").alias("box_after"),
    )


def build_reviews(
    attempts: pl.DataFrame, params: SM2Params, stored: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per graded review: who, which word, its quality, SM-2's replay, and Leitner's box
    and predicted recall on the same review (`leitner_box`, `leitner_p_recall`).

    Keeps `card_key` when the attempts carry one (see `with_card_keys`). With `stored` (one row
    per card of `attempts` that has stored reviews: `card_key`, its `word_progress` columns
    and `last_reviewed_at`), `attempts` are attempts that all come after those cards' last
    stored attempt: their reviews continue the stored ones (review unit "day" or "attempt";
    with "day", an attempt on the day of the last stored attempt is practice, that day's
    review being stored)."""
    keyed = attempts if "card_key" in attempts.columns else with_card_keys(attempts)
    candidates = select_reviews(keyed, params, presorted=True)
    if stored is not None:
        if params.review_unit == "session":
            raise ValueError("cards resume under the review units 'day' and 'attempt' only")
        if params.review_unit == "day":
            covered = stored.lazy().select(
                "card_key", pl.col("last_attempted_at").dt.date().alias("_covered")
            )
            candidates = (
                candidates.join(covered, on="card_key", how="left", maintain_order="left")
                .filter(
                    pl.col("_covered").is_null()
                    | (pl.col("attempted_at").dt.date() != pl.col("_covered"))
                )
                .drop("_covered")
            )
    selected = candidates.select(
        *CARD,
        "uuid_local",
        "step_type",
        "correct",
        "response_time_ms",
        pl.col("attempted_at").alias("reviewed_at"),
        "quality",
        pl.col("card_key").alias("card_id"),
        pl.col("uuid_local").alias("tiebreak"),
    ).collect()
    order = CardOrder.of(selected)
    start = None if stored is None else CardStart.of(selected, order, _card_starts(stored), params)
    sm2 = replay(selected, params, order, start)
    leitner = replay_leitner(
        selected.select(
            "card_id",
            "reviewed_at",
            "tiebreak",
            (pl.col("quality") >= params.pass_quality).alias("passed"),
        ),
        target_recall=params.target_recall,
        order=order,
        start=start,
    )
    return (
        sm2.with_columns(
            leitner["box_after"].alias("leitner_box"),
            leitner["p_recall"].alias("leitner_p_recall"),
        )
        .rename({"card_id": "card_key"})
        .drop("tiebreak")
    )


def newest_manifest_words(
    manifest_words: pl.DataFrame, manifest_versions: pl.DataFrame, as_of: datetime
) -> pl.DataFrame:
    """(language, word_uid, level, group_uid, position) of each language's newest version in
    force at `as_of` (or its first version, when none is published yet)."""
    in_force = (
        manifest_versions.with_columns((pl.col("published_at") <= as_of).alias("_published"))
        .sort("language", "_published", "version")
        .group_by("language")
        .agg(pl.col("version").last())
    )
    return manifest_words.join(in_force, on=["language", "version"]).select(
        "language", "word_uid", "level", "group_uid", "position"
    )


def _card_ends(
    frame: pl.DataFrame, columns: list[pl.Expr | str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`columns` at each card's first row and at its last row: two frames, one row per card in
    the same order. Cards (`card_key`) must be contiguous."""
    key = pl.col("card_key")
    picked = frame.select(
        "card_key",
        *columns,
        (key != key.shift(1)).fill_null(True).alias("_first"),
        (key != key.shift(-1)).fill_null(True).alias("_last"),
    )
    return (
        picked.filter("_first").drop("_first", "_last"),
        picked.filter("_last").drop("_first", "_last"),
    )


def _attempt_figures(attempts: pl.DataFrame) -> pl.DataFrame:
    """One row per card of card-sorted `attempts` (with `card_key`), in their order: the
    attempt counts and times of `word_progress`, read off each card's first and last rows."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    first, last = _card_ends(
        attempts,
        [
            *[pl.col(c) for c in CARD],
            "attempted_at",
            "correct",
            row.alias("_row"),
            pl.col("correct").cum_sum().alias("_correct_through"),
            pl.when(~pl.col("correct")).then(row).forward_fill().fill_null(-1).alias("_miss"),
        ],
    )
    return pl.concat(
        [
            first.select(
                "card_key",
                *CARD,
                pl.col("attempted_at").alias("first_attempted_at"),
                "_row",
                (pl.col("_correct_through") - pl.col("correct")).alias("_correct_before"),
            ),
            last.select(
                pl.col("_row").alias("_last_row"),
                pl.col("_correct_through"),
                pl.col("_miss"),
                pl.col("attempted_at").alias("last_attempted_at"),
            ),
        ],
        how="horizontal",
    ).select(
        "card_key",
        *CARD,
        (pl.col("_last_row") - pl.col("_row") + 1).cast(pl.Int32).alias("total_attempts"),
        (pl.col("_correct_through") - pl.col("_correct_before"))
        .cast(pl.Int32)
        .alias("correct_attempts"),
        # correct attempts after the card's last miss (or all of them, with no miss)
        (pl.col("_last_row") - pl.max_horizontal("_miss", pl.col("_row") - 1))
        .cast(pl.Int32)
        .alias("consecutive_correct"),
        "first_attempted_at",
        "last_attempted_at",
    )


# `word_progress`'s columns that its card's last review gives
REVIEW_FIGURES = (
    "easiness",
    "repetitions",
    "interval_days",
    "next_review_at",
    "lapses",
    "reviews",
    "leitner_level",
)


def _review_figures(reviews: pl.DataFrame) -> pl.DataFrame:
    """One row per card of card-sorted `reviews` (with `card_key`): REVIEW_FIGURES."""
    _, from_reviews = _card_ends(
        reviews,
        [
            pl.col("ef_after").alias("easiness"),
            pl.col("reps_after").alias("repetitions"),
            "interval_days",
            pl.col("due_at").alias("next_review_at"),
            pl.col("lapses_after").alias("lapses"),
            pl.col("review_index").cast(pl.Int32).alias("reviews"),
            pl.col("leitner_box").alias("leitner_level"),
        ],
    )
    return from_reviews


def _word_progress_columns(cards: pl.DataFrame, current_words: pl.DataFrame) -> pl.DataFrame:
    """`word_progress` from its per-card figures, with `in_current_manifest`."""
    current = current_words.select("language", "word_uid", pl.lit(True).alias("_current"))
    return cards.join(
        current, on=["language", "word_uid"], how="left", maintain_order="left"
    ).select(
        *CARD,
        *REVIEW_FIGURES[:-1],
        "total_attempts",
        "correct_attempts",
        pl.when(pl.col("total_attempts") > 0)
        .then(pl.col("correct_attempts") / pl.col("total_attempts"))
        .otherwise(0.0)
        .alias("accuracy_rate"),
        "consecutive_correct",
        "first_attempted_at",
        "last_attempted_at",
        "leitner_level",
        pl.col("_current").fill_null(False).alias("in_current_manifest"),
    )


def build_word_progress(
    attempts: pl.DataFrame, reviews: pl.DataFrame, current_words: pl.DataFrame
) -> pl.DataFrame:
    """One row per card (user_id, language, word_uid): the app's `WordProgress` on SM-2, in the
    order of `attempts`.

    `attempts` are sorted by card and time, and `reviews` are a subset of them in the same order,
    both carrying `card_key` (see `with_card_keys`, `build_reviews`): every per-card figure is
    read off a card's first and last rows, without grouping.
    """
    cards = _review_figures(reviews).join(
        _attempt_figures(attempts), on="card_key", how="inner", maintain_order="right"
    )
    return _word_progress_columns(cards, current_words)


def resume_word_progress(
    attempts: pl.DataFrame,
    reviews: pl.DataFrame,
    stored: pl.DataFrame,
    current_words: pl.DataFrame,
) -> pl.DataFrame:
    """`build_word_progress` for resumed cards: `attempts` all come after the stored ones of
    their cards, `reviews` are theirs (`build_reviews` with `stored`), and `stored` has the
    cards' stored `word_progress` rows (with `card_key`; a new card has none). Counts add up;
    the trailing correct run continues the stored one unless a new attempt missed; a card
    whose new attempts were all practice keeps its stored review figures."""
    old = stored.select("card_key", pl.all().exclude("card_key", *CARD).name.suffix("_old"))
    new_reviews = _review_figures(reviews).with_columns(pl.lit(True).alias("_reviewed"))
    cards = (
        _attempt_figures(attempts)
        .join(new_reviews, on="card_key", how="left", maintain_order="left")
        .join(old, on="card_key", how="left", maintain_order="left")
    )
    no_miss = pl.col("consecutive_correct") == pl.col("total_attempts")
    return _word_progress_columns(
        cards.select(
            "card_key",
            *CARD,
            *[
                pl.when(pl.col("_reviewed")).then(pl.col(c)).otherwise(pl.col(f"{c}_old")).alias(c)
                for c in REVIEW_FIGURES
            ],
            *[
                (pl.col(c) + pl.col(f"{c}_old").fill_null(0)).alias(c)
                for c in ("total_attempts", "correct_attempts")
            ],
            pl.when(no_miss)
            .then(pl.col("consecutive_correct") + pl.col("consecutive_correct_old").fill_null(0))
            .otherwise(pl.col("consecutive_correct"))
            .alias("consecutive_correct"),
            pl.coalesce("first_attempted_at_old", "first_attempted_at").alias("first_attempted_at"),
            "last_attempted_at",
        ),
        current_words,
    )


def build_due_forecast(
    word_progress: pl.DataFrame, as_of: datetime, days: int = FORECAST_DAYS
) -> pl.DataFrame:
    """One row per (user_id, language, day) with reviews due, for the `days` days from the as-of
    day; overdue reviews count on the as-of day. Days with nothing due have no row."""
    start = as_of.date()
    end = start + timedelta(days=days)
    return (
        word_progress.select(
            "user_id",
            "language",
            pl.max_horizontal(pl.col("next_review_at").dt.date(), pl.lit(start)).alias("day"),
            (pl.col("next_review_at") <= as_of).alias("_overdue"),
        )
        .filter(pl.col("day") < end)
        .group_by("user_id", "language", "day")
        .agg(
            pl.len().cast(pl.Int32).alias("due_reviews"),
            pl.col("_overdue").sum().cast(pl.Int32).alias("overdue_reviews"),
        )
        .sort("user_id", "language", "day")
    )
