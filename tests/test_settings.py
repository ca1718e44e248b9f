"""Config parsing: the `PROGRESS_*` settings, the resource and run config derived from them, the
SM-2 launchpad config and the tuning search space."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.definitions import defs
from pipelines.defs.resources import ProgressSettings, build_resources
from pipelines.defs.srs.config import SM2Config
from pipelines.defs.tuning.assets import TuningConfig
from transforms.settings import Settings, parse_as_of, settings_registry, settings_table
from transforms.sm2 import SM2Params
from transforms.tuning.search import DEFAULT_SPACE, PARAM_COLUMNS, parse_space, random_sets

README = Path(__file__).parents[1] / "README.md"


def test_readme_settings_table_is_the_registry() -> None:
    text = README.read_text()
    start = text.index("| variable | default | meaning |")
    end = text.index("\n\n", start) + 1
    assert text[start:end] == settings_table(), "run `python -m transforms.settings`"


def test_every_settings_field_is_registered() -> None:
    registry = settings_registry()
    assert [s.name for s in registry] == [f.name for f in dataclasses.fields(Settings)]
    assert all(s.env.startswith("PROGRESS_") and s.doc for s in registry)
    assert len({s.env for s in registry}) == len(registry)


def test_defaults_when_unset_or_empty() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({s.env: "" for s in settings_registry()}) == Settings()
    assert Settings.from_env({"PROGRESS_SRS_BATCHES": "  "}).srs_batches == 4
    d = Settings()
    assert (d.landing, d.srs_batches, d.report_learners, d.export_png) == (
        Path("data/landing"),
        4,
        "5",
        True,
    )
    assert d.as_of is None and d.pg_dsn is None and d.duckdb_memory == "3GB"


def test_every_variable_is_read() -> None:
    s = Settings.from_env(
        {
            "PROGRESS_LANDING": "/in",
            "PROGRESS_WAREHOUSE": "/w.duckdb",
            "PROGRESS_REPORTS": "/out",
            "PROGRESS_PG_DSN": "postgresql://u@h:5432/db",
            "PROGRESS_AS_OF": "2026-03-01T12:00:00+02:00",
            "PROGRESS_SM2_PARAMS": '{"rounding": "round"}',
            "PROGRESS_SRS_BATCHES": "8",
            "PROGRESS_DUCKDB_MEMORY": "1GB",
            "PROGRESS_REPORT_LEARNERS": "a,b",
            "PROGRESS_PSEUDONYM_KEY": "k",
            "PROGRESS_EXPORT_PNG": "0",
            "PROGRESS_UNRELATED": "ignored",
            "HOME": "/root",
        }
    )
    assert s == Settings(
        landing=Path("/in"),
        warehouse=Path("/w.duckdb"),
        reports=Path("/out"),
        pg_dsn="postgresql://u@h:5432/db",
        as_of=datetime(2026, 3, 1, 10, 0),
        sm2_params='{"rounding": "round"}',
        srs_batches=8,
        duckdb_memory="1GB",
        report_learners="a,b",
        pseudonym_key="k",
        export_png=False,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", False), ("false", False), ("No", False), ("1", True), ("yes", True), ("TRUE", True)],
)
def test_export_png_flag(text: str, expected: bool) -> None:
    assert Settings.from_env({"PROGRESS_EXPORT_PNG": text}).export_png is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1)),
        ("2026-03-01T23:30:00Z", datetime(2026, 3, 1, 23, 30)),
        ("2026-03-02T01:30:00+02:00", datetime(2026, 3, 1, 23, 30)),
        ("2026-03-01 23:30:00", datetime(2026, 3, 1, 23, 30)),
        ("", None),
        (None, None),
    ],
)
def test_as_of_is_naive_utc(text: str | None, expected: datetime | None) -> None:
    assert parse_as_of(text) == expected


@pytest.mark.parametrize(
    ("env", "text"),
    [
        ("PROGRESS_SRS_BATCHES", "four"),
        ("PROGRESS_SRS_BATCHES", "0"),
        ("PROGRESS_AS_OF", "yesterday"),
    ],
)
def test_bad_setting_names_its_variable(env: str, text: str) -> None:
    with pytest.raises(ValueError, match=env):
        Settings.from_env({env: text})


def test_unknown_setting_text_is_an_error() -> None:
    with pytest.raises(ValueError, match="PROGRESS_NOPE"):
        Settings.from_text({"PROGRESS_NOPE": "1"})


def test_resource_config_is_the_variables_text() -> None:
    resource = ProgressSettings(
        PROGRESS_LANDING="/in",
        PROGRESS_REPORTS="/out",
        PROGRESS_AS_OF="2026-03-01T10:00:00Z",
        PROGRESS_SRS_BATCHES="3",
        PROGRESS_EXPORT_PNG="no",
        PROGRESS_SM2_PARAMS='{"ef_min": 1.4}',
    )
    assert resource.landing_path == Path("/in")
    assert resource.reports_path == Path("/out")
    assert resource.as_of_time == datetime(2026, 3, 1, 10, 0)
    assert resource.srs_batches == 3
    assert resource.export_png is False
    assert resource.report_learners == "5"
    assert resource.pg_dsn is None and resource.pseudonym_key is None
    assert resource.base_sm2_params() == {"ef_min": 1.4}


def test_sm2_params_setting_may_be_a_file(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text('{"rounding": "round"}')
    assert ProgressSettings(PROGRESS_SM2_PARAMS=str(path)).base_sm2_params() == {
        "rounding": "round"
    }
    with pytest.raises(ValueError, match="unknown SM2Params"):
        ProgressSettings(PROGRESS_SM2_PARAMS='{"ef_max": 3}').base_sm2_params()


def test_build_resources_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for s in settings_registry():
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.setenv("PROGRESS_WAREHOUSE", "/tmp/x/w.duckdb")
    monkeypatch.setenv("PROGRESS_DUCKDB_MEMORY", "512MB")
    monkeypatch.setenv("PROGRESS_SRS_BATCHES", "6")
    resources = build_resources()
    assert resources["warehouse"].database == "/tmp/x/w.duckdb"
    assert resources["warehouse"].connection_config == {"memory_limit": "512MB"}
    assert resources["settings"].srs_batches == 6
    monkeypatch.setenv("PROGRESS_SRS_BATCHES", "many")
    with pytest.raises(ValueError, match="PROGRESS_SRS_BATCHES"):
        build_resources()


def _launchpad_fields(job: str, *path: str) -> list[str]:
    config = defs().resolve_job_def(job).run_config_schema.config_type
    for key in path:
        config = config.fields[key].config_type  # type: ignore[attr-defined]
    return list(config.fields)  # type: ignore[attr-defined]


def test_launchpad_offers_every_setting_and_sm2_parameter() -> None:
    assert _launchpad_fields("nightly", "resources", "settings", "config") == [
        s.env for s in settings_registry()
    ]
    assert _launchpad_fields("nightly", "ops", "sm2_replay", "config") == [
        *(f.name for f in dataclasses.fields(SM2Params)),
        "full_refresh",
    ]


def test_sm2_config_overrides_the_base() -> None:
    config = SM2Config(ef_min=1.4, fast_ms={"*": 2000}, rounding="round")
    params = config.resolve({"ef_min": 1.2, "second_interval": 5.0})
    assert params == SM2Params(
        ef_min=1.4, fast_ms={"*": 2000}, rounding="round", second_interval=5.0
    )
    assert SM2Config().resolve({}) == SM2Params()
    with pytest.raises(ValueError, match="rounding"):
        SM2Config(rounding="floor").resolve({})


def test_tuning_baseline_is_sm2_run_config() -> None:
    assert _launchpad_fields("tuning", "ops", "tuning_lab", "config", "base_params") == [
        f.name for f in dataclasses.fields(SM2Params)
    ]
    config = TuningConfig(base_params={"ef_min": 1.4})  # type: ignore[arg-type]
    assert config.base_params.resolve({"rounding": "round"}) == SM2Params(
        ef_min=1.4, rounding="round"
    )
    assert TuningConfig().base_params.resolve({}) == SM2Params()


def test_param_columns_are_the_scalar_fields() -> None:
    names = [f.name for f in dataclasses.fields(SM2Params)]
    assert list(PARAM_COLUMNS) == [n for n in names if n not in ("fast_ms", "slow_ms")]


def test_parse_space_reads_ranges_and_lists() -> None:
    text = json.dumps(
        {"target_recall": [0.8, 0.9], "ef_init": [2.1, 2.3, 2.5], "fail_quality": [0, 2]}
    )
    assert parse_space(text) == {
        "target_recall": (0.8, 0.9),  # two floats: a range
        "ef_init": [2.1, 2.3, 2.5],
        "fail_quality": [0, 2],  # two ints: a list of values
    }
    assert parse_space({"rounding": ("ceil", "round")}) == {"rounding": ["ceil", "round"]}
    assert parse_space({"ef_min": (1.2, 1.4)}) == {"ef_min": (1.2, 1.4)}


def test_default_space_means_the_same_as_python_and_as_json() -> None:
    parsed = parse_space(DEFAULT_SPACE)
    assert parse_space(json.dumps(DEFAULT_SPACE)) == parsed
    assert TuningConfig().lab_settings().space == parsed
    assert parsed["target_recall"] == (0.75, 0.95)
    assert parsed["rounding"] == ["ceil", "round"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('{"ef_max": [1, 2]}', "unknown SM2Params"),
        ('{"ef_init": []}', "non-empty list"),
        ('{"ef_init": 2.5}', "non-empty list"),
        ('{"rounding": "ceil"}', "non-empty list"),
        ('{"target_recall": [0.9, 0.8]}', "low 0.9 > high 0.8"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_parse_space_rejects_bad_spaces(space: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_space(space)


def test_random_sets_draw_inside_ranges_and_from_lists() -> None:
    draws = random_sets({"target_recall": (0.8, 0.9), "rounding": ["ceil", "round"]}, 50, 0)
    assert all(0.8 <= d["target_recall"] <= 0.9 for d in draws)
    assert {d["rounding"] for d in draws} == {"ceil", "round"}
    assert random_sets(DEFAULT_SPACE, 5, 1) == random_sets(
        parse_space(json.dumps(DEFAULT_SPACE)), 5, 1
    )
