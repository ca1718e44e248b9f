"""`learning_analytics` (lms.md section 3): per learner, course and ISO week."""

import dagster as dg

from pipelines.defs.metadata import preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.lms.analytics import build_learning_analytics
from transforms.lms.read import read_lms_inputs
from transforms.lms.schema import ensure_lms_tables
from transforms.warehouse import query, replace_table, transaction


@dg.asset(
    group_name="lms",
    deps=[
        "lms_events",
        "course_nodes",
        "course_versions",
        "attempts",
        "manifest_words",
        "manifest_versions",
        "quiz_attempts",
        "course_progress",
    ],
)
def learning_analytics(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One row per (user_id, course_id, week_start: an ISO week's Monday) with an event of the
    learner in the course that week: minutes in lessons, quizzes, tasks and in all, active
    days, sessions, minutes by part of day, quiz average and its change, grade counts,
    engagement trend, consistent schedule, cramming, percentile rank of percent complete."""
    with warehouse.connect() as con:
        ensure_lms_tables(con)
        as_of = resolve_as_of(con, settings.as_of_time)
        attempts = query(
            con,
            "SELECT user_id, course_id, status, completed_at, score_percent FROM quiz_attempts",
        )
        progress = query(con, "SELECT user_id, course_id, percent_complete FROM course_progress")
        table = build_learning_analytics(read_lms_inputs(con, as_of), as_of, attempts, progress)
        with transaction(con):
            replace_table(con, "learning_analytics", table)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": table.height,
            "as_of": as_of.isoformat(),
            "preview": preview(table),
        }
    )
