"""Course-platform assets of issue 13's learner side: competencies (BKT), badges and the
published learning events with their per-run outbox."""

from collections.abc import Iterator

import dagster as dg

from pipelines.defs.lms.assets import LMS
from pipelines.defs.metadata import preview, table_counts, table_results
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from transforms.as_of import resolve_as_of
from transforms.ingest.manifests import json_documents
from transforms.lms.achievements import (
    GRAINS,
    competency_tables,
    publish_learning_events,
    update_user_badges,
)
from transforms.lms.badges import parse_badge_rules
from transforms.lms.progress import LMS_TABLES
from transforms.registry import table_names
from transforms.warehouse import replace_tables

PROGRESS_TABLES = list(table_names(LMS_TABLES))


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec(name, description=GRAINS[name])
        for name in ("badge_rules", "badge_rule_rejects")
    ],
)
def badge_rule_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Read every `badges/*.json` (one rule or a list each); a bad rule is rejected with its
    reason, the others apply."""
    rules, rejects = parse_badge_rules(json_documents(settings.landing_path / "badges"))
    with warehouse.connect() as con:
        replace_tables(con, {"badge_rules": rules, "badge_rule_rejects": rejects})
    for row in rejects.iter_rows(named=True):
        context.log.warning(f"badge rule rejected: {row['source']}#{row['item']}: {row['message']}")
    yield dg.MaterializeResult(
        asset_key="badge_rules",
        metadata={"dagster/row_count": rules.height, "preview": preview(rules)},
    )
    yield dg.MaterializeResult(
        asset_key="badge_rule_rejects",
        metadata={"dagster/row_count": rejects.height, "preview": preview(rejects)},
    )


@dg.multi_asset(
    group_name=LMS,
    specs=[
        dg.AssetSpec(
            "competency_params",
            description=GRAINS["competency_params"],
            deps=["lms_events", "course_nodes", "course_versions", "course_competencies"],
        ),
        dg.AssetSpec(
            "user_competencies",
            description=GRAINS["user_competencies"],
            deps=[
                "lms_events",
                "course_nodes",
                "course_versions",
                "course_competencies",
                "enrollments",
            ],
        ),
    ],
)
def competency_assets(
    warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Bayesian Knowledge Tracing per competency, fitted on every learner's evidence."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        tables = competency_tables(con, as_of)
        replace_tables(con, tables)
    params = tables["competency_params"]
    fitted = int(params["fitted"].sum()) if params.height else 0
    yield from table_results(tables, as_of, {"fitted_competencies": fitted})


@dg.asset(
    group_name=LMS,
    description=GRAINS["user_badges"],
    deps=[
        "badge_rules",
        "user_competencies",
        "lms_events",
        "attempts",
        "reviews",
        "quiz_attempts",
        *PROGRESS_TABLES,
    ],
)
def user_badges(warehouse: WarehouseResource, settings: ProgressSettings) -> dg.MaterializeResult:
    """One row per (user_id, badge_code, context): awarded at the event where the rule first
    held; awards stored by earlier runs stay as they were (never revoked, never twice)."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        awards, new = update_user_badges(con, as_of)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": awards.height,
            "new_awards": new,
            "as_of": as_of.isoformat(),
            "preview": preview(awards),
        }
    )


@dg.asset(
    group_name=LMS,
    description=GRAINS["learning_events"],
    deps=[
        "user_badges",
        "user_competencies",
        "quiz_attempts",
        "assignment_submissions",
        *PROGRESS_TABLES,
    ],
)
def learning_events(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ProgressSettings
) -> dg.MaterializeResult:
    """One row per published event (stable `event_id`); the events new in this run also go to
    `$PROGRESS_OUTBOX/<run>.jsonl`, written before they are recorded (a retried run rewrites
    the same file)."""
    with warehouse.connect() as con:
        fresh, path = publish_learning_events(con, context.run.run_id, settings.outbox_path)
        total = table_counts(con, ["learning_events"])["learning_events"]
    by_type = fresh.group_by("type").len().sort("type")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "published_now": fresh.height,
            "outbox": dg.MetadataValue.path(str(path.resolve())),
            **{f"new_{t}": n for t, n in by_type.iter_rows()},
        }
    )
