"""The nightly run of the whole pipeline."""

import dagster as dg

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups("tuning"),
    description="Ingest new attempts and manifests, recompute SM-2 state, every table and "
    "the reports.",
)

tuning_job = dg.define_asset_job(
    "tuning",
    selection=dg.AssetSelection.groups("tuning"),
    description="The SM-2 tuning lab: evaluate, search and simulate parameter sets (on demand).",
)

nightly_schedule = dg.ScheduleDefinition(
    name="nightly_0200_utc",
    job=nightly_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
