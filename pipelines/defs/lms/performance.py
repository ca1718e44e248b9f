"""The learner performance pages of the course platforms (issue 13)."""

import dagster as dg

from pipelines.defs.metadata import pages_result
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.build import pick_learners, pseudonym_key, remove_stale
from reports.pages import PageMeta
from reports.performance import ACTIVITY_SQL, PerformanceData, build_performance_reports
from transforms.as_of import resolve_as_of
from transforms.warehouse import query

REPORTING = "reporting"  # a report page, written with the other reports


@dg.asset(
    group_name=REPORTING,
    deps=[
        "user_progress",
        "course_progress",
        "task_queue",
        "quiz_attempts",
        "user_competencies",
        "user_badges",
        "report_secrets",
        "lms_events",
        "course_nodes",
        "assessment_trends",
    ],
)
def performance_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One page per selected course-platform learner (`PROGRESS_REPORT_LEARNERS`: that many
    most active by events, or user ids), under a pseudonym: summary, assessments with their
    trend, competencies, badges, next tasks."""
    folder = settings.reports_path
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        meta = PageMeta.of(as_of, context.run.run_id)
        key = pseudonym_key(con, settings.pseudonym_key)
        users = pick_learners(query(con, ACTIVITY_SQL), settings.report_learners)
        data = PerformanceData.read(con, users)
    pages, figures = build_performance_reports(data, folder, meta, key, users)
    # a learner no longer selected loses their page (the index links every page there)
    stems = [stem for stem, _ in figures] if settings.export_png else []
    stale = remove_stale(folder, ("performance",), ("performance-",), pages, stems)
    if stale:
        context.log.info(f"removed {len(stale)} page(s) and PNG(s) no longer written")
    return pages_result(pages, figures, folder / "png", settings.export_png)
