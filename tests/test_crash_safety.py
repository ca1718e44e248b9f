"""`kill -9` of the nightly run at any point, then a rerun, gives the same warehouse and report
pages as an uninterrupted run; nothing partial survives as if complete."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.generate.landing import GeneratorConfig, generate_landing
from tests.warehouse_tables import warehouse_tables

RUN = (
    "import sys, dagster as dg\n"
    "from pipelines.definitions import defs\n"
    "result = defs().resolve_job_def('nightly').execute_in_process("
    "instance=dg.DagsterInstance.ephemeral())\n"
    "sys.exit(0 if result.success else 1)\n"
)
RANDOM_TABLES = {"report_secrets"}  # a random key made once per warehouse
CRASH_POINTS = ["ingest:transaction", "ingest:batch", "srs:batch@2", "reports:page@3"]


def _run(root: Path, landing: Path, failpoint: str | None = None) -> int:
    env = {
        **os.environ,
        "PROGRESS_LANDING": str(landing),
        "PROGRESS_WAREHOUSE": str(root / "warehouse.duckdb"),
        "PROGRESS_REPORTS": str(root / "reports"),
        "PROGRESS_OUTBOX": str(root / "outbox"),
        "PROGRESS_SRS_BATCHES": "3",
        "PROGRESS_REPORT_LEARNERS": "2",
        "PROGRESS_EXPORT_PNG": "0",
        "PROGRESS_PSEUDONYM_KEY": "crash-test",
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    for key in ("PROGRESS_PG_DSN", "PROGRESS_AS_OF", "PROGRESS_SM2_PARAMS", "PROGRESS_FAILPOINT"):
        env.pop(key, None)
    if failpoint:
        env["PROGRESS_FAILPOINT"] = failpoint
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", RUN],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode


def _tables(root: Path) -> dict[str, pl.DataFrame]:
    return warehouse_tables(root / "warehouse.duckdb", skip=RANDOM_TABLES)


def _pages(root: Path) -> list[str]:
    folder = root / "reports"
    pages = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.html"))
    for page in pages:  # every page is whole
        assert (folder / page).read_text(encoding="utf-8").rstrip().endswith("</html>"), page
    return pages


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("crash-reference")
    landing = root / "landing"
    generate_landing(
        landing, GeneratorConfig(learners=24, days=21, words_per_language=20, languages=("es",))
    )
    assert _run(root, landing) == 0
    return root, landing


@pytest.mark.parametrize("failpoint", CRASH_POINTS)
def test_a_run_killed_then_rerun_equals_an_uninterrupted_run(
    reference: tuple[Path, Path], tmp_path: Path, failpoint: str
) -> None:
    ref_root, landing = reference
    assert _run(tmp_path, landing, failpoint) == -9  # SIGKILL: the crash point was reached
    assert _run(tmp_path, landing) == 0
    expected, got = _tables(ref_root), _tables(tmp_path)
    assert sorted(got) == sorted(expected)
    for name, frame in expected.items():
        assert_frame_equal(got[name], frame, check_dtypes=True, check_exact=False, rel_tol=1e-12)
    assert _pages(tmp_path) == _pages(ref_root)
    assert not list((tmp_path / "reports").rglob(".*.partial"))
