"""Data-quality checks on ingestion: nothing lost, nothing stored twice."""

import dagster as dg

from pipelines.defs.check_helpers import (
    offending_rows_check,
    one_row_per_key_check,
    rejected_documents_check,
    rows_read_balance_check,
    version_counts_check,
)
from pipelines.defs.resources import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN


rows_read_balance = rows_read_balance_check(
    "rows_read_balance", "ingested_files", "attempts", "attempt_rejects", "source"
)
attempts_unique_uuid = one_row_per_key_check(
    "attempts", ["uuid_local"], name="attempts_unique_uuid", what="no attempt is stored twice"
)


@dg.asset_check(asset="ingested_files")
def no_unreadable_sources(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Files that could not be read at all (they are recorded, and the others still load)."""
    return offending_rows_check(
        warehouse,
        "SELECT path, error FROM ingested_files WHERE status = 'failed'",
        "every source could be read",
        severity=WARN,
    )


no_rejected_manifests = rejected_documents_check(
    "no_rejected_manifests", "manifest_versions", "manifest_rejects", "manifest"
)
manifest_word_counts = version_counts_check(
    "manifest_word_counts",
    "manifest_versions",
    "manifest_words",
    "language",
    "word_count",
    "word_uid",
)
