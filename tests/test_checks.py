"""Every asset check fails when its table is broken, and passes on the pipeline's own output.

The pipeline (without reports and the tuning lab) runs once on a small generated landing; each
test breaks a copy of that warehouse with one SQL statement and evaluates one check against it.
A new check must get a row in `BREAKS` (a test fails until it has one)."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from landing.generate.landing import GeneratorConfig, generate_landing
from pipelines.definitions import defs
from pipelines.defs.resources import WarehouseResource
from tests.pipeline_run import configure
from tests.registry_breaks import all_registry_breaks
from tests.test_lms_achievements import BREAKS as ACHIEVEMENT_BREAKS
from tests.test_lms_analytics import ANALYTICS_BREAKS
from tests.test_lms_progress import LMS_BREAKS, LMS_REGISTRY_BREAKS
from tests.test_lms_quizzes import ASSESSMENT_BREAKS
from transforms.metrics.tables import METRIC_TABLES

SKIPPED_GROUPS = {"reporting", "tuning"}  # no check reads their tables

# the nightly metrics run's state and partial sums, each checked one row per key
STATE_TABLES = [
    "learner_history_state",
    "card_first_reviews",
    "card_word_sums",
    "card_review_sums",
    "word_sums",
    "review_sums",
    "step_response_counts",
    "group_sums_sources",
]

# (check name, SQL that breaks what it checks). Several rows may break one check in ways.
BREAKS: list[tuple[str, str]] = [
    ("rows_read_balance", "UPDATE ingested_files SET rows_read = rows_read + 1"),
    (
        "rows_read_balance",
        "DELETE FROM attempts WHERE uuid_local = (SELECT min(uuid_local) FROM attempts)",
    ),
    ("rows_read_balance", "DELETE FROM attempt_rejects"),
    ("attempts_unique_uuid", "INSERT INTO attempts SELECT * FROM attempts LIMIT 1"),
    (
        "no_unreadable_sources",
        "INSERT INTO ingested_files (content_hash, source_kind, path, status, error, rows_read, "
        "accepted, duplicates, rejected, ingested_at) VALUES ('h', 'file', 'attempts/bad.csv', "
        "'failed', 'not UTF-8', 0, 0, 0, 0, TIMESTAMP '2026-01-01')",
    ),
    (
        "no_rejected_manifests",
        "INSERT INTO manifest_rejects VALUES ('h', 'manifests/es.json', 'es', 9, 'malformed', 'x')",
    ),
    ("manifest_word_counts", "UPDATE manifest_versions SET word_count = word_count + 1"),
    ("manifest_word_counts", "DELETE FROM manifest_words WHERE position = 1"),
    ("ef_at_least_ef_min", "UPDATE reviews SET ef_after = 1.0 WHERE review_index = 1"),
    (
        "passed_reviews_interval_at_least_one",
        "UPDATE reviews SET interval_days = 0.5 WHERE quality >= 3",
    ),
    (
        "reviews_within_attempts",
        "DELETE FROM attempts WHERE uuid_local = (SELECT min(uuid_local) FROM reviews)",
    ),
    ("reviews_within_attempts", "INSERT INTO reviews SELECT * FROM reviews LIMIT 1"),
    ("one_state_row_per_card", "INSERT INTO word_progress SELECT * FROM word_progress LIMIT 1"),
    ("every_card_reviewed", "DELETE FROM reviews WHERE review_index = 1"),
    ("week_zero_retention_is_one", "UPDATE cohort_retention SET retention = 0.5"),
    ("week_zero_retention_is_one", "UPDATE cohort_retention SET active_learners = 0"),
    ("cohort_sizes_add_up", "UPDATE cohort_retention SET cohort_size = cohort_size + 1"),
    ("cohort_sizes_add_up", "DELETE FROM cohort_retention WHERE language = 'es'"),
    ("daily_attempts_add_up", "UPDATE accuracy_daily SET attempts = attempts + 1"),
    ("retention_reviews_add_up", "UPDATE true_retention SET reviews = reviews + 1"),
    ("learner_status_idle_days", "UPDATE learner_status SET idle_days = -1"),
    (
        "learned_words_one_row_per_key",
        "INSERT INTO learned_words SELECT * FROM learned_words LIMIT 1",
    ),
    # the nightly run's state and partial sums: a key twice
    *[
        (f"{table}_one_row_per_key", f"INSERT INTO {table} SELECT * FROM {table} LIMIT 1")
        for table in STATE_TABLES
    ],
    (
        "snapshot_learners_add_up",
        "DELETE FROM at_risk_snapshots WHERE rowid = (SELECT min(rowid) FROM at_risk_snapshots)",
    ),
    ("snapshot_learners_add_up", "DELETE FROM at_risk_backtest"),
    (
        "headline_figures_in_range",
        "INSERT INTO headline_figures SELECT * FROM headline_figures LIMIT 1",
    ),
    # The checks every registered metric table declares (transforms/metrics/tables.py).
    *[(name, sql) for name, sqls in all_registry_breaks(METRIC_TABLES).items() for sql in sqls],
]


@functools.cache
def registered_checks() -> dict[str, dg.AssetChecksDefinition]:
    """Every asset check of the code location, by name (loaded once)."""
    return {key.name: check for check in defs().asset_checks for key in check.check_keys}


def evaluate_check(name: str, database: Path) -> dg.AssetCheckResult:
    """Run one asset check, as the pipeline would, against the warehouse file `database`."""
    result = registered_checks()[name](warehouse=WarehouseResource(database=str(database)))
    assert isinstance(result, dg.AssetCheckResult)
    return result


@pytest.fixture(scope="module")
def good_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse as the pipeline leaves it on a small generated landing."""
    root = tmp_path_factory.mktemp("checks")
    generate_landing(
        root / "landing", GeneratorConfig(learners=12, days=42, words_per_language=30, seed=3)
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        configure(monkeypatch, root)
        loaded = defs()
        graph = loaded.resolve_asset_graph()
        keys = [
            k for k in graph.get_all_asset_keys() if graph.get(k).group_name not in SKIPPED_GROUPS
        ]
        result = loaded.resolve_job_def("nightly").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), asset_selection=keys
        )
    assert result.success
    return root / "warehouse.duckdb"


