"""SRS assets: SM-2 replayed over every learner's full history, and the due forecast."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from pipelines.defs.metadata import bookkeeping_results, bookkeeping_specs, preview
from pipelines.defs.resources import ProgressSettings, WarehouseResource
from pipelines.defs.srs.config import SM2ReplayConfig
from transforms.as_of import resolve_as_of
from transforms.sm2.store import recompute_due_forecast, update_srs
from transforms.warehouse import query, replace_table

SRS = "srs"
# lms_events: "as of" is the latest attempt or course-platform event (lms.md section 3)
UPSTREAM = ["attempts", "manifest_words", "manifest_versions", "lms_events"]
# What the SRS step keeps for its next run (transforms/sm2/store.py, transforms/incremental.py)
SRS_STATE = {
    "sm2_params_used": "One row: the SM-2 parameters, as-of time and course-words fingerprint "
    "the stored reviews and word_progress were computed with.",
    "srs_sources": "One row per attempt source (source_id) the stored reviews and "
    "word_progress have replayed.",
}
TOUCHED = {
    "touched_cards": "One row per (consumer, user_id, language, word_uid) card whose SM-2 rows "
    "a run changed and that the consumer has not rebuilt from yet (since: its earliest changed "
    "attempt).",
    "touched_all": "One row per consumer with every row pending (after a full SM-2 recompute).",
}


@dg.multi_asset(
    group_name=SRS,
    specs=[
        dg.AssetSpec(
            "reviews",
            description="One row per graded review (docs/sm2.md §2): the replay columns, with "
            "user_id, language, word_uid, step_type, correct and Leitner's box.",
            deps=UPSTREAM,
        ),
        dg.AssetSpec(
            "word_progress",
            description="One row per card (user_id, language, word_uid): the app's "
            "WordProgress on SM-2.",
            deps=UPSTREAM,
        ),
        *bookkeeping_specs(SRS_STATE | TOUCHED),
    ],
)
def sm2_replay(
    config: SM2ReplayConfig, warehouse: WarehouseResource, settings: ProgressSettings
) -> Iterator[dg.MaterializeResult]:
    """Every card's SM-2 state over its full history: the cards with new attempts resume from
    their stored state, or replay their history when an attempt arrived late (all cards
    replay after a change of parameters or course, or on a full refresh)."""
    params = config.resolve(settings.base_sm2_params())
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        summary = update_srs(
            con,
            params,
            as_of,
            settings.srs_batches,
            full_refresh=config.full_refresh or settings.full_refresh,
        )
        sample = query(con, "SELECT * FROM word_progress LIMIT 10")
        bookkeeping = list(bookkeeping_results(con, [*SRS_STATE, *TOUCHED]))
    shared: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "sm2_params": dg.MetadataValue.json(params.to_dict()),
        "mode": summary.mode,
        "mode_reason": summary.reason,
        "learners_replayed": summary.learners_replayed
        if summary.learners_replayed is not None
        else "all",
        # incremental: changed cards resumed from their stored state / replayed in full
        "cards_resumed": summary.cards_resumed if summary.cards_resumed is not None else 0,
        "cards_replayed": summary.cards_replayed if summary.cards_replayed is not None else "all",
        "attempts_replayed": summary.attempts,
        "batches": summary.batches,
        "largest_batch_attempts": summary.largest_batch_attempts,
        "seconds_reading": round(summary.read_s, 2),
        "seconds_computing": round(summary.compute_s, 2),
        "seconds_writing": round(summary.write_s, 2),
    }
    yield dg.MaterializeResult(
        asset_key="reviews", metadata={"dagster/row_count": summary.reviews, **shared}
    )
    yield dg.MaterializeResult(
        asset_key="word_progress",
        metadata={
            "dagster/row_count": summary.cards,
            "preview": preview(sample),
            **shared,
        },
    )
    yield from bookkeeping


@dg.asset(group_name=SRS, deps=["word_progress"])
def due_forecast(warehouse: WarehouseResource, settings: ProgressSettings) -> dg.MaterializeResult:
    """One row per (user_id, language, day) with reviews due in the 30 days from as of;
    overdue reviews count on the as-of day."""
    with warehouse.connect() as con:
        as_of = resolve_as_of(con, settings.as_of_time)
        forecast = recompute_due_forecast(con, as_of)
        replace_table(con, "due_forecast", forecast)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": forecast.height,
            "as_of": as_of.isoformat(),
            "due_reviews": int(forecast["due_reviews"].sum()) if forecast.height else 0,
            "preview": preview(forecast),
        }
    )
