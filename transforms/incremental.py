"""What a nightly run touched, and rebuilding only those rows of a derived table.

The SRS step knows which cards its run changed: the cards with an attempt not replayed before
(a new file, or an attempt the later as-of time now includes), each with `since`, its earliest
such attempt. It records them in `touched_cards`, once per downstream consumer, in the same
transaction as its own rows; a full SRS recompute records `touched_all` instead. A consumer reads
its pending set, rebuilds the rows those cards reach, and clears the set in the transaction that
writes them: a crash between the two steps leaves the set pending, so the next run catches up.

A consumer of an ingested record type (the LMS events) needs no writer's help: the ingestion
ledger names every file, so `unconsumed_sources` are the files it has not read yet (their
rows carry the hash as `source_id`), and `mark_consumed` records the files in the consumer's
own transaction (a crash leaves them unread, so the next run reads them again).

SM-2 is causal per card: a card's reviews before `since` are the ones it had. So a table keyed
by learner rebuilds the touched learners; a table keyed by a group (a word, a week, a cohort)
rebuilds the groups the touched cards' attempts from `since` on fall in; `replace_keys` swaps
those rows in.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from transforms.keys import CARD, LEARNER
from transforms.warehouse import insert_frame, query, registered, scalar, table_exists

TOUCHED_CARDS = "touched_cards"  # (consumer, user_id, language, word_uid): since
TOUCHED_ALL = "touched_all"  # (consumer): every row pending, after a full recompute upstream
# the steps rebuilding from them
CONSUMERS: tuple[str, ...] = ("metrics", "lms_progress", "learned_words")
CONSUMED_FILES = "consumed_files"  # (consumer, content_hash): ingested sources already read


def _ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TOUCHED_CARDS} (consumer VARCHAR, user_id VARCHAR, "
        "language VARCHAR, word_uid VARCHAR, since TIMESTAMP)"
    )
    con.execute(f"CREATE TABLE IF NOT EXISTS {TOUCHED_ALL} (consumer VARCHAR)")


def mark_touched(con: duckdb.DuckDBPyConnection, cards: pl.DataFrame | None) -> None:
    """Record, for every consumer, the cards a run changed (`user_id`, `language`, `word_uid`,
    `since`), or everything (`None`: a full recompute). Call it inside the writer's transaction."""
    _ensure_tables(con)
    if cards is None:
        con.execute(f"DELETE FROM {TOUCHED_CARDS}")
        con.execute(f"DELETE FROM {TOUCHED_ALL}")
        for consumer in CONSUMERS:
            con.execute(f"INSERT INTO {TOUCHED_ALL} VALUES (?)", [consumer])
        return
    for consumer in CONSUMERS:
        insert_frame(
            con,
            TOUCHED_CARDS,
            cards.select(pl.lit(consumer).alias("consumer"), *CARD, "since"),
        )


@dataclass(frozen=True)
class Touched:
    """The cards changed since a consumer's last rebuild: `user_id`, `language`, `word_uid`,
    `since` (the earliest changed attempt), one row per card."""

    cards: pl.DataFrame

    @property
    def learners(self) -> pl.DataFrame:
        """(user_id, language): the learners of the touched cards, with their earliest `since`."""
        return self.cards.group_by(LEARNER).agg(pl.col("since").min()).sort(LEARNER)


def pending(con: duckdb.DuckDBPyConnection, consumer: str) -> Touched | None:
    """The consumer's pending cards, or `None` when everything is pending (a full recompute
    upstream, or no record yet)."""
    if not table_exists(con, TOUCHED_CARDS) or not table_exists(con, TOUCHED_ALL):
        return None
    everything = scalar(con, f"SELECT count(*) FROM {TOUCHED_ALL} WHERE consumer = ?", [consumer])
    if int(str(everything)):
        return None
    cards = query(
        con,
        f"SELECT user_id, language, word_uid, min(since) AS since FROM {TOUCHED_CARDS} "
        "WHERE consumer = ? GROUP BY ALL ORDER BY ALL",
        [consumer],
    )
    return Touched(cards)


def clear_pending(con: duckdb.DuckDBPyConnection, consumer: str) -> None:
    """The consumer is up to date: call it in the transaction that writes its rebuilt rows."""
    _ensure_tables(con)
    con.execute(f"DELETE FROM {TOUCHED_CARDS} WHERE consumer = ?", [consumer])
    con.execute(f"DELETE FROM {TOUCHED_ALL} WHERE consumer = ?", [consumer])


