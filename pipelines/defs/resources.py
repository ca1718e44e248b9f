"""Typed resources: the DuckDB warehouse and the pipeline's settings, read from `PROGRESS_*`."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
import pydantic
from dagster_duckdb import DuckDBResource

from transforms.settings import Settings, settings_registry, settings_text
from transforms.sm2 import SM2Params
from transforms.warehouse import duckdb_config, ensure_core_tables


class WarehouseResource(DuckDBResource):
    """The DuckDB warehouse file; every connection has the core tables present.

    The file is opened once per process that executes steps (on first use) and closed when the
    run's resources are torn down; each `connect()` is a cursor on that handle. A run's hundred
    steps and checks therefore neither reload the catalog nor re-check the core tables each time
    (that was half of a small run's time), and each cursor keeps its own transactions."""

    _handle: duckdb.DuckDBPyConnection | None = pydantic.PrivateAttr(default=None)

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._handle is None:
            if self.database != ":memory:":
                Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            handle = duckdb.connect(
                self.database,
                config={"custom_user_agent": "dagster", **self.connection_config},
            )
            ensure_core_tables(handle)
            self._handle = handle
        return self._handle

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._open().cursor()
        try:
            yield con
        finally:
            con.close()


class SettingsResource(dg.ConfigurableResource):
    """Where the pipeline reads and writes, and what it treats as "now". Its config is the text
    of the `PROGRESS_*` variables (one optional field per variable of
    `transforms.settings.Settings`, unset = the default), read by `Settings.from_text`."""

    @property
    def parsed(self) -> Settings:
        return Settings.from_text(self.model_dump())

    @property
    def landing_path(self) -> Path:
        return self.parsed.landing

    @property
    def reports_path(self) -> Path:
        return self.parsed.reports

    @property
    def outbox_path(self) -> Path:
        return self.parsed.outbox

    @property
    def as_of_time(self) -> datetime | None:
        return self.parsed.as_of

    @property
    def pg_dsn(self) -> str | None:
        return self.parsed.pg_dsn

    @property
    def srs_batches(self) -> int:
        return self.parsed.srs_batches

    @property
    def report_learners(self) -> str:
        return self.parsed.report_learners

    @property
    def pseudonym_key(self) -> str | None:
        return self.parsed.pseudonym_key

    @property
    def export_png(self) -> bool:
        return self.parsed.export_png

    @property
    def full_refresh(self) -> bool:
        return self.parsed.full_refresh

    @property
    def lake(self) -> str:
        return self.parsed.lake

    @property
    def lake_options(self) -> dict[str, str]:
        """The lake's object-store options (from the `AWS_*` environment for `s3://`)."""
        from transforms.lake import storage_options

        return storage_options(self.parsed.lake)

    @property
    def buckets(self) -> int:
        return self.parsed.buckets

    @property
    def lms_group_rows(self) -> int:
        return self.parsed.lms_group_rows

    def base_sm2_params(self) -> dict[str, Any]:
        """`PROGRESS_SM2_PARAMS` as SM2Params fields (a JSON object, or a JSON file's path)."""
        setting = self.parsed.sm2_params
        if not setting:
            return {}
        text = setting.strip()
        if not text.startswith("{"):
            text = Path(text).read_text()
        values = json.loads(text)
        SM2Params.from_dict(values)  # fail early on a bad setting
        return values


if TYPE_CHECKING:
    ProgressSettings = SettingsResource
else:
    ProgressSettings = pydantic.create_model(
        "ProgressSettings",
        __base__=SettingsResource,
        __doc__=SettingsResource.__doc__,
        **{s.env: (str | None, None) for s in settings_registry()},
    )


def build_resources() -> dict[str, Any]:
    """The resources, from the `PROGRESS_*` environment (read once)."""
    text = settings_text()
    values = Settings.from_text(text)  # a bad setting fails here, when the code location loads
    return {
        "warehouse": WarehouseResource(
            database=str(values.warehouse), connection_config=duckdb_config(values.duckdb_memory)
        ),
        "settings": ProgressSettings(**text),
    }
