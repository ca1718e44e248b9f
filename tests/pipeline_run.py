"""Run the whole pipeline in-process against temporary folders, as the nightly job does."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipelines.definitions import defs


def configure(monkeypatch: pytest.MonkeyPatch, root: Path, **extra: str) -> None:
    monkeypatch.setenv("PROGRESS_LANDING", str(root / "landing"))
    monkeypatch.setenv("PROGRESS_WAREHOUSE", str(root / "warehouse.duckdb"))
    monkeypatch.setenv("PROGRESS_REPORTS", str(root / "reports"))
    for key in ("PROGRESS_PG_DSN", "PROGRESS_AS_OF", "PROGRESS_SM2_PARAMS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)


def run_all(
    run_config: dict | None = None, job_name: str = "nightly", selection: list[str] | None = None
) -> dg.ExecuteInProcessResult:
    """Run a job (only the assets in `selection` when given) on a fresh ephemeral instance."""
    job = defs().resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config=run_config or {},
        asset_selection=[dg.AssetKey(k) for k in selection] if selection else None,
    )
    assert result.success
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert not failed, failed
    return result
