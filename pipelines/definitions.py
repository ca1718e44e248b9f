"""The code location: every definition under `pipelines/defs/`, plus the shared resources."""

from pathlib import Path

import dagster as dg

from pipelines.defs.resources import build_resources
from pipelines.sharded import sharded_definitions
from transforms.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    folder = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    settings = Settings.from_env()
    if settings.sharded:  # SM-2 per learner bucket through the lake (pipelines/sharded.py)
        folder = sharded_definitions(folder, settings)
    # DuckDB has one writer at a time: steps run one after another in the run's process (the
    # sharded run's bucket steps only read it, in parallel).
    wiring = dg.Definitions(resources=build_resources(), executor=dg.in_process_executor)
    return dg.Definitions.merge(folder, wiring)
