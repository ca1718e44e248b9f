"""Read one attempt-log file into string columns, keeping every unparseable row.

Every reader returns a `RawRead`: `rows` has the contract's fields as nullable strings plus
`source_row` (1-based line or row number) and `raw` (the verbatim line where the format has one);
`unparseable` has the rows that could not be parsed at all, with their raw text.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from transforms.ingest.fields import FIELDS, to_snake

ATTEMPT_SUFFIXES: tuple[str, ...] = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet")
REJECT_SCHEMA: dict[str, type[pl.DataType]] = {
    "source_row": pl.Int64,
    "reason": pl.String,
    "message": pl.String,
    "raw": pl.String,
}


@cache
def _parser() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB for parsing, shared by every read (its cursors are cheap)."""
    return duckdb.connect()


class UnreadableFile(Exception):
    """The file as a whole cannot be read: none of its rows can be attributed."""


@dataclass(frozen=True)
class RawRead:
    rows: pl.DataFrame
    unparseable: pl.DataFrame


def attempt_format(path: Path) -> str | None:
    """`jsonl`, `csv` or `parquet` from the file name, or None for a file that is not a log."""
    name = path.name.lower()
    for suffix in ATTEMPT_SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1]
    return None


def read_attempt_file(path: Path, fields: dict[str, str] = FIELDS) -> RawRead:
    """Read a landing file in whichever format its name says, into the string columns of
    `fields` (snake_case name -> camelCase name; the attempt contract's by default, another
    record type's, such as course-platform events, otherwise)."""
    fmt = attempt_format(path)
    try:
        if fmt == "jsonl":
            return _read_jsonl(path, fields)
        if fmt == "csv":
            return _read_csv(path, fields)
        if fmt == "parquet":
            return _read_parquet(path, fields)
    except UnreadableFile:
        raise
    except (OSError, EOFError, UnicodeDecodeError, duckdb.Error, pl.exceptions.PolarsError) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from exc
    raise UnreadableFile(f"not an attempt log (expected one of {', '.join(ATTEMPT_SUFFIXES)})")


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _string_frame(frame: pl.DataFrame, fields: dict[str, str]) -> pl.DataFrame:
    """Rename camelCase to snake_case, keep the contract's fields as strings, add missing ones."""
    renamed = frame.rename({c: to_snake(c) for c in frame.columns if to_snake(c) in fields})
    present = [c for c in fields if c in renamed.columns]
    out = renamed.select(present).with_columns(pl.all().cast(pl.String))
    missing = [pl.lit(None, dtype=pl.String).alias(c) for c in fields if c not in present]
    return out.with_columns(missing).select(list(fields))


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def _read_jsonl(path: Path, fields: dict[str, str]) -> RawRead:
    lines = (
        pl.Series("raw", [_read_text(path)])
        .str.split("\n")
        .explode()
        .to_frame()
        .with_row_index("source_row", offset=1)
        .with_columns(pl.col("source_row").cast(pl.Int64), pl.col("raw").str.strip_suffix("\r"))
        .filter(pl.col("raw").str.strip_chars() != "")
    )
    # One parse per line: every camelCase and snake_case path extracted in a single call.
    paths = [p for snake, camel in fields.items() for p in (f'$."{camel}"', f'$."{snake}"')]
    picks = ",\n".join(
        f"coalesce(v[{2 * i + 1}], v[{2 * i + 2}]) AS {snake}" for i, snake in enumerate(fields)
    )
    con = _parser().cursor()
    con.register("lines", lines)
    try:
        parsed = con.sql(
            f"""
            WITH typed AS (
                SELECT source_row, raw,
                       json_valid(raw) AS valid,
                       CASE WHEN json_valid(raw) THEN raw END AS doc
                FROM lines
            ), extracted AS (
                SELECT source_row, raw, valid,
                       coalesce(json_type(doc) = 'OBJECT', false) AS is_object,
                       CASE WHEN json_type(doc) = 'OBJECT'
                            THEN json_extract_string(doc, ?) END AS v
                FROM typed
            )
            SELECT source_row, raw, valid, is_object, {picks} FROM extracted ORDER BY source_row
            """,
            params=[paths],
        ).pl()
    finally:
        con.close()
    bad = parsed.filter(~pl.col("is_object")).select(
        "source_row",
        pl.lit("unparseable_row").alias("reason"),
        pl.when(pl.col("valid"))
        .then(pl.lit("the line is JSON but not an object"))
        .otherwise(pl.lit("the line is not valid JSON"))
        .alias("message"),
        "raw",
    )
    good = parsed.filter(pl.col("is_object"))
    rows = _string_frame(good.select(list(fields)), fields).with_columns(
        good["source_row"], good["raw"]
    )
    return RawRead(rows=rows, unparseable=bad)


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        header = next(csv.reader(io.StringIO(handle.readline())), [])
    if not header:
        raise UnreadableFile("the CSV file has no header line")
    return header


def _read_csv(path: Path, fields: dict[str, str]) -> RawRead:
    header = _csv_header(path)
    if not {to_snake(c) for c in header} & set(fields):
        kind = "attempt" if fields is FIELDS else "record"
        raise UnreadableFile(f"the CSV header names none of the {kind} fields: {header}")
    if len(set(header)) != len(header):
        raise UnreadableFile(f"the CSV header repeats a column name: {header}")
    columns = {name: "VARCHAR" for name in header}
    con = _parser().cursor()
    try:
        frame = con.sql(
            """
            SELECT * FROM read_csv(?, columns = ?, header = true, auto_detect = false,
                                   delim = ',', quote = '"', escape = '"',
                                   store_rejects = true, null_padding = false)
            """,
            params=[str(path), columns],
        ).pl()
        errors = con.sql(
            """
            SELECT line::BIGINT AS source_row,
                   string_agg(DISTINCT error_type::VARCHAR, '; ') AS kinds,
                   any_value(csv_line) AS raw
            FROM reject_errors GROUP BY line ORDER BY line
            """
        ).pl()
    finally:
        con.close()
    # Number the accepted rows with the line numbers the rejected lines leave free.
    total = frame.height + errors.height
    lines = np.arange(2, total + 2, dtype=np.int64)
    free = lines[~np.isin(lines, errors["source_row"].to_numpy())]
    rows = _string_frame(frame, fields).with_columns(
        pl.Series("source_row", free[: frame.height], dtype=pl.Int64),
        pl.lit(None, dtype=pl.String).alias("raw"),
    )
    bad = errors.select(
        "source_row",
        pl.lit("unparseable_row").alias("reason"),
        pl.format("malformed CSV line: {}", pl.col("kinds").str.to_lowercase()).alias("message"),
        "raw",
    )
    return RawRead(rows=rows, unparseable=bad)


def _read_parquet(path: Path, fields: dict[str, str]) -> RawRead:
    frame = pl.read_parquet(path)
    stamps = {
        name: pl.col(name).dt.convert_time_zone("UTC")
        if getattr(dtype, "time_zone", None)
        else pl.col(name).dt.replace_time_zone("UTC")
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime)
    }
    frame = frame.with_columns(
        expr.dt.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00").alias(name) for name, expr in stamps.items()
    )
    rows = _string_frame(frame, fields).with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("source_row"),
        pl.lit(None, dtype=pl.String).alias("raw"),
    )
    return RawRead(rows=rows, unparseable=empty_rejects())
