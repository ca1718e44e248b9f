"""The Delta Lake of the sharded tables: a local folder or `s3://`, partitioned by `bucket`.

The partition IO, in a few lines on `deltalake` and Polars:

- `ensure_table` creates a table (empty, partitioned by `bucket`) before any parallel writer
  touches it: two writers creating the same table at once lose data silently.
- `replace_bucket` overwrites one bucket's rows in one commit (`mode="overwrite"` with the
  predicate `bucket = b`): a killed writer leaves the bucket as it was, files it wrote are not
  in the log (and `compact_and_vacuum` deletes them); writers of different buckets commit
  side by side.
- `scan` and `live_files` read through the Delta log, never a glob of the folder (which holds
  the dead files of earlier versions).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

BUCKET = "bucket"
# files removed from the log at least this long ago are deleted by the fan-in's vacuum: a
# reader that listed the files just before a commit can still read them
VACUUM_RETENTION_HOURS = 1


def is_remote(lake: str) -> bool:
    return "://" in lake


def table_uri(lake: str, table: str) -> str:
    """Where `table` lives in the lake (an absolute folder for a local lake)."""
    if is_remote(lake):
        return f"{lake.rstrip('/')}/{table}"
    return str((Path(lake) / table).resolve())


def storage_options(lake: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The object store's options for an `s3://` lake: every `AWS_*` variable (credentials,
    `AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` for an emulator); none for a folder."""
    if not is_remote(lake):
        return {}
    return {key: value for key, value in environ.items() if key.startswith("AWS_")}


def exists(uri: str, options: Mapping[str, str]) -> bool:
    """Whether `uri` holds a Delta table (opening it: `DeltaTable.is_deltatable` hangs on an
    empty S3 listing from moto's server)."""
    try:
        DeltaTable(uri, storage_options=dict(options))
    except TableNotFoundError:
        return False
    return True


def ensure_table(uri: str, schema: Mapping[str, pl.DataType], options: Mapping[str, str]) -> bool:
    """Create `uri` empty with `schema` (which holds `bucket`), partitioned by bucket, unless it
    exists; returns whether it was created. Run it before any parallel step."""
    if exists(uri, options):
        return False
    if not is_remote(uri):
        Path(uri).mkdir(parents=True, exist_ok=True)
    pl.DataFrame(schema=dict(schema)).write_delta(
        uri,
        mode="error",
        storage_options=dict(options),
        delta_write_options={"partition_by": [BUCKET]},
    )
    return True


def replace_bucket(uri: str, frame: pl.DataFrame, bucket: int, options: Mapping[str, str]) -> None:
    """Replace bucket `bucket`'s rows of `uri` by `frame` (all of whose rows are in it) in one
    commit; the other buckets are untouched."""
    if frame.height and frame[BUCKET].ne(bucket).any():
        raise ValueError(f"rows outside bucket {bucket}")
    frame.write_delta(
        uri,
        mode="overwrite",
        storage_options=dict(options),
        delta_write_options={"predicate": f"{BUCKET} = {int(bucket)}", "partition_by": [BUCKET]},
    )


def clear(uri: str, schema: Mapping[str, pl.DataType], options: Mapping[str, str]) -> None:
    """Empty the table in one commit, with `schema` (its buckets changed meaning:
    `PROGRESS_BUCKETS` moved; or its columns changed with the code)."""
    pl.DataFrame(schema=dict(schema)).write_delta(
        uri,
        mode="overwrite",
        storage_options=dict(options),
        delta_write_options={"schema_mode": "overwrite", "partition_by": [BUCKET]},
    )


def columns(uri: str, options: Mapping[str, str]) -> list[str]:
    """The table's column names (from its log)."""
    return scan(uri, options).collect_schema().names()


def scan(uri: str, options: Mapping[str, str]) -> pl.LazyFrame:
    """The table's live rows (the files of its latest version)."""
    return pl.scan_delta(uri, storage_options=dict(options))


def live_files(uri: str, options: Mapping[str, str]) -> list[str]:
    """The data files of the table's latest version, from its log."""
    return list(DeltaTable(uri, storage_options=dict(options)).file_uris())


def bucket_rows(uri: str, options: Mapping[str, str]) -> dict[int, int]:
    """Rows per bucket in the latest version."""
    counts = scan(uri, options).group_by(BUCKET).len().collect()
    return {int(b): int(n) for b, n in counts.iter_rows()}


def compact_and_vacuum(uri: str, options: Mapping[str, str]) -> dict[str, int]:
    """Merge small files (per bucket) into larger ones, then delete files no version within the
    retention needs; returns the files removed and added by compaction and deleted by vacuum."""
    table = DeltaTable(uri, storage_options=dict(options))
    metrics = table.optimize.compact()
    deleted = table.vacuum(
        retention_hours=VACUUM_RETENTION_HOURS, enforce_retention_duration=False, dry_run=False
    )
    return {
        "files_removed": int(metrics.get("numFilesRemoved", 0)),
        "files_added": int(metrics.get("numFilesAdded", 0)),
        "files_vacuumed": len(deleted),
    }


def ensure_tables(
    lake: str,
    schemas: Mapping[str, Mapping[str, pl.DataType]],
    options: Mapping[str, str],
    empty: bool = False,
) -> list[str]:
    """Create each table of `schemas` that does not exist, and empty one whose columns are not
    the code's (returns both: every bucket must then be recomputed); empty the others when
    `empty` (every bucket is recomputed, maybe with another B). Run before any parallel step:
    concurrent creation loses data."""
    created = []
    for table, schema in schemas.items():
        uri = table_uri(lake, table)
        if ensure_table(uri, schema, options):
            created.append(table)
        elif columns(uri, options) != list(schema):
            clear(uri, schema, options)
            created.append(table)
        elif empty:
            clear(uri, schema, options)
    return created


def write_buckets(
    frames: Mapping[str, pl.DataFrame], bucket: int, lake: str, options: Mapping[str, str]
) -> None:
    """Replace bucket `bucket` in each lake table of `frames` (one atomic commit per table)."""
    from transforms.failpoints import crash_point

    for table, frame in frames.items():
        crash_point("lake:bucket")
        replace_bucket(table_uri(lake, table), frame, bucket, options)
