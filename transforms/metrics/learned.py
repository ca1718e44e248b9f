"""`learned_words`: one row per card (user_id, language, word_uid) with a graded review, and
whether its word is learned (its last graded review passed, metrics.md), as the SRS tables
stand. The learner pages draw a learner's words from it."""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.keys import CARD
from transforms.metrics.progress import learned_words
from transforms.sm2.store import params_used
from transforms.warehouse import query

REVIEWS_READ = "SELECT user_id, language, word_uid, quality, review_index FROM reviews"


def build_learned_words(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every card of `reviews`, learned or not, by the pass quality its reviews were graded
    with (`sm2_params_used`)."""
    reviews = query(con, REVIEWS_READ)
    return learned_words(reviews, params_used(con).pass_quality).sort(CARD)
