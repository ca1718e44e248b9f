"""Reporting assets: HTML reports anyone can open offline, linked from an index page."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from pipelines.defs.resources import ProgressSettings, WarehouseResource
from reports.build import (
    BuiltReports,
    build_educator_reports,
    build_learner_reports,
    build_sm2_report,
    pseudonym_key,
    remove_stale_reports,
    save_suppressed,
    write_index,
)
from reports.export import export_pngs
from reports.pages import PageMeta
from transforms.metrics.tables import METRIC_TABLES
from transforms.srs_store import describe_as_of, resolve_as_of

REPORTING = "reporting"
KINDS = {
    "educator_reports": "One page per cohort with at least 5 learners, and an overview.",
    "sm2_report": "One page: SM-2's state, workload, calibration, and SM-2 against Leitner.",
    "learner_reports": "One page per selected learner, under a pseudonym.",
    "report_index": "The index page linking every report.",
}


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
            deps=[*METRIC_TABLES, "reviews", "word_progress", "due_forecast"],
        )
        for name, text in KINDS.items()
    ],
)
def reports(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Write every report and the index; PNG copies of every figure when Chromium is present."""
    folder = settings.reports_path
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        meta = PageMeta(as_of=describe_as_of(as_of), run_id=context.run.run_id)
        key = pseudonym_key(con, settings.pseudonym_key)
        built = {
            "educator_reports": build_educator_reports(con, folder, meta, key, as_of),
            "sm2_report": build_sm2_report(con, folder, meta, as_of),
            "learner_reports": build_learner_reports(
                con, folder, meta, key, as_of, settings.report_learners
            ),
        }
        suppressed = sorted({c for r in built.values() for c in r.suppressed})
        save_suppressed(con, suppressed)
    stale = remove_stale_reports(folder, list(built.values()), settings.export_png)
    if stale:
        context.log.info(f"removed {len(stale)} page(s) and PNG(s) no longer written")
    index = write_index(folder, meta, suppressed)
    for name, result in built.items():
        pngs, note = (
            export_pngs(result.figures, folder / "png") if settings.export_png else ([], "disabled")
        )
        yield dg.MaterializeResult(
            asset_key=name, metadata={**_metadata(result, note), "png_files": len(pngs)}
        )
    yield dg.MaterializeResult(
        asset_key="report_index",
        metadata={"path": dg.MetadataValue.path(str(index.resolve())), "as_of": meta.as_of},
    )
