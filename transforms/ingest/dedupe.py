"""Client retries and conflicting duplicates, by `uuid_local` (the contract's idempotency key)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from transforms.ingest.fields import FIELDS, PAYLOAD


@dataclass(frozen=True)
class Deduplicated:
    new: pl.DataFrame  # rows to store
    duplicates: pl.DataFrame  # source_id, source_row of client retries (same payload)
    conflicts: pl.DataFrame  # reject rows: same uuid_local, different payload


def _differences(suffix: str) -> pl.Expr:
    return pl.concat_str(
        [pl.when(~pl.col(c).eq_missing(pl.col(c + suffix))).then(pl.lit(c)) for c in PAYLOAD],
        separator=", ",
        ignore_nulls=True,
    )


def _classify(rows: pl.DataFrame, reference: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose uuid is in `reference`: (duplicates, conflicts as reject rows)."""
    cols = ["uuid_local", *PAYLOAD, "_origin"]
    origin = pl.format("{} row {}", "source_id", "source_row").alias("_origin")
    joined = rows.join(
        reference.with_columns(origin).select(cols), on="uuid_local", how="inner", suffix="_first"
    )
    same = pl.all_horizontal([pl.col(c).eq_missing(pl.col(c + "_first")) for c in PAYLOAD])
    duplicates = joined.filter(same).select("source_id", "source_row")
    conflicts = joined.filter(~same).select(
        "source_id",
        "source_row",
        pl.lit("conflicting_duplicate").alias("reason"),
        pl.format(
            "uuid_local {} was first ingested from {} with a different {}",
            "uuid_local",
            "_origin",
            _differences("_first"),
        ).alias("message"),
        pl.coalesce("raw", pl.struct(list(FIELDS)).struct.json_encode()).alias("raw"),
    )
    return duplicates, conflicts


def deduplicate(batch: pl.DataFrame, existing: pl.DataFrame) -> Deduplicated:
    """Classify validated rows, in ingestion order, against each other and the warehouse.

    `existing` holds the warehouse's rows for the batch's uuids (payload, source_id, source_row).
    The first row ingested for a uuid stays, whether in the warehouse or earliest in the batch; a
    later one is a duplicate when its payload is equal, else a conflict.
    """
    first = pl.col("uuid_local").is_first_distinct()
    firsts, later = batch.filter(first), batch.filter(~first)
    stored = firsts["uuid_local"].is_in(existing["uuid_local"].implode())
    new = firsts.filter(~stored)
    keep = ["uuid_local", *PAYLOAD, "source_id", "source_row"]
    reference = pl.concat([existing.select(keep), new.select(keep)])
    duplicates, conflicts = _classify(pl.concat([firsts.filter(stored), later]), reference)
    return Deduplicated(new=new, duplicates=duplicates, conflicts=conflicts)
