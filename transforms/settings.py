"""Pipeline settings read from the environment (the data contract's `PROGRESS_*` variables).

Each setting is stated once, as a field of `Settings`: its name, environment variable, default,
parser and meaning. `Settings.from_env`, the Dagster resource (pipelines/defs/resources.py) and
the README's Settings table (`settings_table()`, checked by a test) are all derived from it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def parse_as_of(value: str | None) -> datetime | None:
    """Parse an ISO-8601 as-of time into naive UTC (the warehouse's timestamp convention)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def parse_flag(value: str) -> bool:
    """ "0", "false" and "no" (any case) are false; any other text is true."""
    return value.strip().lower() not in ("0", "false", "no")


def parse_positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"must be at least 1, got {number}")
    return number


def parse_bucket_count(value: str) -> int:
    number = parse_positive_int(value)
    if number > 4096:
        raise ValueError(f"at most 4096 buckets, got {number}")
    return number


@dataclass(frozen=True)
class Setting:
    """One `PROGRESS_*` variable: the `Settings` field it fills, how its text is read, and what
    it means (the README's wording)."""

    name: str
    env: str
    default: object
    parse: Callable[[str], object]
    doc: str

    def read(self, text: str | None) -> object:
        """The value of `text` (unset or empty means the default), or a clear error."""
        if text is None or not text.strip():
            return self.default
        try:
            return self.parse(text.strip())
        except ValueError as error:
            raise ValueError(f"{self.env}={text!r}: {error}") from error

    def shown_default(self) -> str:
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "`1`" if self.default else "`0`"
        return f"`{self.default}`"


def _setting(env: str, parse: Callable[[str], object], doc: str) -> dict[str, object]:
    """The metadata of a `Settings` field: its variable, parser and meaning."""
    return {"env": env, "parse": parse, "doc": doc}


