"""Keep the SRS tables in the warehouse up to date, learner batch by learner batch.

A full recompute splits learners by a hash of `user_id` into `batches`; each batch's full
histories are read, replayed and written to staging tables, which replace the live tables in
one transaction at the end. Memory is bounded by a batch, not by the whole history.

A nightly update computes only the cards whose history changed since the tables were
computed (an attempt from a source not yet replayed, or one that the later as-of time now
includes). A card whose new attempts all come after its last stored attempt resumes from its
stored state (its `word_progress` row and last review time) on the new attempts alone, and its
new reviews are appended; any other changed card (a late attempt) replays its whole history,
and its reviews are replaced (under review unit "session", every changed card replays). One
transaction writes them: the result is the full recompute's, at a cost that follows the
night's attempts. It falls back to the full
recompute when the parameters, the course words in force or the as-of time moved backwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from transforms.failpoints import crash_point
from transforms.incremental import attempts_not_in, mark_touched, replace_keys, rows_for
from transforms.ingest.fields import READ_COLUMNS
from transforms.keys import CARD
from transforms.sm2 import SM2Params
from transforms.sm2.tables import (
    build_due_forecast,
    build_reviews,
    build_word_progress,
    last_reviewed_at,
    learner_parts,
    newest_manifest_words,
    resume_word_progress,
)
from transforms.warehouse import (
    insert_frame,
    query,
    registered,
    replace_table,
    scalar,
    table_exists,
    transaction,
)

ATTEMPT_COLUMNS = ", ".join(READ_COLUMNS)  # the attempt columns the replay reads


@dataclass
class SrsSummary:
    """What a recompute did, and where its time went (seconds, summed over batches): reading
    and sorting attempts in DuckDB, computing in Polars/NumPy, writing to DuckDB."""

    attempts: int = 0
    reviews: int = 0
    cards: int = 0
    batches: int = 0
    largest_batch_attempts: int = 0
    mode: str = "full"  # "full" recompute, or "incremental" over the changed learners
    reason: str = ""  # why this mode
    learners_replayed: int | None = None  # incremental: the learners whose rows were replaced
    cards_resumed: int | None = None  # incremental: cards continued from their stored state
    cards_replayed: int | None = None  # incremental: cards replayed over their whole history
    read_s: float = 0.0
    compute_s: float = 0.0
    write_s: float = 0.0

    def add_batch(self, attempts: int, reviews: int, cards: int) -> None:
        self.attempts += attempts
        self.reviews += reviews
        self.cards += cards
        self.largest_batch_attempts = max(self.largest_batch_attempts, attempts)


def _write_staging(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, first: bool
) -> None:
    staging = f"{table}__staging"
    if first:
        replace_table(con, staging, frame)
    else:
        insert_frame(con, staging, frame)


def _publish(
    con: duckdb.DuckDBPyConnection, tables: list[str], state: SrsState, sources: str
) -> None:
    """Swap the staged tables in, with the state they were computed from, atomically.
    `sources` is the SQL of the source ids now replayed."""
    with transaction(con):
        for table in tables:
            con.execute(f'DROP TABLE IF EXISTS "{table}"')
            con.execute(f'ALTER TABLE "{table}__staging" RENAME TO "{table}"')
        _record_state(con, state, sources)
        mark_touched(con, None)


@dataclass(frozen=True)
class SrsState:
    """What the live SRS tables were computed from: parameters, as-of time and the course
    words in force (a fingerprint); with `srs_sources`, the attempt sources replayed."""

    params: SM2Params
    as_of: datetime
    words: str

    @classmethod
    def of(cls, params: SM2Params, as_of: datetime, words: pl.DataFrame) -> SrsState:
        keys = words.select("language", "word_uid").sort("language", "word_uid")
        digest = hashlib.sha256("\n".join(f"{a} {b}" for a, b in keys.iter_rows()).encode())
        return cls(params, as_of, digest.hexdigest())


def _record_state(con: duckdb.DuckDBPyConnection, state: SrsState, sources: str) -> None:
    """`sm2_params_used` (one row: parameters, as of, words fingerprint) and `srs_sources`
    (one row per attempt source replayed)."""
    con.execute(
        "CREATE OR REPLACE TABLE sm2_params_used (params JSON, as_of TIMESTAMP, words VARCHAR)"
    )
    con.execute(
        "INSERT INTO sm2_params_used VALUES (?, ?, ?)",
        [json.dumps(state.params.to_dict(), sort_keys=True), state.as_of, state.words],
    )
    con.execute(f"CREATE OR REPLACE TABLE srs_sources AS {sources}")


def _stored_state(con: duckdb.DuckDBPyConnection) -> SrsState | None:
    if not table_exists(con, "srs_sources") or not table_exists(con, "sm2_params_used"):
        return None
    columns = query(con, "SELECT * FROM sm2_params_used LIMIT 0").columns
    if "words" not in columns:
        return None
    rows = query(con, "SELECT params, as_of, words FROM sm2_params_used").rows()
    if len(rows) != 1:
        return None
    params, as_of, words = rows[0]
    return SrsState(SM2Params.from_dict(json.loads(params)), as_of, words)


ALL_SOURCES = "SELECT content_hash AS source_id FROM ingested_files"


def current_words(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pl.DataFrame:
    return newest_manifest_words(
        query(con, "SELECT * FROM manifest_words"),
        query(con, "SELECT * FROM manifest_versions"),
        as_of,
    )


MAX_BATCH_ATTEMPTS = 2_500_000  # about 2 GB of working memory per batch


def batch_count(con: duckdb.DuckDBPyConnection, as_of: datetime, minimum: int) -> int:
    """At least `minimum` batches, and enough that none holds much over 2.5M attempts."""
    attempts = int(
        str(scalar(con, "SELECT count(*) FROM attempts WHERE attempted_at <= ?", [as_of]))
    )
    return max(minimum, -(-attempts // MAX_BATCH_ATTEMPTS), 1)


COMPUTE_WORKERS = min(4, os.cpu_count() or 1)


def read_batch(
    con: duckdb.DuckDBPyConnection, as_of: datetime, batches: int, batch: int
) -> pl.DataFrame:
    """Batch `batch` of `batches`: the full histories of the learners whose `hash(user_id)`
    falls in it, sorted by card and time."""
    return query(
        con,
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE attempted_at <= ? "
        # typed like hash(): an untyped parameter made DuckDB widen every row's hash (2.5x slower)
        "AND hash(user_id) % ?::UBIGINT = ?::UBIGINT "
        "ORDER BY user_id, language, word_uid, attempted_at, uuid_local",
        [as_of, batches, batch],
    )


def _compute_parts(
    pool: ThreadPoolExecutor,
    attempts: pl.DataFrame,
    params: SM2Params,
    words: pl.DataFrame,
    workers: int,
    stored: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`reviews` and `word_progress` of card-sorted attempts, in parallel learner pieces; with
    `stored` (the cards' stored `word_progress` rows and `last_reviewed_at`), the attempts are
    new ones that all come after their cards' stored ones, and the cards resume."""

    def compute(part: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        if stored is None:
            reviews = build_reviews(part, params)
            return reviews.drop("card_key"), build_word_progress(part, reviews, words)
        keyed = part.select("card_key", *CARD).unique(maintain_order=True).join(stored, on=CARD)
        reviews = build_reviews(part, params, keyed)
        progress = resume_word_progress(part, reviews, keyed, words)
        return reviews.drop("card_key"), progress

    # NumPy runs on one core: the batch's learners are computed in parallel pieces
    pieces = list(pool.map(compute, learner_parts(attempts, workers)))
    return pl.concat([r for r, _ in pieces]), pl.concat([p for _, p in pieces])


def recompute_srs(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    as_of: datetime,
    batches: int,
    workers: int = COMPUTE_WORKERS,
) -> SrsSummary:
    """Replace `reviews` and `word_progress` with a full recompute as of `as_of`, in at least
    `batches` learner batches (more when the history is large), each computed in `workers`
    threads. The tables are the same whatever `batches` and `workers` are."""
    summary = SrsSummary(batches=batch_count(con, as_of, batches))
    words = current_words(con, as_of)
    with ThreadPoolExecutor(workers) as pool:
        for batch in range(summary.batches):
            began = time.perf_counter()
            attempts = read_batch(con, as_of, summary.batches, batch)
            read = time.perf_counter()
            reviews, progress = _compute_parts(pool, attempts, params, words, workers)
            computed = time.perf_counter()
            _write_staging(con, "reviews", reviews, first=batch == 0)
            _write_staging(con, "word_progress", progress, first=batch == 0)
            crash_point("srs:batch")
            summary.read_s += read - began
            summary.compute_s += computed - read
            summary.write_s += time.perf_counter() - computed
            summary.add_batch(attempts.height, reviews.height, progress.height)
    began = time.perf_counter()
    _publish(con, ["reviews", "word_progress"], SrsState.of(params, as_of, words), ALL_SOURCES)
    summary.write_s += time.perf_counter() - began
    return summary


def _new_attempts(
    con: duckdb.DuckDBPyConnection, stored: SrsState, as_of: datetime, select: str
) -> pl.DataFrame:
    """`select` (SQL over `attempts`) of the attempts up to `as_of` the stored tables, as of
    `stored.as_of`, have not replayed: after that time, or from a file `srs_sources` lacks."""
    sources = query(con, f"{ALL_SOURCES} EXCEPT SELECT source_id FROM srs_sources")
    new_sources = sorted(str(h) for h in sources["source_id"])
    return attempts_not_in(con, select, new_sources, stored.as_of, as_of)


def changed_cards(
    con: duckdb.DuckDBPyConnection, stored: SrsState, as_of: datetime
) -> pl.DataFrame:
    """Under review unit "session" (whose sessions span a learner's cards): every card, with an
    attempt up to `as_of`, of a learner with an attempt the stored tables have not replayed
    (`_new_attempts`), with `since`, that learner's earliest such attempt. (The other units
    take each card's own new attempts, `_resume_or_replay`.)"""
    new = _new_attempts(con, stored, as_of, "SELECT user_id, attempted_at FROM attempts")
    learners = new.group_by("user_id").agg(pl.col("attempted_at").min().alias("since"))
    with registered(con, "_learners", learners):
        return query(
            con,
            """SELECT DISTINCT a.user_id, a.language, a.word_uid, l.since
            FROM attempts a JOIN _learners l USING (user_id) WHERE a.attempted_at <= ?
            ORDER BY ALL""",
            [as_of],
        )


CARD_KEYS = "USING (user_id, language, word_uid)"


def update_srs(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    as_of: datetime,
    batches: int,
    full_refresh: bool = False,
    workers: int = COMPUTE_WORKERS,
) -> SrsSummary:
    """Bring `reviews` and `word_progress` up to `as_of`: the tables a full recompute would
    give, computing only the cards whose history changed when the stored state allows (each
    resumed from its stored state on its new attempts, or replayed over its whole history:
    `resumable`). The changed cards are recorded for the steps downstream
    (`transforms.incremental`)."""
    stored = _stored_state(con)
    words = current_words(con, as_of)
    state = SrsState.of(params, as_of, words)
    reason = (
        "full refresh requested"
        if full_refresh
        else "no stored SRS state"
        if stored is None
        else "SM-2 parameters changed"
        if stored.params != params
        else "course words in force changed"
        if stored.words != state.words
        else "as-of time moved back"
        if as_of < stored.as_of
        else ""
    )
    if reason or stored is None:
        summary = recompute_srs(con, params, as_of, batches, workers)
        summary.reason = reason
        return summary
    if params.review_unit == "session":
        return _replay_changed(con, params, stored, state, words, workers)
    return _resume_or_replay(con, params, stored, state, words, workers)


def resumable() -> pl.Expr:
    """`resumed`: whether each changed card (`since`, its earliest new attempt;
    `last_attempted_at`, its last stored attempt, null for a new card) resumes from its
    stored state: all its new attempts come strictly after its last stored attempt. Then its
    stored reviews stand: under review unit "day" a new attempt on the day of the last stored
    one is practice (that day's review is stored) and one on a later day starts a new review;
    under "attempt" every new attempt is a new review. A new attempt at the very time of the
    last stored one (whatever `uuid_local` says) or before it replays the card."""
    last = pl.col("last_attempted_at")
    return (last.is_null() | (pl.col("since") > last)).alias("resumed")


def _resume_or_replay(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    stored: SrsState,
    state: SrsState,
    words: pl.DataFrame,
    workers: int,
) -> SrsSummary:
    """The nightly update under review units "day" and "attempt": each changed card resumes
    from its stored state on its new attempts (`resumable`) or replays its whole history; the
    resumed cards' reviews are appended, the replayed cards' replaced."""
    began = time.perf_counter()
    as_of = state.as_of
    order = [*CARD, "attempted_at", "uuid_local"]
    new = _new_attempts(con, stored, as_of, f"SELECT {ATTEMPT_COLUMNS} FROM attempts").sort(order)
    cards = new.group_by(CARD).agg(pl.col("attempted_at").min().alias("since")).sort(CARD)
    keys = cards.select(CARD)
    progress_rows = rows_for(con, "SELECT * FROM word_progress", keys, CARD_KEYS)
    cards = cards.join(
        progress_rows.select(*CARD, "last_attempted_at"), on=CARD, how="left"
    ).with_columns(resumable())
    resumed_keys = cards.filter("resumed").select(CARD)
    replayed_keys = cards.filter(~pl.col("resumed")).select(CARD)
    # each resumed card with stored reviews, with its last review's time
    stored_cards = (
        progress_rows.join(resumed_keys, on=CARD, how="semi")
        .filter(pl.col("next_review_at").is_not_null())
        .with_columns(last_reviewed_at())
    )
    resumed_attempts = new.join(resumed_keys, on=CARD, how="semi", maintain_order="left")
    replayed_attempts = (
        rows_for(
            con,
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE attempted_at <= ?",
            replayed_keys,
            CARD_KEYS,
            [as_of],
        ).sort(order)
        if replayed_keys.height
        else new.clear()
    )
    read = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        resumed_reviews, resumed_progress = _compute_parts(
            pool, resumed_attempts, params, words, workers, stored_cards
        )
        replayed_reviews, replayed_progress = _compute_parts(
            pool, replayed_attempts, params, words, workers
        )
    computed = time.perf_counter()
    progress = pl.concat([resumed_progress, replayed_progress])
    with transaction(con):
        insert_frame(con, "reviews", resumed_reviews)
        replace_keys(con, "reviews", replayed_reviews, replayed_keys)
        crash_point("srs:incremental")
        replace_keys(con, "word_progress", progress, keys)
        crash_point("srs:incremental")
        _record_state(con, state, ALL_SOURCES)
        mark_touched(con, cards.select(*CARD, "since"))
    learners = cards["user_id"].n_unique()
    summary = SrsSummary(
        batches=1,
        mode="incremental",
        learners_replayed=learners,
        cards_resumed=resumed_keys.height,
        cards_replayed=replayed_keys.height,
    )
    summary.reason = (
        f"{cards.height} card(s) of {learners} learner(s) with new attempts: "
        f"{resumed_keys.height} resumed, {replayed_keys.height} replayed"
    )
    summary.read_s = read - began
    summary.compute_s = computed - read
    summary.write_s = time.perf_counter() - computed
    summary.add_batch(
        resumed_attempts.height + replayed_attempts.height,
        resumed_reviews.height + replayed_reviews.height,
        progress.height,
    )
    summary.reviews = int(str(scalar(con, "SELECT count(*) FROM reviews")))
    summary.cards = int(str(scalar(con, "SELECT count(*) FROM word_progress")))
    return summary


def _replay_changed(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    stored: SrsState,
    state: SrsState,
    words: pl.DataFrame,
    workers: int,
) -> SrsSummary:
    """The nightly update under review unit "session": a learner's sessions span cards and
    (derived ones) are cut by the gaps between all their attempts, so every changed card
    replays its whole history."""
    began = time.perf_counter()
    as_of = state.as_of
    cards = changed_cards(con, stored, as_of)
    learners = cards["user_id"].n_unique()
    summary = SrsSummary(
        batches=1,
        mode="incremental",
        learners_replayed=learners,
        cards_resumed=0,
        cards_replayed=cards.height,
    )
    summary.reason = f"{cards.height} card(s) of {learners} learner(s) with new attempts"
    keys = cards.select(CARD)
    attempts = rows_for(
        con,
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE attempted_at <= ?",
        keys,
        CARD_KEYS,
        [as_of],
    ).sort("user_id", "language", "word_uid", "attempted_at", "uuid_local")
    read = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        reviews, progress = _compute_parts(pool, attempts, params, words, workers)
    computed = time.perf_counter()
    with transaction(con):
        for table, frame in (("reviews", reviews), ("word_progress", progress)):
            replace_keys(con, table, frame, keys)
            crash_point("srs:incremental")
        _record_state(con, state, ALL_SOURCES)
        mark_touched(con, cards)
    summary.read_s = read - began
    summary.compute_s = computed - read
    summary.write_s = time.perf_counter() - computed
    summary.add_batch(attempts.height, reviews.height, progress.height)
    summary.reviews = int(str(scalar(con, "SELECT count(*) FROM reviews")))
    summary.cards = int(str(scalar(con, "SELECT count(*) FROM word_progress")))
    return summary


def params_used(con: duckdb.DuckDBPyConnection) -> SM2Params:
    text = scalar(con, "SELECT params FROM sm2_params_used")
    return SM2Params.from_dict(json.loads(str(text))) if text else SM2Params()


def recompute_due_forecast(con: duckdb.DuckDBPyConnection, as_of: datetime) -> pl.DataFrame:
    progress = query(con, "SELECT user_id, language, next_review_at FROM word_progress")
    return build_due_forecast(progress, as_of)
