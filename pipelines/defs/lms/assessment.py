"""Course-platform assessment assets (lms.md section 3): quiz attempts, quiz and item
statistics, assignment submissions, task statistics."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.metadata import pages_result, table_results
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.pages import PageMeta
from reports.quizzes import QuizData, build_quiz_reports
from transforms.as_of import resolve_as_of
from transforms.lms.assessment import ASSESSMENT_TABLES, build_assessment_tables
from transforms.lms.read import read_lms_inputs
from transforms.lms.schema import ensure_lms_tables
from transforms.warehouse import replace_tables

LMS = "lms"


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec(
            t.name, description=t.grain, deps=["lms_events", "course_nodes", "course_versions"]
        )
        for t in ASSESSMENT_TABLES
    ],
)
def lms_assessment_tables(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every assessment table from one read of the course trees and events, as of one moment."""
    with warehouse.connect() as con:
        ensure_lms_tables(con)
        as_of = resolve_as_of(con, settings.as_of_time)
        tables = build_assessment_tables(read_lms_inputs(con, as_of, languages=False), as_of)
        replace_tables(con, tables)
    yield from table_results(tables, as_of)


@dg.asset(
    group_name=LMS,
    deps=[
        "quiz_stats",
        "quiz_item_stats",
        "quiz_attempts",
        "course_nodes",
        "course_versions",
        "course_reports",
    ],
)
def quiz_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One course authors' page per course with a quiz of at least 5 learners (score
    histogram, reliability, per-question facility, discrimination with flags, answer
    distribution); the next `report_index` links them."""
    folder = settings.reports_path
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        meta = PageMeta.of(as_of, context.run.run_id)
        data = QuizData.read(con, as_of)
    pages, suppressed, figures = build_quiz_reports(data, folder, meta)
    suppressed_quizzes = ", ".join(suppressed) or "none"
    return pages_result(
        pages,
        figures,
        folder / "png",
        settings.export_png,
        {"suppressed_quizzes": suppressed_quizzes},
    )
