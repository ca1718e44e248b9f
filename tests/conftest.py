"""Shared fixtures: a temporary warehouse, attempt rows and landing-file writers."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import settings

from transforms.warehouse import connect

# CI runs the property tests on a fixed sequence of examples, so a run is reproducible;
# locally hypothesis keeps exploring (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

INGESTED_AT = datetime(2026, 11, 1)
USER = "123e4567-e89b-42d3-a456-426614174000"


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(tmp_path / "warehouse.duckdb")
    yield connection
    connection.close()


def attempt(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid attempt in the app's camelCase, with a deterministic uuid per `n`."""
    row: dict[str, Any] = {
        "uuidLocal": str(uuid.UUID(int=n + 1)),
        "userId": USER,
        "language": "es",
        "wordUid": "es:g-coser-cocer:coser",
        "stepType": "typing",
        "correct": True,
        "responseTimeMs": 2500,
        "attemptedAt": f"2026-03-01T10:{n % 60:02d}:00Z",
        "sessionId": "s-1",
    }
    row.update(overrides)
    return {k: v for k, v in row.items() if v is not ...}


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).with_columns(pl.all().cast(pl.String)).write_csv(path)
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    (folder / "attempts").mkdir(parents=True)
    return folder
