"""Data-quality checks on the course-platform tables: nothing lost, invariants that hold."""

import dagster as dg

from pipelines.defs.check_helpers import (
    offending_rows_check,
    one_row_per_key_check,
    registry_checks,
    rejected_documents_check,
    rows_read_balance_check,
    version_counts_check,
)
from pipelines.defs.resources import WarehouseResource
from transforms.lms.analytics import ANALYTICS_TABLES, TRENDS
from transforms.lms.progress import LMS_TABLES

WARN = dg.AssetCheckSeverity.WARN


lms_rows_read_balance = rows_read_balance_check(
    "lms_rows_read_balance", "lms_ingested_files", "lms_events", "lms_event_rejects", "event file"
)
lms_events_unique_id = one_row_per_key_check(
    "lms_events", ["event_id"], name="lms_events_unique_id", what="no event is stored twice"
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


no_rejected_courses = rejected_documents_check(
    "no_rejected_courses", "course_versions", "course_rejects", "course and path"
)
course_node_counts = version_counts_check(
    "course_node_counts", "course_versions", "course_nodes", "course_id", "node_count", "node_id"
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


# one row per key, percentile rank and quiz average in 0..100: as the registry declares
analytics_checks = registry_checks(ANALYTICS_TABLES)


@dg.asset_check(asset="learning_analytics", blocking=True)
def learning_analytics_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Minutes are never negative and the parts (by kind, by part of day) fit in the total,
    active days are 1..7, sessions at least 1, and the trend one of its three words."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, course_id, week_start, minutes_total, active_days, sessions,
               engagement_trend
        FROM learning_analytics
        WHERE least(minutes_lessons, minutes_quizzes, minutes_tasks, minutes_total) < 0
           OR minutes_lessons + minutes_quizzes + minutes_tasks > minutes_total + 1e-6
           OR abs(minutes_night + minutes_morning + minutes_afternoon + minutes_evening
                  - minutes_total) > 1e-6
           OR NOT (active_days BETWEEN 1 AND 7) OR sessions < 1
           OR NOT list_contains(?, coalesce(engagement_trend, 'stable'))
        """,
        "minutes add up, days 1..7, trends known",
        params=[list(TRENDS)],
    )
