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
    srs_batches: int = 4  # the least number of learner batches of the SM-2 recompute
    sm2_params: str | None = None  # JSON object, or the path of a JSON file, of SM2Params
    report_learners: str = "5"  # how many of the most active learners, or user ids
    pseudonym_key: str | None = None  # unset: a key kept in the warehouse
    export_png: bool = True
    full_refresh: bool = False  # replay every learner's SM-2 history, not only the changed ones

    @classmethod
    def from_env(cls) -> Settings:
        """Every `PROGRESS_*` setting (README: Settings); unset or empty means the default."""
        env = {k: v for k, v in os.environ.items() if k.startswith("PROGRESS_") and v}
        d = cls()
        return cls(
            landing=Path(env.get("PROGRESS_LANDING", d.landing)),
            warehouse=Path(env.get("PROGRESS_WAREHOUSE", d.warehouse)),
            reports=Path(env.get("PROGRESS_REPORTS", d.reports)),
            pg_dsn=env.get("PROGRESS_PG_DSN", d.pg_dsn),
            as_of=parse_as_of(env.get("PROGRESS_AS_OF")),
            srs_batches=int(env.get("PROGRESS_SRS_BATCHES", d.srs_batches)),
            sm2_params=env.get("PROGRESS_SM2_PARAMS", d.sm2_params),
            report_learners=env.get("PROGRESS_REPORT_LEARNERS", d.report_learners),
            pseudonym_key=env.get("PROGRESS_PSEUDONYM_KEY", d.pseudonym_key),
            export_png=env.get("PROGRESS_EXPORT_PNG", "1").lower() not in ("0", "false", "no"),
            full_refresh=env.get("PROGRESS_FULL_REFRESH", "0").lower() in ("1", "true", "yes"),
        )
