"""Client retries and conflicting duplicates, by an idempotency key (`uuid_local` for attempts,
`event_id` for course-platform events)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.ingest.fields import FIELDS, PAYLOAD


@dataclass(frozen=True)
class Deduplicated:
    new: pl.DataFrame  # rows to store
    duplicates: pl.DataFrame  # source_id, source_row of client retries (same payload)
    conflicts: pl.DataFrame  # reject rows: same key, different payload


@dataclass(frozen=True)
class RecordKey:
    """What identifies a record type's rows: the idempotency key, the payload fields that must
    agree between two rows with that key, and the raw fields (for a reject's `raw` text)."""

    key: str = "uuid_local"
    payload: tuple[str, ...] = PAYLOAD
    fields: tuple[str, ...] = tuple(FIELDS)


ATTEMPT_KEY = RecordKey()


def _differences(suffix: str, payload: tuple[str, ...]) -> pl.Expr:
    return pl.concat_str(
        [pl.when(~pl.col(c).eq_missing(pl.col(c + suffix))).then(pl.lit(c)) for c in payload],
        separator=", ",
        ignore_nulls=True,
    )


def _classify(
    rows: pl.DataFrame, reference: pl.DataFrame, rk: RecordKey
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose key is in `reference`: (duplicates, conflicts as reject rows)."""
    cols = [rk.key, *rk.payload, "_origin"]
    origin = pl.format("{} row {}", "source_id", "source_row").alias("_origin")
    joined = rows.join(
        reference.with_columns(origin).select(cols), on=rk.key, how="inner", suffix="_first"
    )
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(c + "_first")) for c in rk.payload])
    duplicates = joined.filter(same).select("source_id", "source_row")
    conflicts = joined.filter(~same).select(
        "source_id",
        "source_row",
        pl.lit("conflicting_duplicate").alias("reason"),
        pl.format(
            f"{rk.key} {{}} was first ingested from {{}} with a different {{}}",
            rk.key,
            "_origin",
            _differences("_first", rk.payload),
        ).alias("message"),
        pl.coalesce("raw", pl.struct(list(rk.fields)).struct.json_encode()).alias("raw"),
    )
    return duplicates, conflicts


def deduplicate(
    batch: pl.DataFrame, existing: pl.DataFrame, rk: RecordKey = ATTEMPT_KEY
) -> Deduplicated:
    """Classify validated rows, in ingestion order, against each other and the warehouse.

    `existing` holds the warehouse's rows for the batch's keys (payload, source_id,
    source_row). The first row ingested for a key stays, whether in the warehouse or earliest
    in the batch; a later one is a duplicate when its payload is equal, else a conflict.
    """
    first = pl.col(rk.key).is_first_distinct()
    firsts, later = batch.filter(first), batch.filter(~first)
    stored = firsts[rk.key].is_in(existing[rk.key].implode())
    new = firsts.filter(~stored)
    keep = [rk.key, *rk.payload, "source_id", "source_row"]
    reference = pl.concat([existing.select(keep), new.select(keep)])
    duplicates, conflicts = _classify(pl.concat([firsts.filter(stored), later]), reference, rk)
    return Deduplicated(new=new, duplicates=duplicates, conflicts=conflicts)
