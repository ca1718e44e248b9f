"""Course-platform assets (lms.md): course trees, learning events, and progress tables."""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from pipelines.defs.metadata import pages_result, stored_table_results, table_counts
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.courses import CourseData, build_course_reports
from reports.pages import PageMeta
from reports.quizzes import QuizData
from transforms.as_of import resolve_as_of
from transforms.incremental import CONSUMED_FILES
from transforms.ingest.manifests import json_documents
from transforms.lms.achievements import GRAINS
from transforms.lms.courses import load_courses, parse_paths, store_path_rejects
from transforms.lms.ingest import ingest_events
from transforms.lms.nightly import LMS_STATE, TASK_MEDIANS, update_lms_progress
from transforms.lms.progress import LMS_TABLES
from transforms.lms.schema import ensure_lms_tables
from transforms.registry import table_names
from transforms.sm2 import SM2Params
from transforms.warehouse import replace_table, transaction

LMS = "lms"
TREE_TABLES = (
    "course_versions",
    "course_nodes",
    "course_competencies",
    "course_rejects",
    "learning_paths",
)
EVENT_TABLES = ("lms_events", "lms_event_rejects", "lms_ingested_files")


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec("course_versions", description="One row per (course_id, version)."),
        dg.AssetSpec("course_nodes", description="One row per (course_id, version, node_id)."),
        dg.AssetSpec("course_competencies", description=GRAINS["course_competencies"]),
        dg.AssetSpec("course_rejects", description="One row per rejected course or path file."),
        dg.AssetSpec("learning_paths", description="One row per (path_id, position)."),
    ],
)
def ingest_courses(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Validate and load new course versions (`courses/`) and the learning paths (`paths/`)."""
    with warehouse.connect() as con:
        result = load_courses(con, json_documents(settings.landing_path / "courses"))
        paths, path_rejects = parse_paths(json_documents(settings.landing_path / "paths"))
        with transaction(con):
            replace_table(con, "learning_paths", paths)
            store_path_rejects(con, path_rejects)
        counts = table_counts(con, list(TREE_TABLES))
    for reject in pl.concat([result.rejected, path_rejects]).iter_rows(named=True):
        context.log.warning(f"course file rejected: {reject['source']}: {reject['message']}")
    loaded = ", ".join(f"{c} v{v}" for c, v in result.loaded) or "none"
    for key in TREE_TABLES:
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": counts[key],
                "loaded_versions": loaded,
                "new_rejects": result.rejected.height + path_rejects.height,
            },
        )


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec(key, description=text, deps=["course_nodes", "course_versions"])
        for key, text in {
            "lms_events": "One row per accepted learning event (event_id).",
            "lms_event_rejects": "One row per rejected event row or xAPI statement.",
            "lms_ingested_files": "One row per ingested event or xAPI file (content hash); "
            "rows read = accepted + duplicates + rejected.",
        }.items()
    ],
)
def ingest_lms_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Load new `events/` and `xapi/` files; already ingested content adds nothing."""
    now = datetime.now(UTC).replace(tzinfo=None)  # ingestion provenance, as for attempts
    with warehouse.connect() as con:
        new = ingest_events(con, settings.landing_path, now)
        counts = table_counts(con, list(EVENT_TABLES))
    totals = (
        {k: int(new[k].sum()) for k in ("rows_read", "accepted", "duplicates", "rejected")}
        if new.height
        else {}
    )
    context.log.info(f"ingested {new.height} new event file(s): {totals}")
    for key in EVENT_TABLES:
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": counts[key],
                "new_sources": new.height,
                **{f"new_{k}": v for k, v in totals.items()},
            },
        )


class LmsRefreshConfig(dg.Config):
    """The LMS steps' launchpad: `full_refresh` rebuilds every learner's rows, not only those
    with new data (as `PROGRESS_FULL_REFRESH=1` does)."""

    full_refresh: bool = False


PROGRESS_UPSTREAM = [
    "lms_events",
    "lms_ingested_files",
    "course_nodes",
    "course_versions",
    "learning_paths",
    "attempts",
    "reviews",
    "manifest_words",
    "manifest_versions",
]
PROGRESS_BOOKKEEPING = {
    LMS_STATE: "One row per consumer (lms_progress; lms_assessment writes its own row): the "
    "as-of time its tables are up to date with and a digest of the course versions in force, "
    "paths and SM-2 parameters they were built from.",
    TASK_MEDIANS: "One row per task (node_id) attempted: its median attempt time over every "
    "learner, which grades a first-try solve (5 below it, else 4).",
    CONSUMED_FILES: "One row per (consumer, content_hash): an ingested file a step has read "
    "(lms_progress; lms_assessment writes its own rows).",
}


@dg.multi_asset(
    group_name=LMS,
    specs=[
        *(
            dg.AssetSpec(table.name, description=table.grain, deps=PROGRESS_UPSTREAM)
            for table in LMS_TABLES
        ),
        *(
            dg.AssetSpec(name, description=text, deps=PROGRESS_UPSTREAM)
            for name, text in PROGRESS_BOOKKEEPING.items()
        ),
    ],
)
def lms_progress_tables(
    config: LmsRefreshConfig, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every course-platform progress table as of one moment: the rows of the learners whose
    data changed since the last run (transforms/lms/nightly.py), or all of them with no stored
    state, after a change of the course versions in force, or on `PROGRESS_FULL_REFRESH`. The
    metadata gives the whole table's rows, `rows_rebuilt`, the mode, its reason and the
    learners rebuilt."""
    with warehouse.connect() as con:
        ensure_lms_tables(con)
        as_of = resolve_as_of(con, settings.as_of_time)
        full = config.full_refresh or settings.full_refresh
        run = update_lms_progress(
            con, as_of, SM2Params(), full_refresh=full, rows_per_group=settings.lms_group_rows
        )
        names = [*table_names(LMS_TABLES), *PROGRESS_BOOKKEEPING]
        results = stored_table_results(con, names, as_of, run.tables, run.summary)
    yield from results


@dg.asset(
    group_name=LMS,
    deps=[
        *table_names(LMS_TABLES),
        "course_nodes",
        "course_versions",
        "quiz_stats",
        "quiz_item_stats",
        "quiz_attempts",
        "course_stop_points",
        "course_funnel",
        "course_completion_days",
        "course_lesson_time",
        "course_continue_positions",
        "course_badges_weekly",
    ],
)
def course_reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One educators' page per course with at least 5 enrolled learners (funnel, where learners
    stop, completion over time, time per lesson, "continue here" positions, badges per week:
    each drawn from its table, `lms_analytics_tables`); the next
    `report_index` links them; each links its course's quiz page."""
    folder = settings.reports_path
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        meta = PageMeta.of(as_of, context.run.run_id)
        data = CourseData.read(con, as_of)
        quiz_courses = QuizData.read(con, as_of).courses_with_a_page()
    pages, suppressed, figures = build_course_reports(data, quiz_courses, folder, meta)
    suppressed_courses = ", ".join(suppressed) or "none"
    return pages_result(
        pages,
        figures,
        folder / "png",
        settings.export_png,
        {"suppressed_courses": suppressed_courses},
    )
