"""Course-platform assessment assets (lms.md section 3): quiz attempts, quiz and item
statistics, assignment submissions, task statistics."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.lms.assets import LmsRefreshConfig
from pipelines.defs.metadata import pages_result, stored_table_results
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.pages import PageMeta
from reports.quizzes import QuizData, build_quiz_reports
from transforms.as_of import resolve_as_of
from transforms.lms.assessment import ASSESSMENT_TABLES
from transforms.lms.nightly import update_assessment
from transforms.registry import table_names

LMS = "lms"


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec(
            t.name,
            description=t.grain,
            deps=["lms_events", "lms_ingested_files", "course_nodes", "course_versions"],
        )
        for t in ASSESSMENT_TABLES
    ],
)
def lms_assessment_tables(
    config: LmsRefreshConfig, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every assessment table as of one moment: the touched learners' attempts and
    submissions and the touched courses' statistics (transforms/lms/nightly.py), or all of
    them with no stored state, a change of the course versions in force, or on
    `PROGRESS_FULL_REFRESH`. The metadata gives the whole table's rows, `rows_rebuilt`, the
    mode, its reason and the learners rebuilt."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        full = config.full_refresh or settings.full_refresh
        run = update_assessment(con, as_of, full_refresh=full)
        names = list(table_names(ASSESSMENT_TABLES))
        results = stored_table_results(con, names, as_of, run.tables, run.summary)
    yield from results


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
