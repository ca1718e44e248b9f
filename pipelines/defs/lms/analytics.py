"""The course-platform analytics tables: `learning_analytics` (lms.md section 3, per learner,
course and ISO week), `assessment_trends`, and the course pages' figures (`course_stop_points`,
`course_funnel`, `course_completion_days`, `course_lesson_time`, `course_continue_positions`,
`course_badges_weekly`)."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import table_results
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.lms.analytics import (
    ANALYTICS_TABLES,
    build_analytics_tables,
    read_analytics_parts,
)
from transforms.lms.schema import ensure_lms_tables
from transforms.warehouse import replace_tables

UPSTREAM = [
    "lms_events",
    "course_nodes",
    "course_versions",
    "attempts",
    "manifest_words",
    "manifest_versions",
    "quiz_attempts",
    "course_progress",
    "enrollments",
    "module_progress",
    "lesson_progress",
    "user_badges",
]


@dg.multi_asset(
    group_name="lms",
    specs=[dg.AssetSpec(t.name, description=t.grain, deps=UPSTREAM) for t in ANALYTICS_TABLES],
)
def lms_analytics_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """The course-platform analytics tables, as of one moment, from the progress tables'
    inputs and the `quiz_attempts` and `course_progress` tables."""
    with warehouse.connect() as con:
        ensure_lms_tables(con)
        as_of = resolve_as_of(con, settings.as_of_time)
        tables = build_analytics_tables(read_analytics_parts(con, as_of))
        replace_tables(con, tables)
    yield from table_results(tables, as_of)