@dataclass(frozen=True)
class Settings:
    """Where the pipeline reads and writes; defaults make `make demo` work from a clone."""

    landing: Path = field(
        default=Path("data/landing"),
        metadata=_setting(
            "PROGRESS_LANDING",
            Path,
            "folder the app drops files into: `attempts/`, `manifests/`, `cohorts/`",
        ),
    )
    warehouse: Path = field(
        default=Path("data/warehouse.duckdb"),
        metadata=_setting("PROGRESS_WAREHOUSE", Path, "the DuckDB warehouse file"),
    )
    reports: Path = field(
        default=Path("data/reports"),
        metadata=_setting("PROGRESS_REPORTS", Path, "where reports are written"),
    )
    outbox: Path = field(
        default=Path("data/outbox"),
        metadata=_setting(
            "PROGRESS_OUTBOX",
            Path,
            "where each run writes the learning events it publishes, `<run>.jsonl`",
        ),
    )
    pg_dsn: str | None = field(
        default=None,
        metadata=_setting(
            "PROGRESS_PG_DSN",
            str,
            "the app's PostgreSQL (`postgresql://user@host:port/db`); unset = no Postgres source",
        ),
    )
    as_of: datetime | None = field(
        default=None,
        metadata=_setting(
            "PROGRESS_AS_OF",
            parse_as_of,
            'the "now" of every as-of figure (ISO-8601); unset = the latest `attempted_at` '
            "(no attempts yet: every table empty, pages say so)",
        ),
    )
    sm2_params: str | None = field(
        default=None,
        metadata=_setting(
            "PROGRESS_SM2_PARAMS",
            str,
            "SM-2 parameters: a JSON object, or the path of a JSON file, "
            'e.g. `{"rounding": "round"}`',
        ),
    )
    srs_batches: int = field(
        default=4,
        metadata=_setting(
            "PROGRESS_SRS_BATCHES",
            parse_positive_int,
            "the least number of learner batches for the SM-2 recompute; more are used so that no "
            "batch holds much over 2.5M attempts (memory is bounded by one batch)",
        ),
    )
    duckdb_memory: str = field(
        default="3GB",
        metadata=_setting(
            "PROGRESS_DUCKDB_MEMORY", str, "DuckDB's memory limit; beyond it DuckDB spills to disk"
        ),
    )
    report_learners: str = field(
        default="5",
        metadata=_setting(
            "PROGRESS_REPORT_LEARNERS",
            str,
            "learner pages to write: that many most active learners, or user ids, comma-separated",
        ),
    )
    pseudonym_key: str | None = field(
        default=None,
        metadata=_setting(
            "PROGRESS_PSEUDONYM_KEY",
            str,
            "key of the learners' pseudonyms (HMAC-SHA256); unset = a random key kept in the "
            "warehouse",
        ),
    )
    export_png: bool = field(
        default=True,
        metadata=_setting(
            "PROGRESS_EXPORT_PNG",
            parse_flag,
            "`0` turns off the PNG copies of figures (made only when Chromium is installed)",
        ),
    )
    full_refresh: bool = field(
        default=False,
        metadata=_setting(
            "PROGRESS_FULL_REFRESH",
            parse_flag,
            "`1` replays every card's SM-2 history and rebuilds every metric row and every LMS "
            "progress and assessment row, not only those the new attempts and events reach "
            "(also `full_refresh: true` in the `sm2_replay` launchpad config, which rebuilds "
            "the metrics and LMS progress too, or in `lms_progress_tables`' and "
            "`lms_assessment_tables`' launchpad config)",
        ),
    )

    lake: str = field(
        default="data/lake",
        metadata=_setting(
            "PROGRESS_LAKE",
            str,
            "the Delta Lake of the sharded tables: a folder, or `s3://bucket/prefix` (credentials "
            "and endpoint from the `AWS_*` environment)",
        ),
    )
    sharded: bool = field(
        default=False,
        metadata=_setting(
            "PROGRESS_SHARDED",
            parse_flag,
            "`1` computes SM-2 per learner bucket into the lake (a partitioned asset, one "
            "partition per bucket) and loads the warehouse from it in one fan-in step",
        ),
    )
    buckets: int = field(
        default=64,
        metadata=_setting(
            "PROGRESS_BUCKETS",
            parse_bucket_count,
            "B: learners are stored in bucket `crc32(user_id) % B` (the shards); changing it "
            "re-buckets every stored row once",
        ),
    )
    lms_group_rows: int = field(
        default=2_000_000,
        metadata=_setting(
            "PROGRESS_LMS_GROUP_ROWS",
            parse_positive_int,
            "a full LMS progress build reads and builds this many input rows (events, attempts "
            "and reviews) at a time, in groups of whole learners: lower bounds the memory, "
            "higher saves a little per-group work (at 10M events, 2M rows peak about 3.7 GB)",
        ),
    )
    celery_broker: str | None = field(
        default=None,
        metadata=_setting(
            "PROGRESS_CELERY_BROKER",
            str,
            "the sharded run's Celery broker (`redis://127.0.0.1:6379/0`): shard steps run on "
            "`dagster-celery` workers; unset = processes on this machine",
        ),
    )

    @classmethod
    def from_text(cls, text: Mapping[str, str | None]) -> Settings:
        """Settings from the text of each variable, keyed by variable name (`PROGRESS_...`);
        unset or empty means the default. Unknown names are an error."""
        registry = settings_registry()
        unknown = set(text) - {s.env for s in registry}
        if unknown:
            raise ValueError(f"unknown setting(s): {sorted(unknown)}")
        values: dict[str, Any] = {s.name: s.read(text.get(s.env)) for s in registry}
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """Every `PROGRESS_*` setting (README: Settings); unset or empty means the default."""
        return cls.from_text(settings_text(environ))


def settings_registry() -> tuple[Setting, ...]:
    """Every setting, in the order of `Settings`' fields (and of the README table)."""
    return tuple(
        Setting(f.name, f.metadata["env"], f.default, f.metadata["parse"], f.metadata["doc"])
        for f in fields(Settings)
    )


def settings_text(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The text of every setting that is set (and not empty) in `environ`, by variable name."""
    names = [s.env for s in settings_registry()]
    return {name: environ[name] for name in names if environ.get(name, "").strip()}


def settings_table() -> str:
    """The README's Settings table, in Markdown."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{s.env}` | {s.shown_default()} | {s.doc} |" for s in settings_registry()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")
