"""Typed resources: the DuckDB warehouse and the pipeline's settings, read from `PROGRESS_*`."""

import json
import os
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
    """Where the pipeline reads and writes, and what it treats as "now"."""

    landing: str = "data/landing"
    reports: str = "data/reports"
    pg_dsn: str | None = None
    as_of: str | None = None
    srs_batches: int = 4
    sm2_params: str | None = None  # JSON object, or the path of a JSON file, of SM2Params fields
    report_learners: str = "5"  # how many of the most active learners, or user ids, comma-separated
    pseudonym_key: str | None = None  # HMAC key for pseudonyms; unset = a key kept in the warehouse
    export_png: bool = True

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
    settings = Settings.from_env()
    env = os.environ
    return {
        "warehouse": WarehouseResource(
            database=str(settings.warehouse), connection_config=duckdb_config()
        ),
        "settings": ProgressSettings(
            landing=str(settings.landing),
            reports=str(settings.reports),
            pg_dsn=settings.pg_dsn,
            as_of=env.get("PROGRESS_AS_OF") or None,
            srs_batches=int(env.get("PROGRESS_SRS_BATCHES", "4")),
            sm2_params=env.get("PROGRESS_SM2_PARAMS") or None,
            report_learners=env.get("PROGRESS_REPORT_LEARNERS", "5"),
            pseudonym_key=env.get("PROGRESS_PSEUDONYM_KEY") or None,
            export_png=env.get("PROGRESS_EXPORT_PNG", "1") not in ("0", "false", "no"),
        ),
    }
