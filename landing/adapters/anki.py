"""Anki review logs (a collection's `revlog`, or its CSV export) as attempts and a manifest.

Mapping: one learner; item = card, as the word `ja:<deck>:<card id>`; correct = `ease > 1`;
response time = the answer time; attempted at = the review's epoch milliseconds; step type from
the review kind (learn, review, relearn, filtered); no session ids (the pipeline derives them
from 30-minute gaps). One manifest version lists every card, a level per deck.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from transforms.ingest.fields import FIELDS

DEFAULT_SOURCE = Path("data/real/anki-kanjiplot/revlog.csv")
NAMESPACE = uuid.UUID("6f1f1d7e-64a9-4f4e-9d2c-2f8f3c1e5a10")
STEP_TYPES = {0: "learn", 1: "review", 2: "relearn", 3: "filtered"}
LANGUAGE = "ja"
DELETED_DECK = "deleted cards"


def read_revlog(source: Path) -> pl.DataFrame:
    """`review_ts_ms, card_id, deck, front, back, ease, time_ms, type` from CSV or collection."""
    if source.suffix == ".csv":
        frame = pl.read_csv(source, infer_schema_length=None)
    else:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as conn:
            decks = json.loads(conn.execute("SELECT decks FROM col").fetchone()[0])
            rows = conn.execute(
                "SELECT r.id, r.cid, c.did, n.flds, r.ease, r.time, r.type "
                "FROM revlog r LEFT JOIN cards c ON c.id = r.cid LEFT JOIN notes n ON n.id = c.nid"
            ).fetchall()
        frame = pl.DataFrame(
            [
                {
                    "review_ts_ms": r[0],
                    "card_id": r[1],
                    "deck": decks[str(r[2])]["name"] if r[2] is not None else None,
                    "front": (r[3] or "").split("\x1f")[0],
                    "back": [*(r[3] or "").split("\x1f"), ""][1],
                    "ease": r[4],
                    "time_ms": r[5],
                    "type": r[6],
                }
                for r in rows
            ],
            schema_overrides={"deck": pl.String},
        )
    # Reviews of cards deleted from the collection since keep their log but lose deck and text.
    return frame.select(
        "review_ts_ms",
        "card_id",
        pl.col("deck").fill_null(DELETED_DECK),
        pl.col("front").fill_null(""),
        pl.col("back").fill_null(""),
        "ease",
        "time_ms",
        "type",
    ).sort("review_ts_ms", "card_id")


def _slug(deck: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", deck.strip()).strip("-").lower() or "deck"


def to_attempts(revlog: pl.DataFrame, learner: str = "anki-kanjiplot") -> pl.DataFrame:
    """One attempt per review, in the app's camelCase contract."""
    user = str(uuid.uuid5(NAMESPACE, learner))
    ids = [
        str(uuid.uuid5(NAMESPACE, f"{learner}:{ts}:{card}"))
        for ts, card in revlog.select("review_ts_ms", "card_id").iter_rows()
    ]
    return revlog.select(
        pl.Series("uuidLocal", ids),
        pl.lit(user).alias("userId"),
        pl.lit(LANGUAGE).alias("language"),
        pl.format(
            "{}:{}:{}",
            pl.lit(LANGUAGE),
            pl.col("deck").map_elements(_slug, return_dtype=pl.String),
            pl.col("card_id"),
        ).alias("wordUid"),
        pl.col("type").replace_strict(STEP_TYPES, default="review").alias("stepType"),
        (pl.col("ease") > 1).alias("correct"),
        pl.col("time_ms").clip(0, 3_600_000).cast(pl.Int64).alias("responseTimeMs"),
        pl.col("review_ts_ms").alias("attemptedAt"),
    ).select(
        [
            c
            for c in FIELDS.values()
            if c
            in {
                "uuidLocal",
                "userId",
                "language",
                "wordUid",
                "stepType",
                "correct",
                "responseTimeMs",
                "attemptedAt",
            }
        ]
    )


def to_manifest(revlog: pl.DataFrame) -> dict:
    """Version 1 of a `ja` course: a level per deck, a group per deck, a word per card."""
    cards = revlog.unique("card_id", keep="first").sort("deck", "card_id")
    first = datetime.fromtimestamp(
        int(revlog["review_ts_ms"].min()) / 1000,  # type: ignore[arg-type]
        tz=UTC,
    ) - timedelta(days=1)
    levels = []
    for level, (deck,) in enumerate(
        cards.select("deck").unique(maintain_order=True).iter_rows(), start=1
    ):
        members = cards.filter(pl.col("deck") == deck)
        levels.append(
            {
                "level": level,
                "title": deck,
                "groups": [
                    {
                        "uid": _slug(deck),
                        "title": deck,
                        "words": [
                            {"uid": f"{LANGUAGE}:{_slug(deck)}:{c}", "text": f, "translation": b}
                            for c, f, b in members.select("card_id", "front", "back").iter_rows()
                        ],
                    }
                ],
            }
        )
    return {
        "language": LANGUAGE,
        "version": 1,
        "publishedAt": first.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "levels": levels,
    }


def write_landing(source: Path, out: Path) -> tuple[int, int]:
    """Write `attempts/anki-revlog.jsonl` and `manifests/ja-v1.json`; returns (attempts, cards)."""
    revlog = read_revlog(source)
    (out / "attempts").mkdir(parents=True, exist_ok=True)
    (out / "manifests").mkdir(parents=True, exist_ok=True)
    to_attempts(revlog).write_ndjson(out / "attempts" / "anki-revlog.jsonl")
    manifest = to_manifest(revlog)
    (out / "manifests" / "ja-v1.json").write_text(json.dumps(manifest, ensure_ascii=False))
    return revlog.height, revlog["card_id"].n_unique()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Turn an Anki review log into a landing folder.")
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="revlog.csv, or an Anki collection.anki2",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    attempts, cards = write_landing(args.source, args.out)
    print(f"wrote {attempts:,} attempts of {cards:,} cards from {args.source} to {args.out}")


if __name__ == "__main__":
    main()
