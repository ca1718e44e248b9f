"""Typed resources: the DuckDB warehouse and the pipeline's settings, read from `PROGRESS_*`."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from transforms.settings import Settings, parse_as_of
from transforms.sm2 import SM2Params
from transforms.warehouse import duckdb_config, ensure_core_tables


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file; every connection has the core tables present."""

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with self.get_connection() as con:
            ensure_core_tables(con)
            yield con


class ProgressSettings(dg.ConfigurableResource):
    """Where the pipeline reads and writes, and what it treats as "now": the fields and
    defaults of `transforms.settings.Settings`, from which `build_resources` makes it."""

    landing: str
    reports: str
    pg_dsn: str | None
    as_of: str | None
    srs_batches: int
    sm2_params: str | None
    report_learners: str
    pseudonym_key: str | None
    export_png: bool
    full_refresh: bool

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def reports_path(self) -> Path:
        return Path(self.reports)

    @property
    def as_of_time(self) -> datetime | None:
        return parse_as_of(self.as_of)

    def base_sm2_params(self) -> dict[str, Any]:
        if not self.sm2_params:
            return {}
        text = self.sm2_params.strip()
        if not text.startswith("{"):
            text = Path(text).read_text()
        values = json.loads(text)
        SM2Params.from_dict(values)  # fail early on a bad setting
        return values


def build_resources() -> dict[str, Any]:
    """The resources, from the `PROGRESS_*` environment (read once, by `Settings.from_env`)."""
    s = Settings.from_env()
    return {
        "warehouse": WarehouseResource(
            database=str(s.warehouse), connection_config=duckdb_config()
        ),
        "settings": ProgressSettings(
            landing=str(s.landing),
            reports=str(s.reports),
            pg_dsn=s.pg_dsn,
            as_of=s.as_of.isoformat() if s.as_of else None,
            srs_batches=s.srs_batches,
            sm2_params=s.sm2_params,
            report_learners=s.report_learners,
            pseudonym_key=s.pseudonym_key,
            export_png=s.export_png,
            full_refresh=s.full_refresh,
        ),
    }
