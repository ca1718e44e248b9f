"""SQL that breaks each check a registered table declares (`transforms/registry.py`): the
check-breaking tests of every domain derive from the same records as the checks."""

from __future__ import annotations

from typing import Any

from transforms.registry import MetricTable


def registry_breaks(table: MetricTable[Any]) -> dict[str, list[str]]:
    """Check name -> statements, each of which alone makes that check fail on a warehouse
    where the table has rows (every row is changed: no row is singled out)."""
    t = f'"{table.name}"'
    breaks = {
        f"{table.name}_one_row_per_key": [
            f"CREATE OR REPLACE TABLE {t} AS SELECT * FROM {t} "
            f"UNION ALL (SELECT * FROM {t} LIMIT 1)"
        ]
    }
    if table.proportions:
        breaks[f"{table.name}_proportions_in_unit_interval"] = [
            f'UPDATE {t} SET "{column}" = {value}'
            for column in table.proportions
            for value in (1.5, -0.5)
        ]
    if table.percents:
        breaks[f"{table.name}_percentages_0_100"] = [
            f'UPDATE {t} SET "{column}" = {value}'
            for column in table.percents
            for value in (101, -1)
        ]
    if table.completed_le_total:
        breaks[f"{table.name}_completed_le_total"] = [
            sql
            for done, total in table.completed_le_total
            for sql in (
                f'UPDATE {t} SET "{done}" = "{total}" + 1',
                f'UPDATE {t} SET "{done}" = -1',
            )
        ]
    if table.statuses:
        breaks[f"{table.name}_status_values"] = [f"UPDATE {t} SET status = 'gone'"]
    return breaks


def all_registry_breaks(tables: tuple[MetricTable[Any], ...]) -> dict[str, list[str]]:
    """`registry_breaks` of every table of a domain."""
    return {name: sqls for table in tables for name, sqls in registry_breaks(table).items()}
