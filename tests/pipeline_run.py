"""Run the whole pipeline in-process against temporary folders, as the nightly job does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs


def configure(monkeypatch: pytest.MonkeyPatch, root: Path, **extra: str) -> None:
    monkeypatch.setenv("PROGRESS_LANDING", str(root / "landing"))
    monkeypatch.setenv("PROGRESS_WAREHOUSE", str(root / "warehouse.duckdb"))
    monkeypatch.setenv("PROGRESS_REPORTS", str(root / "reports"))
    monkeypatch.setenv("PROGRESS_OUTBOX", str(root / "outbox"))
    for key in ("PROGRESS_PG_DSN", "PROGRESS_AS_OF", "PROGRESS_SM2_PARAMS"):
        monkeypatch.delenv(key, raising=False)
    # PNG copies of the figures cost more than the rest of a small run (a Chromium per
    # batch); tests/test_export.py covers them, a test that wants them passes "1"
    monkeypatch.setenv("PROGRESS_EXPORT_PNG", "0")
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def run_all(
    run_config: dict | None = None,
    job_name: str = "nightly",
    failing_checks: Mapping[str, str] | None = None,
    selection: list[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Run `job_name` (only the assets in `selection` when given) on a fresh ephemeral
    instance; it must succeed with every asset check of the run's assets evaluated, and none
    failing but those named in `failing_checks` (check name -> why it legitimately fails)."""
    job = defs().resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config or {},
        asset_selection=[dg.AssetKey(k) for k in selection] if selection else None,
    )
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    expected = {
        key.name
        for key in job.asset_layer.asset_graph.asset_check_keys
        if not selection or key.asset_key.to_user_string() in selection
    }
    evaluated = {e.asset_check_key.name for e in evaluations}
    assert expected <= evaluated, f"checks not evaluated: {sorted(expected - evaluated)}"
    failed = {e.asset_check_key.name: e for e in evaluations if not e.passed}
    allowed = set(failing_checks or {})
    assert set(failed) <= allowed, [e for name, e in failed.items() if name not in allowed]
    assert allowed <= set(failed), f"expected to fail but passed: {sorted(allowed - set(failed))}"
    return result
