"""Validate string attempt rows against the contract: typed accepted rows, and rejects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from transforms.ingest.fields import (
    ATTEMPT,
    FIELDS,
    MAX_RESPONSE_MS,
    REQUIRED,
    STEP_TYPE_PATTERN,
    UUID_PATTERN,
    WORD_UID_PATTERN,
)
from transforms.languages import ISO_639_1

EARLIEST = datetime(2000, 1, 1)
FUTURE_TOLERANCE = timedelta(minutes=5)
TRUE_TOKENS = ("true", "1")
FALSE_TOKENS = ("false", "0")


@dataclass(frozen=True)
class Validated:
    accepted: pl.DataFrame
    rejects: pl.DataFrame


def rejected_rows(checked: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """The rows with a `_reason`, as reject rows: source, row, reason, message, and the raw
    text (the fields as a JSON object when the reader kept none)."""
    return checked.filter(pl.col("_reason").is_not_null()).select(
        "source_id",
        "source_row",
        pl.col("_reason").alias("reason"),
        pl.col("_message").alias("message"),
        pl.coalesce("raw", pl.struct(fields).struct.json_encode()).alias("raw"),
    )


def parse_timestamp(col: pl.Expr) -> pl.Expr:
    """ISO-8601 with an offset (`Z` or `±hh:mm`), or epoch milliseconds, to naive UTC."""
    text = col.str.strip_chars()
    iso = (
        text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
        .str.replace(r"[zZ]$", "+00:00")
        .str.replace(r"([+-]\d{2})(\d{2})$", "${1}:${2}")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC")
        .dt.replace_time_zone(None)
        .dt.cast_time_unit("us")
    )
    epoch = (
        pl.when(text.str.contains(r"^\d{1,15}$"))
        .then(text.cast(pl.Int64, strict=False))
        .cast(pl.Datetime("ms"))
        .dt.cast_time_unit("us")
    )
    return pl.coalesce(epoch, iso)


def first_failure(checks: list[tuple[str, pl.Expr, pl.Expr]]) -> tuple[pl.Expr, pl.Expr]:
    """(reason, message) of the first check in order whose condition holds, else nulls; each
    check is (reason code, failed condition, message)."""
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    message: pl.Expr = pl.lit(None, dtype=pl.String)
    for code, failed, text in reversed(checks):
        reason = pl.when(failed.fill_null(False)).then(pl.lit(code)).otherwise(reason)
        message = pl.when(failed.fill_null(False)).then(text).otherwise(message)
    return reason, message


def in_registry_order(
    checks: list[tuple[str, pl.Expr, pl.Expr]],
) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """The row checks in the order `ATTEMPT.reasons` states (a row gets the first that
    fails); a check without a registered reason is an error."""
    order = [r.code for r in ATTEMPT.reasons]
    unregistered = sorted({code for code, _, _ in checks} - set(order))
    if unregistered:
        raise ValueError(f"reject reasons missing from ATTEMPT.reasons: {unregistered}")
    return sorted(checks, key=lambda check: order.index(check[0]))


def validate_attempts(rows: pl.DataFrame, ingested_at: datetime) -> Validated:
    """Split string rows into typed accepted rows and rejects with the first failing reason.

    `rows` has the contract's fields as strings plus `source_id`, `source_row` and `raw`.
    `ingested_at` (naive UTC) bounds `attempted_at` from above, with 5 minutes of tolerance.
    """
    s = {name: pl.col(name).str.strip_chars() for name in FIELDS}
    correct_token = s["correct"].str.to_lowercase()
    response_int = s["response_time_ms"].cast(pl.Int64, strict=False)
    word = s["word_uid"].str.extract(WORD_UID_PATTERN, 1)
    blank = {name: s[name].fill_null("") == "" for name in REQUIRED}
    is_missing = pl.any_horizontal(list(blank.values()))
    missing_names = pl.concat_str(
        [pl.when(empty).then(pl.lit(name)) for name, empty in blank.items()],
        separator=", ",
        ignore_nulls=True,
    )
    latest = ingested_at + FUTURE_TOLERANCE
    checks: list[tuple[str, pl.Expr, pl.Expr]] = [
        ("missing_field", is_missing, pl.format("missing required field(s): {}", missing_names)),
        (
            "invalid_uuid",
            ~s["uuid_local"].str.contains(UUID_PATTERN) | ~s["user_id"].str.contains(UUID_PATTERN),
            pl.format(
                "uuid_local '{}' / user_id '{}' must both be UUIDs", s["uuid_local"], s["user_id"]
            ),
        ),
        (
            "unknown_language",
            ~s["language"].is_in(sorted(ISO_639_1)),
            pl.format("language '{}' is not a lower-case ISO 639-1 code", s["language"]),
        ),
        (
            "invalid_word_uid",
            word.is_null(),
            pl.format("word_uid '{}' is not <language>:<group uid>:<word>", s["word_uid"]),
        ),
        (
            "word_language_mismatch",
            word != s["language"],
            pl.format(
                "word_uid '{}' has prefix '{}' but language is '{}'",
                s["word_uid"],
                word,
                s["language"],
            ),
        ),
        (
            "invalid_step_type",
            ~s["step_type"].str.contains(STEP_TYPE_PATTERN),
            pl.format("step_type '{}' is not a token [A-Za-z][A-Za-z0-9_]*", s["step_type"]),
        ),
        (
            "invalid_correct",
            ~correct_token.is_in([*TRUE_TOKENS, *FALSE_TOKENS]),
            pl.format("correct '{}' is not true/false/1/0", s["correct"]),
        ),
        (
            "invalid_response_time",
            ~s["response_time_ms"].str.contains(r"^[+-]?\d+$") | response_int.is_null(),
            pl.format("response_time_ms '{}' is not an integer", s["response_time_ms"]),
        ),
        (
            "response_time_out_of_range",
            (response_int < 0) | (response_int > MAX_RESPONSE_MS),
            pl.format("response_time_ms {} is outside 0..3600000", response_int),
        ),
        (
            "invalid_timestamp",
            pl.col("_attempted_at").is_null(),
            pl.format(
                "attempted_at '{}' is neither ISO-8601 with an offset nor epoch milliseconds",
                s["attempted_at"],
            ),
        ),
        (
            "timestamp_too_early",
            pl.col("_attempted_at") < pl.lit(EARLIEST),
            pl.format("attempted_at {} is before 2000-01-01", pl.col("_attempted_at")),
        ),
        (
            "timestamp_in_future",
            pl.col("_attempted_at") > pl.lit(latest),
            pl.format(
                "attempted_at {} is more than 5 minutes after ingestion at {}",
                pl.col("_attempted_at"),
                pl.lit(ingested_at.isoformat(sep=" ")),
            ),
        ),
    ]
    reason, message = first_failure(in_registry_order(checks))
    checked = rows.with_columns(parse_timestamp(pl.col("attempted_at")).alias("_attempted_at"))
    checked = checked.with_columns(reason.alias("_reason"), message.alias("_message"))

    accepted = checked.filter(pl.col("_reason").is_null()).select(
        s["uuid_local"].str.to_lowercase().alias("uuid_local"),
        s["user_id"].str.to_lowercase().alias("user_id"),
        s["language"].alias("language"),
        s["word_uid"].alias("word_uid"),
        s["step_type"].alias("step_type"),
        correct_token.is_in(TRUE_TOKENS).alias("correct"),
        response_int.cast(pl.Int32).alias("response_time_ms"),
        pl.col("_attempted_at").alias("attempted_at"),
        pl.when(s["session_id"] != "").then(s["session_id"]).alias("session_id"),
        pl.col("user_response"),
        pl.col("correct_answer"),
        "source_id",
        "source_row",
        "raw",
    )
    return Validated(accepted=accepted, rejects=rejected_rows(checked, list(FIELDS)))