def broken_copy(good: Path, folder: Path, sql: str) -> Path:
    """A copy of the warehouse with `sql` applied."""
    path = folder / "broken.duckdb"
    shutil.copy(good, path)
    con = duckdb.connect(str(path))
    assert con.execute(sql).fetchall() != [(0,)], f"breaks nothing: {sql}"
    con.close()
    return path


def test_every_check_has_a_breaking_test() -> None:
    """Here, or (course-platform checks, which need a course landing) in test_lms_progress,
    test_lms_quizzes and test_lms_achievements (`no_rejected_badge_rules` in its own test)."""
    lms = set(LMS_REGISTRY_BREAKS) | set(LMS_BREAKS) | set(ASSESSMENT_BREAKS)
    lms |= set(ANALYTICS_BREAKS)
    lms |= set(ACHIEVEMENT_BREAKS) | {"no_rejected_badge_rules"}
    assert set(registered_checks()) == {name for name, _ in BREAKS} | lms


@pytest.mark.parametrize("name", sorted(registered_checks()))
def test_check_passes_on_the_pipelines_output(name: str, good_warehouse: Path) -> None:
    result = evaluate_check(name, good_warehouse)
    assert result.passed, result.metadata


@pytest.mark.parametrize(
    ("name", "sql"), BREAKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BREAKS)]
)
def test_check_fails_on_a_broken_table(
    name: str, sql: str, good_warehouse: Path, tmp_path: Path
) -> None:
    result = evaluate_check(name, broken_copy(good_warehouse, tmp_path, sql))
    assert not result.passed
    assert result.metadata["problems"].value > 0  # type: ignore[attr-defined]
