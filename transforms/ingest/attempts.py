"""Load attempt sources (landing files, Postgres batches) into the warehouse, idempotently.

A source is known by its content hash: the same bytes are never ingested twice, whatever the file
is called. Sources load in batches, each in one transaction: for every source,
rows read = accepted + duplicates + rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.buckets import stored_buckets, with_bucket
from transforms.failpoints import crash_point
from transforms.ingest.dedupe import ATTEMPT_KEY, RecordKey, deduplicate
from transforms.ingest.fields import FIELDS
from transforms.ingest.readers import (
    REJECT_SCHEMA,
    RawRead,
    UnreadableFile,
    attempt_format,
    read_attempt_file,
)
from transforms.ingest.validate import Validated, validate_attempts
from transforms.warehouse import insert_frame, query, registered, transaction

IGNORED_SUFFIXES: tuple[str, ...] = (".tmp", ".part", ".partial")
DEFAULT_BATCH_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    """One attempt source to ingest: a landing file or a Postgres batch."""

    source_id: str  # content hash
    kind: str  # "file" or "postgres"
    path: str
    format: str | None
    size_bytes: int | None
    mtime_ns: int | None = None
    watermark: datetime | None = None
    # Postgres batches: (row_key, created_at) of every row read, remembered in `postgres_rows`
    row_keys: pl.DataFrame | None = None


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(folder: Path) -> list[Path]:
    """Every file the app dropped, in a stable order; hidden and partial files are skipped."""
    if not folder.exists():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and not p.name.lower().endswith(IGNORED_SUFFIXES)
    )


@dataclass(frozen=True)
class RecordType:
    """One kind of landing record the ingestion framework loads: how its files are read and
    validated, its idempotency key, and the tables it writes (accepted rows, rejects, and the
    content-hash ledger of its sources, all with the attempt tables' bookkeeping columns)."""

    name: str
    validate: Callable[[pl.DataFrame, datetime], Validated]
    read: Callable[[Path], RawRead]
    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    key: RecordKey = ATTEMPT_KEY
    table: str = "attempts"
    rejects_table: str = "attempt_rejects"
    ledger: str = "ingested_files"


ATTEMPTS = RecordType(name="attempt", validate=validate_attempts, read=read_attempt_file)


def new_file_sources(
    con: duckdb.DuckDBPyConnection, folder: Path, ledger: str = "ingested_files"
) -> list[Source]:
    """The landing files whose content is not yet in `ledger` (renamed copies add nothing)."""
    seen = {
        row[0]: (row[1], row[2], row[3])
        for row in con.execute(
            "SELECT path, size_bytes, mtime_ns, content_hash FROM landing_paths"
        ).fetchall()
    }
    known = {row[0] for row in con.execute(f'SELECT content_hash FROM "{ledger}"').fetchall()}
    sources: list[Source] = []
    aliases: list[Source] = []
    for path in landing_files(folder):
        stat = path.stat()
        key = str(path)
        if key in seen and seen[key][:2] == (stat.st_size, stat.st_mtime_ns):
            continue
        digest = file_hash(path)
        source = Source(digest, "file", key, attempt_format(path), stat.st_size, stat.st_mtime_ns)
        if digest in known or any(s.source_id == digest for s in sources):
            aliases.append(source)  # a renamed copy: remember its path, ingest nothing
        else:
            sources.append(source)
    remember_sources(con, aliases)
    return sources


def remember_sources(con: duckdb.DuckDBPyConnection, sources: list[Source]) -> None:
    """Record the landing paths of file sources (path, size, mtime -> content hash) and the
    row keys of Postgres batches."""
    for source in sources:
        if source.row_keys is not None and source.row_keys.height:
            insert_frame(
                con,
                "postgres_rows",
                source.row_keys.select(
                    "row_key", "created_at", pl.lit(source.source_id).alias("source_id")
                ),
            )
    rows = [
        {
            "path": s.path,
            "size_bytes": s.size_bytes,
            "mtime_ns": s.mtime_ns,
            "content_hash": s.source_id,
        }
        for s in sources
        if s.kind == "file"
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "path": pl.String,
            "size_bytes": pl.Int64,
            "mtime_ns": pl.Int64,
            "content_hash": pl.String,
        },
    )
    insert_frame(con, "landing_paths", frame, verb="INSERT OR REPLACE")


GZIP_RATIO = 6  # about what attempt logs compress by
PARQUET_ROW_BYTES = 200  # about a row's size once read as text


def in_memory_bytes(source: Source) -> int:
    """Roughly what a source takes once read: Parquet by its row count, gzip by its ratio."""
    if source.format == "parquet":
        try:
            return pq.read_metadata(source.path).num_rows * PARQUET_ROW_BYTES
        except (OSError, pa.ArrowInvalid):
            return source.size_bytes or 0
    size = source.size_bytes or 0
    return size * GZIP_RATIO if source.path.lower().endswith(".gz") else size


def batches(sources: Iterable[Source], max_bytes: int) -> Iterator[list[Source]]:
    """Group sources into batches taking at most about `max_bytes` once read (a larger source
    is a batch alone), so memory is bounded by a batch whatever the format."""
    batch: list[Source] = []
    size = 0
    for source in sources:
        weight = in_memory_bytes(source)
        if batch and size + weight > max_bytes:
            yield batch
            batch, size = [], 0
        batch.append(source)
        size += weight
    if batch:
        yield batch


