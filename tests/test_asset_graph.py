"""A snapshot of the asset graph (keys, groups, dependencies and checks), as
dagster-open-platform keeps one: a change to the lineage shows up in review as a diff of
`tests/snapshots/asset_graph.json`. After an intended change, regenerate it with
`UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_asset_graph.py`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipelines.definitions import defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def asset_graph() -> dict[str, Any]:
    graph = defs().resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
        }
    return assets


def test_asset_graph_matches_its_snapshot() -> None:
    current = json.dumps(asset_graph(), indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text(), "the asset graph changed: see the module docstring"
