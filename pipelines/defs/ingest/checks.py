"""Data-quality checks on ingestion: nothing lost, nothing stored twice."""

import dagster as dg

from pipelines.defs.check_helpers import balance_sql, offending_rows_check
from pipelines.defs.resources import WarehouseResource

WARN = dg.AssetCheckSeverity.WARN


@dg.asset_check(asset="ingested_files", blocking=True)
def rows_read_balance(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """For every source: rows read = accepted + duplicates + rejected, and the stored attempts
    and rejects match those counts."""
    return offending_rows_check(
        warehouse,
        balance_sql("ingested_files", "attempts", "attempt_rejects"),
        "every source's rows are accepted, duplicates or rejected",
    )


@dg.asset_check(asset="attempts", blocking=True)
def attempts_unique_uuid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """`uuid_local` is the attempts table's key: no attempt is stored twice."""
    return offending_rows_check(
        warehouse,
        "SELECT uuid_local, count(*) AS n FROM attempts GROUP BY 1 HAVING n > 1",
        "one row per uuid_local",
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


@dg.asset_check(asset="manifest_versions")
def no_rejected_manifests(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Manifest documents rejected as malformed or conflicting (loaded versions stay)."""
    return offending_rows_check(
        warehouse,
        "SELECT source, reason, message FROM manifest_rejects",
        "every manifest document is valid",
        severity=WARN,
    )


@dg.asset_check(asset="manifest_words")
def manifest_word_counts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each version's words in `manifest_words` add up to its `word_count`."""
    return offending_rows_check(
        warehouse,
        """
        SELECT v.language, v.version, v.word_count, count(w.word_uid) AS words
        FROM manifest_versions v LEFT JOIN manifest_words w USING (language, version)
        GROUP BY ALL HAVING words <> v.word_count
        """,
        "word counts match",
    )
