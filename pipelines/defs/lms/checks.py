"""Data-quality checks on the course-platform tables: nothing lost, invariants that hold."""

import dagster as dg

from pipelines.defs.check_helpers import balance_sql, offending_rows_check, registry_checks
from pipelines.defs.resources import WarehouseResource
from transforms.lms.progress import LMS_TABLES

WARN = dg.AssetCheckSeverity.WARN


@dg.asset_check(asset="lms_ingested_files", blocking=True)
def lms_rows_read_balance(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """For every event file: rows read = accepted + duplicates + rejected, and the stored
    events and rejects match those counts."""
    return offending_rows_check(
        warehouse,
        balance_sql("lms_ingested_files", "lms_events", "lms_event_rejects"),
        "every event file's rows are accepted, duplicates or rejected",
    )


@dg.asset_check(asset="lms_events", blocking=True)
def lms_events_unique_id(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """`event_id` is the events table's key: no event is stored twice."""
    return offending_rows_check(
        warehouse,
        "SELECT event_id, count(*) AS n FROM lms_events GROUP BY 1 HAVING n > 1",
        "one row per event_id",
    )


@dg.asset_check(asset="lms_events")
def orphan_events(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Events whose node is in no loaded version of their course: accepted, ignored by
    progress until a version containing the node is loaded."""
    return offending_rows_check(
        warehouse,
        """
        SELECT e.course_id, e.node_id, count(*) AS events
        FROM lms_events e
        WHERE e.node_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM course_nodes n
            WHERE n.course_id = e.course_id AND n.node_id = e.node_id)
        GROUP BY ALL ORDER BY events DESC
        """,
        "every event's node is in a loaded version of its course",
        severity=WARN,
    )


@dg.asset_check(asset="course_versions")
def no_rejected_courses(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Course and path documents rejected as malformed or conflicting (loaded versions stay)."""
    return offending_rows_check(
        warehouse,
        "SELECT source, reason, message FROM course_rejects",
        "every course and path document is valid",
        severity=WARN,
    )


@dg.asset_check(asset="course_nodes", blocking=True)
def course_node_counts(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Each version's nodes add up to its `node_count`."""
    return offending_rows_check(
        warehouse,
        """
        SELECT v.course_id, v.version, v.node_count, count(n.node_id) AS nodes
        FROM course_versions v LEFT JOIN course_nodes n USING (course_id, version)
        GROUP BY ALL HAVING nodes <> v.node_count
        """,
        "node counts match",
    )


# one row per key, percentages, completed <= total, status values: as the registry declares
registered_checks = registry_checks(LMS_TABLES)


@dg.asset_check(asset="task_queue", blocking=True)
def task_queue_is_due(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every queued task is due by the as-of time of its run and ranked 1..n per course."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, course_id, count(*) AS n, max(queue_rank) AS top, min(overdue_days) AS od
        FROM task_queue GROUP BY ALL
        HAVING top <> n OR od < 0 OR count(DISTINCT queue_rank) <> n
        """,
        "queued tasks are due and ranked 1..n",
    )
