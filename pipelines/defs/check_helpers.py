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