def _existing(
    con: duckdb.DuckDBPyConnection, keys: pl.DataFrame, record: RecordType = ATTEMPTS
) -> pl.DataFrame:
    """The stored rows (payload and origin) of the batch's idempotency keys."""
    k = record.key
    cols = ", ".join([f"a.{k.key}", *(f"a.{c}" for c in k.payload), "a.source_id", "a.source_row"])
    with registered(con, "_batch_uuids", keys):
        return query(
            con,
            f'SELECT {cols} FROM "{record.table}" a SEMI JOIN _batch_uuids b USING ({k.key})',
        )


def ingest_sources(
    con: duckdb.DuckDBPyConnection,
    reads: list[tuple[Source, RawRead | str]],
    ingested_at: datetime,
    record: RecordType = ATTEMPTS,
) -> pl.DataFrame:
    """Validate, deduplicate and store one batch of read sources in one transaction.

    Each read is a `RawRead`, or the message of why the source could not be read at all.
    Returns the batch's rows of the record type's ledger (`ingested_files` for attempts).
    """
    readable = [(s, r) for s, r in reads if isinstance(r, RawRead)]
    rows = pl.concat(
        [r.rows.with_columns(pl.lit(s.source_id).alias("source_id")) for s, r in readable]
        or [_empty_rows(record.fields)],
        how="vertical_relaxed",
    )
    unparseable = pl.concat(
        [r.unparseable.with_columns(pl.lit(s.source_id).alias("source_id")) for s, r in readable]
        or [pl.DataFrame(schema={"source_id": pl.String})],
        how="diagonal_relaxed",
    )
    validated = record.validate(rows, ingested_at)
    existing = _existing(con, validated.accepted.select(record.key.key).unique(), record)
    dedup = deduplicate(validated.accepted, existing, record.key)
    rejects = pl.concat(
        [
            frame.select("source_id", "source_row", "reason", "message", "raw")
            for frame in (unparseable, validated.rejects, dedup.conflicts)
            if frame.height
        ]
        or [pl.DataFrame(schema=REJECT_COLUMNS)],
        how="vertical_relaxed",
    )
    stats = _stats(reads, rows, unparseable, dedup.new, dedup.duplicates, rejects, ingested_at)
    new = with_bucket(dedup.new.drop("raw"), stored_buckets(con))
    with transaction(con):
        insert_frame(con, record.table, new)
        crash_point("ingest:transaction")
        insert_frame(con, record.rejects_table, rejects)
        insert_frame(con, record.ledger, stats)
        remember_sources(con, [s for s, _ in reads])
    return stats


REJECT_COLUMNS: dict[str, type[pl.DataType]] = {"source_id": pl.String, **REJECT_SCHEMA}


def _empty_rows(fields: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            **{c: pl.String for c in fields},
            "source_row": pl.Int64,
            "raw": pl.String,
            "source_id": pl.String,
        }
    )


def _count_by_source(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.group_by("source_id").agg(pl.len().cast(pl.Int64).alias(name))


def _stats(
    reads: list[tuple[Source, RawRead | str]],
    rows: pl.DataFrame,
    unparseable: pl.DataFrame,
    new: pl.DataFrame,
    duplicates: pl.DataFrame,
    rejects: pl.DataFrame,
    ingested_at: datetime,
) -> pl.DataFrame:
    meta = pl.DataFrame(
        [
            {
                "content_hash": s.source_id,
                "source_kind": s.kind,
                "path": s.path,
                "format": s.format,
                "size_bytes": s.size_bytes,
                "status": "failed" if isinstance(r, str) else "loaded",
                "error": r if isinstance(r, str) else None,
                "watermark": s.watermark,
                "ingested_at": ingested_at,
            }
            for s, r in reads
        ],
        schema_overrides={
            "watermark": pl.Datetime("us"),
            "ingested_at": pl.Datetime("us"),
            "error": pl.String,
            "format": pl.String,
            "size_bytes": pl.Int64,
        },
    )
    read = pl.concat([rows.select("source_id"), unparseable.select("source_id")])
    counts = [
        _count_by_source(read, "rows_read"),
        _count_by_source(new, "accepted"),
        _count_by_source(duplicates, "duplicates"),
        _count_by_source(rejects, "rejected"),
    ]
    out = meta
    for frame in counts:
        out = out.join(frame.rename({"source_id": "content_hash"}), on="content_hash", how="left")
    return out.with_columns(pl.col("rows_read", "accepted", "duplicates", "rejected").fill_null(0))


def ingest_landing_files(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    ingested_at: datetime,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
    record: RecordType = ATTEMPTS,
) -> pl.DataFrame:
    """Ingest every new file of a landing folder (`attempts/` by default); returns their
    ledger rows (`ingested_files` for attempts)."""
    results: list[pl.DataFrame] = []
    for batch in batches(new_file_sources(con, folder, record.ledger), max_batch_bytes):
        reads: list[tuple[Source, RawRead | str]] = []
        for source in batch:
            try:
                reads.append((source, record.read(Path(source.path))))
            except UnreadableFile as exc:
                reads.append((source, f"the file could not be read: {exc}"))
        results.append(ingest_sources(con, reads, ingested_at, record))
        crash_point("ingest:batch")
    return pl.concat(results, how="vertical_relaxed") if results else pl.DataFrame()
