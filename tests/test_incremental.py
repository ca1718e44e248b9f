"""A nightly run that replays only the changed learners gives the tables of one run over all the
data: daily files delivered one run at a time, one of them a day late."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.generate.landing import GeneratorConfig, generate_landing
from pipelines.definitions import defs
from tests.pipeline_run import configure
from tests.warehouse_tables import warehouse_tables

NOT_COMPARED = {"srs_sources", "landing_paths"}  # bookkeeping that names the landing folder
# the published events are a ledger of what each run sent (the time an event was first known):
# compared by id below
PUBLISHED = "learning_events"


def _run_tables() -> tuple[str, str]:
    """Run every asset the nightly job runs but the reports; the SRS and metrics modes used,
    and the SRS step's cards resumed/replayed."""
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = [
        key
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name not in ("reporting", "tuning")
    ]
    result = definitions.resolve_job_def("nightly").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=keys
    )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    materialized = [
        m
        for node, key in (("sm2_replay", "reviews"), ("analytics_tables", "accuracy_daily"))
        for m in result.asset_materializations_for_node(node)
        if m.asset_key == dg.AssetKey(key)
    ]
    modes = "/".join(str(m.metadata["mode"].value) for m in materialized)
    srs = materialized[0].metadata
    return modes, f"{srs['cards_resumed'].value}/{srs['cards_replayed'].value}"


def _tables(warehouse: Path, landing: Path) -> dict[str, pl.DataFrame]:
    return warehouse_tables(warehouse, skip=NOT_COMPARED, landing=landing)


def _landing_with_a_late_file(source: Path) -> tuple[list[str], Path]:
    """A generated landing (one Parquet file a day) where one learner's day-2 attempts sit in a
    file of their own, and that learner has no attempt in the last two days: so the night the
    late file lands, nothing else would make the pipeline replay that learner."""
    generate_landing(
        source,
        GeneratorConfig(
            learners=16, days=8, words_per_language=16, languages=("es",), only_platform="web"
        ),
    )
    days = sorted(p.name for p in (source / "attempts").iterdir())
    day2 = source / "attempts" / days[1] / "web-b000.parquet"
    rows = pl.read_parquet(day2)
    learner = rows["userId"].value_counts(sort=True)["userId"][0]
    late = source / "late" / "web-late.parquet"
    late.parent.mkdir()
    rows.filter(pl.col("userId") == learner).write_parquet(late)
    rows.filter(pl.col("userId") != learner).write_parquet(day2)
    for day in days[-2:]:
        path = source / "attempts" / day / "web-b000.parquet"
        pl.read_parquet(path).filter(pl.col("userId") != learner).write_parquet(path)
    return days, late


def test_daily_runs_with_a_late_file_equal_one_run_over_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "source"
    days, late = _landing_with_a_late_file(source)

    # one run over everything
    whole = tmp_path / "whole" / "landing"
    for folder in ("attempts", "manifests", "cohorts"):
        shutil.copytree(source / folder, whole / folder)
    shutil.copy2(late, whole / "attempts" / days[1] / late.name)
    configure(monkeypatch, tmp_path / "whole")
    _run_tables()
    expected = _tables(tmp_path / "whole" / "warehouse.duckdb", whole)

    # one run a day, the late file delivered with the last day
    landing = tmp_path / "daily" / "landing"
    for folder in ("manifests", "cohorts"):
        shutil.copytree(source / folder, landing / folder)
    configure(monkeypatch, tmp_path / "daily")
    modes: list[str] = []
    cards: list[str] = []
    for day in days:
        shutil.copytree(source / "attempts" / day, landing / "attempts" / day)
        if day == days[-1]:
            shutil.copy2(late, landing / "attempts" / days[1] / late.name)
        mode, resumed_replayed = _run_tables()
        modes.append(mode)
        cards.append(resumed_replayed)
    # the late night took the cheap path, in SM-2 and in the metric tables
    assert modes[-1] == "incremental/incremental", modes
    # SM-2: an incremental night before the late one resumed every changed card (attempts
    # arrive in time order); the nights a course version comes into force recompute everything
    on_time = [c for c, m in zip(cards[:-1], modes[:-1], strict=True) if m.startswith("incr")]
    assert on_time and all(c.endswith("/0") and not c.startswith("0/") for c in on_time), cards
    got = _tables(tmp_path / "daily" / "warehouse.duckdb", landing)
    # every event one run over everything publishes was published by the daily runs too (and
    # those also published what held for a while, e.g. a lesson completed until a word lapsed)
    published, whole_published = got.pop(PUBLISHED), expected.pop(PUBLISHED)
    assert set(whole_published["event_id"]) <= set(published["event_id"])
    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_exact=False, rel_tol=1e-12)
