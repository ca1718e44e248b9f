"""One way to turn "these rows are wrong" into an asset check result, for every domain."""

import json

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from transforms.warehouse import query


def offending_rows_check(
    warehouse: WarehouseResource,
    sql: str,
    description: str,
    params: list[object] | None = None,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """Passes when `sql` returns no rows; otherwise reports how many and the first few (dates
    and times as text)."""
    with warehouse.connect() as con:
        bad = query(con, sql, params)
    examples = json.loads(json.dumps(bad.head(5).to_dicts(), default=str))
    return dg.AssetCheckResult(
        passed=bad.height == 0,
        severity=severity,
        description=description,
        metadata={
            "problems": bad.height,
            "examples": dg.MetadataValue.json(examples) if bad.height else "none",
        },
    )


def balance_sql(ledger: str, rows: str, rejects: str) -> str:
    """The sources of `ledger` whose rows read are not accepted + duplicates + rejected, or
    whose stored rows (`rows`) and rejects (`rejects`) differ from those counts."""
    return f"""
        WITH stored AS (SELECT source_id, count(*) AS n FROM "{rows}" GROUP BY 1),
             rejected AS (SELECT source_id, count(*) AS n FROM "{rejects}" GROUP BY 1)
        SELECT f.path, f.rows_read, f.accepted, f.duplicates, f.rejected,
               coalesce(s.n, 0) AS stored, coalesce(r.n, 0) AS stored_rejects
        FROM "{ledger}" f
        LEFT JOIN stored s ON s.source_id = f.content_hash
        LEFT JOIN rejected r ON r.source_id = f.content_hash
        WHERE f.rows_read <> f.accepted + f.duplicates + f.rejected
           OR coalesce(s.n, 0) <> f.accepted OR coalesce(r.n, 0) <> f.rejected
        """


def one_row_per_key_check(table: str, keys: list[str]) -> dg.AssetChecksDefinition:
    """A blocking check `<table>_one_row_per_key`: no two rows of `table` share `keys`."""

    @dg.asset_check(asset=table, name=f"{table}_one_row_per_key", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        columns = ", ".join(keys)
        return offending_rows_check(
            warehouse,
            f'SELECT {columns}, count(*) AS rows FROM "{table}" GROUP BY ALL HAVING count(*) > 1',
            f"one row per ({columns})",
        )

    return check
