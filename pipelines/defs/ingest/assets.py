"""Ingestion assets: attempt logs, manifests and cohorts into the warehouse."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs, preview, table_counts
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.ingest.attempts import ingest_landing_files
from transforms.ingest.cohorts import read_cohorts
from transforms.ingest.manifests import json_documents, load_manifests
from transforms.warehouse import replace_table

INGEST = "ingest"
# What attempt ingestion keeps for its next run (the DDL in transforms/warehouse.py)
LEDGERS = {
    "landing_paths": "One row per landing path seen (size, mtime, content hash): an unchanged "
    "file is skipped without hashing it again.",
    "postgres_rows": "One row per Postgres attempt row ingested within the lookback window (a "
    "fingerprint of the whole row): re-reading the window adds nothing twice.",
}


def _ingestion_time() -> datetime:
    """Ingestion provenance is the one wall-clock reading: it bounds `attempted_at` from above."""
    return datetime.now(UTC).replace(tzinfo=None)


@dg.multi_asset(
    group_name=INGEST,
    specs=[
        dg.AssetSpec("attempts", description="One row per accepted attempt (uuid_local)."),
        dg.AssetSpec("attempt_rejects", description="One row per rejected attempt row."),
        dg.AssetSpec(
            "ingested_files",
            description="One row per ingested source: a file by content hash, or a Postgres "
            "batch; rows read = accepted + duplicates + rejected.",
        ),
        *bookkeeping_specs(LEDGERS),
    ],
)
def ingest_attempts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Load new landing files and new Postgres rows; already ingested content adds nothing."""
    now = _ingestion_time()
    with warehouse.connect() as con:
        loaded = [ingest_landing_files(con, settings.landing_path / "attempts", now)]
        if settings.pg_dsn:
            from transforms.ingest.postgres import ingest_postgres_attempts

            loaded.append(ingest_postgres_attempts(con, settings.pg_dsn, now))
        new = pl.concat([f for f in loaded if f.height] or [pl.DataFrame()], how="vertical_relaxed")
        counts = table_counts(con, ["attempts", "attempt_rejects", "ingested_files"])
        bookkeeping = list(bookkeeping_results(con, list(LEDGERS)))
        sources = new.height
        totals = (
            new.select(pl.col("rows_read", "accepted", "duplicates", "rejected").sum()).row(
                0, named=True
            )
            if sources
            else {"rows_read": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
        )
        failed = new.filter(pl.col("status") == "failed").height if sources else 0
        context.log.info(f"ingested {sources} new source(s): {totals}")
    run_meta = {
        "new_sources": sources,
        "failed_sources": failed,
        **{f"new_{k}": int(v) for k, v in totals.items()},
    }
    for key in ("attempts", "attempt_rejects", "ingested_files"):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": counts[key],
                **run_meta,
                **(
                    {"new_sources_preview": preview(new.drop("error"))}
                    if key == "ingested_files" and sources
                    else {}
                ),
            },
        )
    yield from bookkeeping


@dg.multi_asset(
    group_name=INGEST,
    specs=[
        dg.AssetSpec("manifest_versions", description="One row per (language, version)."),
        dg.AssetSpec("manifest_words", description="One row per (language, version, word_uid)."),
        dg.AssetSpec("manifest_rejects", description="One row per rejected manifest document."),
    ],
)
def ingest_manifests(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Validate and load new manifest versions from files (and Postgres when configured)."""
    documents = json_documents(settings.landing_path / "manifests")
    if settings.pg_dsn:
        from transforms.ingest.postgres import read_manifests

        documents += read_manifests(settings.pg_dsn)
    with warehouse.connect() as con:
        result = load_manifests(con, documents)
        counts = table_counts(con, ["manifest_versions", "manifest_words", "manifest_rejects"])
    for reject in result.rejected.iter_rows(named=True):
        context.log.warning(f"manifest rejected: {reject['source']}: {reject['message']}")
    loaded = ", ".join(f"{lang} v{v}" for lang, v in result.loaded) or "none"
    for key in ("manifest_versions", "manifest_words", "manifest_rejects"):
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": counts[key],
                "loaded_versions": loaded,
                "new_rejects": result.rejected.height,
            },
        )


@dg.asset(group_name=INGEST)
def cohorts(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One row per learner listed in a cohorts file: cohort (class) and educator."""
    frame, rejected = read_cohorts(settings.landing_path / "cohorts")
    with warehouse.connect() as con:
        replace_table(con, "cohorts", frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "rejected_rows": rejected.height,
            "cohorts": frame["cohort"].n_unique() if frame.height else 0,
            "preview": preview(frame),
        }
    )