def replace_keys(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    keys: pl.DataFrame,
    from_value: tuple[str, object] | None = None,
) -> int:
    """Delete the rows of `table` whose key columns (the columns of `keys`) match a row of
    `keys`, then insert the rows of `frame` with such keys; returns the rows inserted. Call it
    inside a transaction, so readers see the old rows or the new ones. `from_value` (column,
    value): every key has that column at or above the value, so the delete reads only the row
    groups that reach it (a table appended in that column's order: the recent rows)."""
    on = keys.columns
    keys = keys.unique()
    rows = frame.join(keys, on=on, how="semi", nulls_equal=True)
    match = " AND ".join(f'"{table}"."{c}" IS NOT DISTINCT FROM _keys."{c}"' for c in on)
    params: list[object] = []
    if from_value is not None:
        match += f' AND "{table}"."{from_value[0]}" >= ?'
        params.append(from_value[1])
    with registered(con, "_keys", keys):
        con.execute(f'DELETE FROM "{table}" USING _keys WHERE {match}', params)
    return insert_frame(con, table, rows)


def rows_for(
    con: duckdb.DuckDBPyConnection,
    select: str,
    keys: pl.DataFrame,
    on: str,
    params: list[object] | None = None,
) -> pl.DataFrame:
    """`select` (SQL with `?` parameters), as `t`, semi-joined to `keys`, registered as `_keys`:
    `on` is the join condition, e.g. `USING (user_id, language)` or `ON t.day >= _keys.day`.
    Reads only the rows a rebuild needs."""
    with registered(con, "_keys", keys.unique()):
        return query(con, f"SELECT * FROM ({select}) t SEMI JOIN _keys {on}", params)


def _ensure_consumed(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {CONSUMED_FILES} (consumer VARCHAR, content_hash VARCHAR)"
    )


def unconsumed_sources(
    con: duckdb.DuckDBPyConnection, consumer: str, ledger: str
) -> list[str] | None:
    """The content hashes of the `ledger`'s ingested files that `consumer` has not read yet,
    or `None` when it has no record at all (its first run)."""
    if not table_exists(con, CONSUMED_FILES) or not table_exists(con, ledger):
        return None
    known = scalar(con, f"SELECT count(*) FROM {CONSUMED_FILES} WHERE consumer = ?", [consumer])
    if not int(str(known)):
        return None
    rows = query(
        con,
        f"SELECT content_hash FROM {ledger} l WHERE NOT EXISTS (SELECT 1 FROM {CONSUMED_FILES} "
        "c WHERE c.consumer = ? AND c.content_hash = l.content_hash) ORDER BY 1",
        [consumer],
    )
    return [str(h) for h in rows["content_hash"]]


def mark_consumed(
    con: duckdb.DuckDBPyConnection, consumer: str, ledger: str, sources: list[str] | None
) -> None:
    """`consumer` has read `sources` (`None`: every file of the `ledger`, after a full
    rebuild). Call it in the transaction that writes the consumer's rows."""
    _ensure_consumed(con)
    if sources is None:
        con.execute(f"DELETE FROM {CONSUMED_FILES} WHERE consumer = ?", [consumer])
        # a marker row, so an empty ledger still counts as read
        con.execute(f"INSERT INTO {CONSUMED_FILES} VALUES (?, '')", [consumer])
        if table_exists(con, ledger):
            con.execute(
                f"INSERT INTO {CONSUMED_FILES} SELECT ?, content_hash FROM {ledger}", [consumer]
            )
        return
    if sources:
        frame = pl.DataFrame({"content_hash": sources}, schema={"content_hash": pl.String})
        insert_frame(con, CONSUMED_FILES, frame.select(pl.lit(consumer).alias("consumer"), "*"))


def attempts_not_in(
    con: duckdb.DuckDBPyConnection,
    select: str,
    new_sources: list[str],
    since: object,
    as_of: object,
) -> pl.DataFrame:
    """`select` (SQL over `attempts`, no WHERE) of the attempts up to `as_of` that a stored
    result computed as of `since` did not include: after `since`, or from one of
    `new_sources` (ingested files it had not read). Read by conditions DuckDB prunes row
    groups on (an attempted_at range; a few source ids, as files are appended whole), never a
    pass over every attempt, so the cost follows the new attempts, not the history."""
    sql = f"{select} WHERE attempted_at > ? AND attempted_at <= ?"
    params: list[object] = [since, as_of]
    if new_sources:
        listed = ", ".join("?" * len(new_sources))
        sql += f" UNION ALL {select} WHERE source_id IN ({listed}) AND attempted_at <= ?"
        params += [*new_sources, since]
    return query(con, sql, params)
