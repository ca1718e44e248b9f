"""Data-quality checks on ingestion: nothing lost, nothing stored twice."""

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from transforms.warehouse import query


def _result(
    passed: bool,
    problems: int,
    description: str,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    **metadata: object,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        description=description,
        metadata={"problems": problems, **metadata},  # type: ignore[dict-item]
    )


@dg.asset_check(asset="ingested_files", blocking=True)
def rows_read_balance(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """For every source: rows read = accepted + duplicates + rejected, and the stored attempts
    and rejects match those counts."""
    with warehouse.connect() as con:
        bad = query(
            con,
            """
            WITH stored AS (SELECT source_id, count(*) AS n FROM attempts GROUP BY 1),
                 rejected AS (SELECT source_id, count(*) AS n FROM attempt_rejects GROUP BY 1)
            SELECT f.path, f.rows_read, f.accepted, f.duplicates, f.rejected,
                   coalesce(s.n, 0) AS stored, coalesce(r.n, 0) AS stored_rejects
            FROM ingested_files f
            LEFT JOIN stored s ON s.source_id = f.content_hash
            LEFT JOIN rejected r ON r.source_id = f.content_hash
            WHERE f.rows_read <> f.accepted + f.duplicates + f.rejected
               OR coalesce(s.n, 0) <> f.accepted OR coalesce(r.n, 0) <> f.rejected
        """,
        )
    return _result(
        bad.height == 0,
        bad.height,
        "every source's rows are accepted, duplicates or rejected",
        examples=bad.head(5).to_dicts().__repr__(),
    )


@dg.asset_check(asset="attempts", blocking=True)
def attempts_unique_uuid(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """`uuid_local` is the attempts table's key: no attempt is stored twice."""
    with warehouse.connect() as con:
        dup = query(con, "SELECT uuid_local, count(*) n FROM attempts GROUP BY 1 HAVING n > 1")
    return _result(dup.height == 0, dup.height, "one row per uuid_local")


@dg.asset_check(asset="ingested_files")
def no_unreadable_sources(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Files that could not be read at all (they are recorded, and the others still load)."""
    with warehouse.connect() as con:
        failed = query(con, "SELECT path, error FROM ingested_files WHERE status = 'failed'")
    return _result(
        failed.height == 0,
        failed.height,
        "every source could be read",
        severity=dg.AssetCheckSeverity.WARN,
        failed=failed.head(10).to_dicts().__repr__(),
    )


@dg.asset_check(asset="manifest_versions")
def no_rejected_manifests(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Manifest documents rejected as malformed or conflicting (loaded versions stay)."""
    with warehouse.connect() as con:
        rejected = query(con, "SELECT source, reason, message FROM manifest_rejects")
    return _result(
        rejected.height == 0,
        rejected.height,
        "every manifest document is valid",
        severity=dg.AssetCheckSeverity.WARN,
        rejected=rejected.head(10).to_dicts().__repr__(),
    )


@dg.asset_check(asset="manifest_words")
def manifest_word_counts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each version's words in `manifest_words` add up to its `word_count`."""
    with warehouse.connect() as con:
        bad = query(
            con,
            """
            SELECT v.language, v.version, v.word_count, count(w.word_uid) AS words
            FROM manifest_versions v LEFT JOIN manifest_words w USING (language, version)
            GROUP BY ALL HAVING words <> v.word_count
        """,
        )
    return _result(bad.height == 0, bad.height, "word counts match")
