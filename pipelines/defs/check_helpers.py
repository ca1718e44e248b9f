"""One way to turn "these rows are wrong" into an asset check result, for every domain."""

import json
from collections.abc import Iterable
from typing import Any

import dagster as dg

from pipelines.defs.resources import WarehouseResource
from transforms.registry import MetricTable
from transforms.warehouse import query, table_exists


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


def one_row_per_key_check(
    table: str,
    keys: list[str] | tuple[str, ...],
    name: str | None = None,
    what: str | None = None,
    may_be_absent: bool = False,
) -> dg.AssetChecksDefinition:
    """A blocking check (`<table>_one_row_per_key` unless `name`d): no two rows of `table`
    share `keys`. `may_be_absent`: a state table a writer may drop (the next run rebuilds it)
    passes while it does not exist."""
    columns = ", ".join(keys)

    @dg.asset_check(
        asset=table,
        name=name or f"{table}_one_row_per_key",
        blocking=True,
        description=f"`{table}` has one row per ({columns}): {what or 'its grain'}.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        if may_be_absent:
            with warehouse.connect() as con:
                if not table_exists(con, table):
                    return dg.AssetCheckResult(
                        passed=True, description=f"`{table}` is absent: the next run rebuilds it"
                    )
        return offending_rows_check(
            warehouse,
            f'SELECT {columns}, count(*) AS rows FROM "{table}" GROUP BY ALL HAVING count(*) > 1',
            f"one row per ({columns})",
        )

    return check


def rows_read_balance_check(
    name: str, ledger: str, rows: str, rejects: str, what: str
) -> dg.AssetChecksDefinition:
    """A blocking check on a content-hash ledger: for every source, rows read = accepted +
    duplicates + rejected, and the stored `rows` and `rejects` match those counts."""

    @dg.asset_check(
        asset=ledger,
        name=name,
        blocking=True,
        description=f"For every {what}: rows read = accepted + duplicates + rejected, and the "
        f"stored {rows} and {rejects} match those counts.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return offending_rows_check(
            warehouse,
            balance_sql(ledger, rows, rejects),
            f"every {what}'s rows are accepted, duplicates or rejected",
        )

    return check


def rejected_documents_check(
    name: str, versions: str, rejects: str, what: str
) -> dg.AssetChecksDefinition:
    """A warning on a versioned-document table: the documents rejected as malformed or
    conflicting (the loaded versions stay)."""

    @dg.asset_check(
        asset=versions,
        name=name,
        description=f"{what.capitalize()} documents rejected as malformed or conflicting "
        "(loaded versions stay).",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return offending_rows_check(
            warehouse,
            f'SELECT source, reason, message FROM "{rejects}"',
            f"every {what} document is valid",
            severity=dg.AssetCheckSeverity.WARN,
        )

    return check


def version_counts_check(
    name: str, versions: str, items: str, owner: str, count: str, item: str
) -> dg.AssetChecksDefinition:
    """A blocking check: each version's rows in `items` add up to its `count` in `versions`
    (keyed by (`owner`, version); `item` is the items' id column)."""

    @dg.asset_check(
        asset=items,
        name=name,
        blocking=True,
        description=f"Each version's rows in `{items}` add up to its `{count}`.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return offending_rows_check(
            warehouse,
            f"""
            SELECT v.{owner}, v.version, v.{count}, count(i.{item}) AS items
            FROM "{versions}" v LEFT JOIN "{items}" i USING ({owner}, version)
            GROUP BY ALL HAVING items <> v.{count}
            """,
            f"{count} matches the rows of {items}",
        )

    return check


def _range_check(
    table: MetricTable[Any], suffix: str, columns: tuple[str, ...], low: int, high: int
) -> dg.AssetChecksDefinition:
    """A blocking check `<table>_<suffix>`: every value of `columns` lies in [low, high]."""

    @dg.asset_check(asset=table.name, name=f"{table.name}_{suffix}", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outside = " OR ".join(f'NOT ("{c}" BETWEEN {low} AND {high})' for c in columns)
        shown = ", ".join(f'"{c}"' for c in [*table.key, *columns])
        return offending_rows_check(
            warehouse,
            f'SELECT {shown} FROM "{table.name}" WHERE {outside}',
            f"{', '.join(columns)} within [{low}, {high}]",
        )

    return check


def _completed_check(table: MetricTable[Any]) -> dg.AssetChecksDefinition:
    pairs = table.completed_le_total

    @dg.asset_check(asset=table.name, name=f"{table.name}_completed_le_total", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        bad = " OR ".join(f"{done} > {total} OR {done} < 0" for done, total in pairs)
        shown = ", ".join([*table.key, *(c for pair in pairs for c in pair)])
        return offending_rows_check(
            warehouse,
            f'SELECT {shown} FROM "{table.name}" WHERE {bad}',
            "completed <= total",
        )

    return check


def _status_check(table: MetricTable[Any]) -> dg.AssetChecksDefinition:
    values = table.statuses

    @dg.asset_check(asset=table.name, name=f"{table.name}_status_values", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return offending_rows_check(
            warehouse,
            f'SELECT {", ".join(table.key)}, status FROM "{table.name}" '
            "WHERE status IS NULL OR NOT list_contains(?, status)",
            f"status in {values}",
            params=[list(values)],
        )

    return check


def registry_checks(tables: Iterable[MetricTable[Any]]) -> list[dg.AssetChecksDefinition]:
    """The checks a domain's registered tables declare: one row per key, proportions in
    [0, 1], percentages in 0..100, completed <= total, status values."""
    checks = []
    for table in tables:
        checks.append(one_row_per_key_check(table.name, table.key))
        if table.proportions:
            checks.append(
                _range_check(table, "proportions_in_unit_interval", table.proportions, 0, 1)
            )
        if table.percents:
            checks.append(_range_check(table, "percentages_0_100", table.percents, 0, 100))
        if table.completed_le_total:
            checks.append(_completed_check(table))
        if table.statuses:
            checks.append(_status_check(table))
    return checks
