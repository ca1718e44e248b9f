"""`learned_words`: one row per card (user_id, language, word_uid) with a graded review, and
whether its word is learned (its last graded review passed, metrics.md), as the SRS tables
stand. The learner pages draw a learner's words from it.

A card's row depends on its own reviews only, so a nightly run rebuilds the rows of the cards
SM-2 changed (`touched_cards`, consumer `learned_words`); a full SM-2 recompute (which a change
of pass quality triggers), `PROGRESS_FULL_REFRESH` or a missing table rebuild it whole."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from transforms.incremental import clear_pending, pending, replace_keys, rows_for
from transforms.keys import CARD
from transforms.metrics.progress import learned_words
from transforms.sm2.store import params_used
from transforms.warehouse import query, replace_table, table_exists, transaction

REVIEWS_READ = "SELECT user_id, language, word_uid, quality, review_index FROM reviews"
LEARNED_WORDS = "learned_words"
LEARNED_CONSUMER = "learned_words"  # its name in transforms.incremental's pending sets


def build_learned_words(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every card of `reviews`, learned or not, by the pass quality its reviews were graded
    with (`sm2_params_used`)."""
    reviews = query(con, REVIEWS_READ)
    return learned_words(reviews, params_used(con).pass_quality).sort(CARD)


@dataclass(frozen=True)
class LearnedRun:
    """What a run wrote: `rows`, the rows rebuilt (all of them in a full run)."""

    rows: pl.DataFrame
    mode: str  # "full" or "incremental"


def update_learned_words(con: duckdb.DuckDBPyConnection, full_refresh: bool = False) -> LearnedRun:
    """Bring `learned_words` up to date with `reviews`: the touched cards' rows, or every row
    when the pending set says everything changed (or none is stored)."""
    touched = pending(con, LEARNED_CONSUMER)
    if full_refresh or touched is None or not table_exists(con, LEARNED_WORDS):
        table = build_learned_words(con)
        with transaction(con):
            replace_table(con, LEARNED_WORDS, table)
            clear_pending(con, LEARNED_CONSUMER)
        return LearnedRun(table, "full")
    keys = touched.cards.select(CARD)
    rows = learned_words(
        rows_for(con, REVIEWS_READ, keys, "USING (user_id, language, word_uid)"),
        params_used(con).pass_quality,
    ).sort(CARD)
    with transaction(con):
        replace_keys(con, LEARNED_WORDS, rows, keys)
        clear_pending(con, LEARNED_CONSUMER)
    return LearnedRun(rows, "incremental")
