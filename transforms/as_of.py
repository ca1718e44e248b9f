"""The data's "now": the as-of time every as-of table is computed at (never the wall clock).

Every domain (the SRS tables, metrics, course platforms, reports, the tuning lab) resolves it
here, from `PROGRESS_AS_OF` or from the latest event in the warehouse.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from transforms.warehouse import scalar, table_exists

NO_ATTEMPTS_AS_OF = datetime(1970, 1, 1)


def resolve_as_of(con: duckdb.DuckDBPyConnection, configured: datetime | None) -> datetime:
    """`PROGRESS_AS_OF` when set, else the latest `attempted_at` or course-platform
    `occurred_at` (a landing may hold only one of them): never the wall clock. With neither
    the data has no "now"; every as-of table is then empty whatever the moment, and the epoch
    (`NO_ATTEMPTS_AS_OF`) stands in so the nightly job still runs."""
    if configured is not None:
        return configured
    events = (
        "(SELECT max(occurred_at) FROM lms_events)" if table_exists(con, "lms_events") else "NULL"
    )
    latest = scalar(con, f"SELECT greatest((SELECT max(attempted_at) FROM attempts), {events})")
    return latest if isinstance(latest, datetime) else NO_ATTEMPTS_AS_OF


def describe_as_of(as_of: datetime) -> str:
    """The as-of time as pages show it; "no attempts yet" for `NO_ATTEMPTS_AS_OF`."""
    if as_of == NO_ATTEMPTS_AS_OF:
        return "no attempts yet"
    return as_of.isoformat(sep=" ", timespec="seconds")
