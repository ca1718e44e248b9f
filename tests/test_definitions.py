"""The code location loads, and the whole pipeline runs with its checks passing."""

from __future__ import annotations

from pathlib import Path

import pytest

from landing.generate.landing import GeneratorConfig, generate_landing
from pipelines.definitions import defs
from tests.pipeline_run import configure, run_all
from tests.warehouse_tables import tables_without_an_asset
from transforms.metrics.tables import METRIC_TABLES
from transforms.registry import table_names
from transforms.warehouse import connect, query, scalar

EXPECTED_ASSETS = {
    "attempts",
    "attempt_rejects",
    "ingested_files",
    "manifest_versions",
    "manifest_words",
    "manifest_rejects",
    "cohorts",
    "reviews",
    "word_progress",
    "due_forecast",
    *table_names(METRIC_TABLES),
    "headline_figures",
    "weekly_active_learners",
    "report_secrets",
    "educator_reports",
    "sm2_report",
    "learner_reports",
    "report_index",
}


def test_definitions_load() -> None:
    loaded = defs()
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert keys >= EXPECTED_ASSETS
    schedule = loaded.resolve_schedule_def("nightly_0200_utc")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"


def test_pipeline_end_to_end_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_landing(
        tmp_path / "landing", GeneratorConfig(learners=16, days=14, words_per_language=30)
    )
    configure(monkeypatch, tmp_path)
    result = run_all({"ops": {"sm2_replay": {"config": {"ef_min": 1.4}}}})
    meta = result.asset_materializations_for_node("sm2_replay")[0].metadata
    assert meta["sm2_params"].value["ef_min"] == 1.4  # type: ignore[index,union-attr]
    con = connect(tmp_path / "warehouse.duckdb")
    tables = [
        "attempts",
        "attempt_rejects",
        "ingested_files",
        "reviews",
        "word_progress",
        "due_forecast",
        "manifest_words",
    ]
    first = {t: query(con, f"SELECT * FROM {t} ORDER BY ALL") for t in tables}
    assert scalar(con, "SELECT min(ef_after) FROM reviews") >= 1.4  # type: ignore[operator]
    con.close()
    run_all({"ops": {"sm2_replay": {"config": {"ef_min": 1.4}}}})
    con = connect(tmp_path / "warehouse.duckdb")
    for table, before in first.items():
        assert query(con, f"SELECT * FROM {table} ORDER BY ALL").equals(before), table
    con.close()
    # every table the run wrote, bookkeeping included, is an asset or a declared output
    keys = {k.to_user_string() for k in defs().resolve_asset_graph().get_all_asset_keys()}
    assert tables_without_an_asset(tmp_path / "warehouse.duckdb", keys) == []
