"""Pipeline settings read from the environment (the data contract's `PROGRESS_*` variables)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


def parse_as_of(value: str | None) -> datetime | None:
    """Parse an ISO-8601 as-of time into naive UTC (the warehouse's timestamp convention)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes; defaults make `make demo` work from a clone."""

    landing: Path = Path("data/landing")
    warehouse: Path = Path("data/warehouse.duckdb")
    reports: Path = Path("data/reports")
    pg_dsn: str | None = None
    as_of: datetime | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            landing=Path(env.get("PROGRESS_LANDING", "data/landing")),
            warehouse=Path(env.get("PROGRESS_WAREHOUSE", "data/warehouse.duckdb")),
            reports=Path(env.get("PROGRESS_REPORTS", "data/reports")),
            pg_dsn=env.get("PROGRESS_PG_DSN") or None,
            as_of=parse_as_of(env.get("PROGRESS_AS_OF")),
        )
