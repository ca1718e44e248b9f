"""The code location: every definition under `pipelines/defs/`, plus the shared resources."""

from pathlib import Path

import dagster as dg

from pipelines.defs.resources import build_resources


@dg.definitions
def defs() -> dg.Definitions:
    folder = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # DuckDB has one writer at a time: steps run one after another in the run's process.
    wiring = dg.Definitions(resources=build_resources(), executor=dg.in_process_executor)
    return dg.Definitions.merge(folder, wiring)
