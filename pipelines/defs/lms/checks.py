"""Data-quality checks on the course-platform tables: nothing lost, invariants that hold."""

import dagster as dg

from pipelines.defs.check_helpers import balance_sql, offending_rows_check, one_row_per_key_check
from pipelines.defs.resources import WarehouseResource
from transforms.lms.analytics import TRENDS
from transforms.lms.progress import ENROLLMENT_STATUSES, PROGRESS_STATUSES
from transforms.lms.tasks import STATUSES as TASK_STATUSES

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


KEYS = {
    "enrollments": ["user_id", "course_id"],
    "lesson_progress": ["user_id", "lesson_id"],
    "task_state": ["user_id", "task_id"],
    "task_queue": ["user_id", "course_id", "task_id"],
    "module_progress": ["user_id", "module_id"],
    "course_progress": ["user_id", "course_id"],
    "user_progress": ["user_id"],
    "learning_path_progress": ["user_id", "path_id"],
}
PERCENTS = {
    "lesson_progress": ["percent_complete", "best_score_percent"],
    "module_progress": ["percent_complete", "weighted_score"],
    "course_progress": ["percent_complete", "weighted_score"],
    "learning_path_progress": ["percent_complete"],
}
COMPLETED_LE_TOTAL = {
    "lesson_progress": [("tasks_solved", "tasks_total")],
    "module_progress": [
        ("lessons_completed", "lessons_total"),
        ("quizzes_completed", "quizzes_total"),
        ("assignments_completed", "assignments_total"),
        ("tasks_completed", "tasks_total"),
        ("required_completed", "required_total"),
    ],
    "course_progress": [
        ("lessons_completed", "lessons_total"),
        ("modules_completed", "modules_total"),
        ("required_completed", "required_total"),
        ("tasks_completed", "tasks_total"),
    ],
    "learning_path_progress": [("courses_completed", "courses_total")],
}
STATUS_VALUES = {
    "enrollments": ENROLLMENT_STATUSES,
    "lesson_progress": PROGRESS_STATUSES,
    "module_progress": PROGRESS_STATUSES,
    "course_progress": PROGRESS_STATUSES,
    "learning_path_progress": PROGRESS_STATUSES,
    "task_state": TASK_STATUSES,
}


def _percent_check(table: str, columns: list[str]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_percentages_0_100", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        outside = " OR ".join(f"NOT ({c} BETWEEN 0 AND 100)" for c in columns)
        shown = ", ".join([*KEYS[table], *columns])
        return offending_rows_check(
            warehouse,
            f'SELECT {shown} FROM "{table}" WHERE {outside}',
            f"{', '.join(columns)} within 0..100",
        )

    return check


def _completed_check(table: str, pairs: list[tuple[str, str]]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_completed_le_total", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        bad = " OR ".join(f"{done} > {total} OR {done} < 0" for done, total in pairs)
        shown = ", ".join([*KEYS[table], *(c for pair in pairs for c in pair)])
        return offending_rows_check(
            warehouse,
            f'SELECT {shown} FROM "{table}" WHERE {bad}',
            "completed <= total",
        )

    return check


def _status_check(table: str, values: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_status_values", blocking=True)
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return offending_rows_check(
            warehouse,
            f'SELECT {", ".join(KEYS[table])}, status FROM "{table}" '
            "WHERE status IS NULL OR NOT list_contains(?, status)",
            f"status in {values}",
            params=[list(values)],
        )

    return check


unique_checks = [one_row_per_key_check(t, k) for t, k in KEYS.items()]
percent_checks = [_percent_check(t, c) for t, c in PERCENTS.items()]
completed_checks = [_completed_check(t, p) for t, p in COMPLETED_LE_TOTAL.items()]
status_checks = [_status_check(t, v) for t, v in STATUS_VALUES.items()]


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


analytics_unique = one_row_per_key_check(
    "learning_analytics", ["user_id", "course_id", "week_start"]
)


@dg.asset_check(asset="learning_analytics", blocking=True)
def learning_analytics_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Minutes are never negative and the parts (by kind, by part of day) fit in the total,
    active days are 1..7, sessions at least 1, the percentile rank and quiz average within
    0..100, and the trend one of its three words."""
    return offending_rows_check(
        warehouse,
        """
        SELECT user_id, course_id, week_start, minutes_total, active_days, sessions,
               percentile_rank, quiz_average, engagement_trend
        FROM learning_analytics
        WHERE least(minutes_lessons, minutes_quizzes, minutes_tasks, minutes_total) < 0
           OR minutes_lessons + minutes_quizzes + minutes_tasks > minutes_total + 1e-6
           OR abs(minutes_night + minutes_morning + minutes_afternoon + minutes_evening
                  - minutes_total) > 1e-6
           OR NOT (active_days BETWEEN 1 AND 7) OR sessions < 1
           OR NOT (coalesce(percentile_rank, 0) BETWEEN 0 AND 100)
           OR NOT (coalesce(quiz_average, 0) BETWEEN 0 AND 100)
           OR NOT list_contains(?, coalesce(engagement_trend, 'stable'))
        """,
        "minutes add up, days 1..7, ranks and averages in 0..100, trends known",
        params=[list(TRENDS)],
    )
