"""Reporting assets: HTML reports anyone can open offline, linked from an index page."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.build import (
    BuiltReports,
    ReportContext,
    ReportData,
    build_educator_reports,
    build_learner_reports,
    build_sm2_report,
    ensure_pseudonym_key,
    pseudonym_key,
    remove_stale_reports,
    suppressed_cohorts,
)
from reports.export import export_pngs
from reports.index import write_index
from reports.pages import PageMeta
from transforms.as_of import resolve_as_of
from transforms.ingest.last_run import last_ingestion
from transforms.metrics.tables import METRIC_TABLES
from transforms.registry import table_names
from transforms.warehouse import query, table_exists

REPORTING = "reporting"
KINDS = {
    "educator_reports": "One page per cohort with at least 5 learners, and an overview.",
    "sm2_report": "One page: SM-2's state, workload, calibration, and SM-2 against Leitner.",
    "learner_reports": "One page per selected learner, under a pseudonym.",
}
CHECK_COLUMNS = {
    "asset": pl.String,
    "check": pl.String,
    "passed": pl.Boolean,
    "severity": pl.String,
    "description": pl.String,
    "run_id": pl.String,
}


@dg.asset(group_name=REPORTING)
def report_secrets(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per secret the reports use (name, value): the pseudonym key used when
    `PROGRESS_PSEUDONYM_KEY` is not set, made once and kept so pseudonyms stay stable."""
    with warehouse.connect() as con:
        made = ensure_pseudonym_key(con)
    return dg.MaterializeResult(metadata={"new_pseudonym_key": made})


def _metadata(built: BuiltReports, png_note: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "pages": len(built.pages),
        "png_export": png_note,
    }
    if built.pages:
        meta["path"] = dg.MetadataValue.path(str(built.pages[0].resolve()))
        meta["files"] = dg.MetadataValue.md(
            "\n".join(f"- [{p.name}](file://{p.resolve()})" for p in built.pages)
        )
    if built.suppressed:
        meta["suppressed_cohorts"] = ", ".join(built.suppressed)
    return meta


@dg.multi_asset(
    group_name=REPORTING,
    specs=[
        dg.AssetSpec(
            name,
            description=text,
            deps=[
                *table_names(METRIC_TABLES),
                "reviews",
                "word_progress",
                "due_forecast",
                "report_secrets",
            ],
        )
        for name, text in KINDS.items()
    ],
)
def reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Write every report page; PNG copies of every figure when Chromium is present."""
    folder = settings.reports_path
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        page = ReportContext(
            folder,
            PageMeta.of(as_of, context.run.run_id),
            pseudonym_key(con, settings.pseudonym_key),
            as_of,
        )
        data = ReportData.read(con, as_of, settings.report_learners)
    built = {
        "educator_reports": build_educator_reports(data, page),
        "sm2_report": build_sm2_report(data, page),
        "learner_reports": build_learner_reports(data, page),
    }
    stale = remove_stale_reports(folder, list(built.values()), settings.export_png)
    if stale:
        context.log.info(f"removed {len(stale)} page(s) and PNG(s) no longer written")
    for name, result in built.items():
        pngs, note = (
            export_pngs(result.figures, folder / "png") if settings.export_png else ([], "disabled")
        )
        yield dg.MaterializeResult(
            asset_key=name, metadata={**_metadata(result, note), "png_files": len(pngs)}
        )


def all_check_keys() -> list[dg.AssetCheckKey]:
    """Every asset check of the code location (a run of some assets knows only their checks,
    and a run in-process has no repository)."""
    from pipelines.definitions import defs  # imported here: that module loads this one

    return sorted(defs().resolve_asset_graph().asset_check_keys, key=str)


def latest_check_results(
    instance: dg.DagsterInstance, keys: list[dg.AssetCheckKey]
) -> pl.DataFrame:
    """The latest completed evaluation of each asset check in `keys`, one row per check
    (passed is null for a check that never ran), from the Dagster instance's event log."""
    summaries = instance.event_log_storage.get_asset_check_summary_records(keys)
    rows = []
    for key in keys:
        summary = summaries.get(key)
        record = summary.last_completed_check_execution_record if summary else None
        evaluation = record.evaluation if record else None
        rows.append(
            {
                "asset": key.asset_key.to_user_string(),
                "check": key.name,
                "passed": evaluation.passed if evaluation else None,
                "severity": evaluation.severity.value if evaluation else None,
                "description": evaluation.description if evaluation else None,
                "run_id": record.run_id if record else None,
            }
        )
    return pl.DataFrame(rows, schema=CHECK_COLUMNS)


@dg.asset(
    group_name=REPORTING,
    deps=[
        *KINDS,
        "course_reports",
        "performance_reports",
        "quiz_reports",
        "headline_figures",
        "weekly_active_learners",
        "ingested_files",
        "attempt_rejects",
        "learner_cohorts",
    ],
)
def report_index(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """The index page: headline figures with their change from the week before, every report
    linked by audience, the latest ingestion's counts and the latest asset check results."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        headline, weekly = (
            query(con, f"SELECT * FROM {table}") if table_exists(con, table) else None
            for table in ("headline_figures", "weekly_active_learners")
        )
        ingestion = last_ingestion(
            query(con, "SELECT * FROM ingested_files"),
            query(con, "SELECT source_id, reason FROM attempt_rejects"),
        )
        suppressed = suppressed_cohorts(con)
    checks = latest_check_results(context.instance, all_check_keys())
    meta = PageMeta.of(as_of, context.run.run_id)
    path = write_index(settings.reports_path, meta, headline, ingestion, checks, suppressed, weekly)
    failed = checks.filter(~pl.col("passed").fill_null(True))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path.resolve())),
            "as_of": meta.as_of,
            "suppressed_cohorts": ", ".join(suppressed) or "none",
            "checks_failed": failed.height,
            "checks_shown": checks.height,
        }
    )
