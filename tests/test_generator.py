"""The landing-folder generator: deterministic, realistic, and dirty in every contract way."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from landing.generate.landing import GeneratorConfig, generate_landing
from transforms.ingest.attempts import ingest_landing_files
from transforms.ingest.fields import REASONS
from transforms.ingest.manifests import json_documents, load_manifests
from transforms.warehouse import query

SMALL = GeneratorConfig(learners=60, days=35, words_per_language=60, dirty_share=0.03)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    generate_landing(tmp_path / "a", SMALL)
    generate_landing(tmp_path / "b", SMALL)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    generate_landing(tmp_path / "c", GeneratorConfig(**{**SMALL.__dict__, "seed": 8}))
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_landing_folder_covers_the_contract(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    landing = tmp_path / "landing"
    result = generate_landing(landing, SMALL)
    suffixes = {"".join(p.suffixes) for p in (landing / "attempts").rglob("*.*")}
    assert {".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet"} <= suffixes
    manifests = load_manifests(con, json_documents(landing / "manifests"))
    assert len(manifests.loaded) == 9 and manifests.rejected.height == 0
    changes = query(
        con,
        """
        SELECT language, count(DISTINCT version) AS versions,
               count(DISTINCT word_uid) FILTER (WHERE version = 1) AS v1_words,
               count(DISTINCT word_uid) AS all_words
        FROM manifest_words GROUP BY 1""",
    )
    assert (changes["versions"] == 3).all() and (changes["all_words"] > changes["v1_words"]).all()
    files = ingest_landing_files(con, landing / "attempts", datetime(2026, 11, 1))
    assert int(files["rows_read"].sum()) == result.attempts_written
    reasons = set(query(con, "SELECT DISTINCT reason FROM attempt_rejects")["reason"])
    assert reasons == set(REASONS)
    assert files["duplicates"].sum() > 0
    cohorts = pl.read_csv(landing / "cohorts" / "classes.csv")
    assert cohorts.columns == ["user_id", "cohort", "educator"]


def test_learners_behave_like_learners(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    landing = tmp_path / "landing"
    generate_landing(landing, GeneratorConfig(learners=150, days=56, dirty_share=0.0))
    ingest_landing_files(con, landing / "attempts", datetime(2026, 11, 1))
    # recall decays with the time since a word was last studied
    by_gap = query(
        con,
        """
        WITH o AS (
            SELECT correct, attempted_at - lag(attempted_at) OVER (
                PARTITION BY user_id, word_uid ORDER BY attempted_at) AS gap
            FROM attempts WHERE step_type <> 'meaningMcq')
        SELECT CASE WHEN gap < INTERVAL 1 HOUR THEN 'same session'
                    WHEN gap < INTERVAL 3 DAY THEN 'days'
                    ELSE 'long' END AS bucket, avg(correct::INT) AS accuracy
        FROM o WHERE gap IS NOT NULL GROUP BY 1""",
    )
    acc = dict(by_gap.iter_rows())
    assert acc["same session"] > acc["days"] > acc["long"]
    # weaker memories answer more slowly
    rt = query(
        con,
        "SELECT correct, median(response_time_ms) FROM attempts "
        "WHERE step_type = 'typing' GROUP BY 1",
    )
    times = dict(rt.iter_rows())
    assert times[False] > times[True]
    # sessions mix step types and repeat words
    mix = query(
        con,
        """SELECT count(DISTINCT step_type) AS steps,
                               count(*) - count(DISTINCT word_uid) AS repeats
                        FROM attempts WHERE session_id IS NOT NULL GROUP BY session_id""",
    )
    assert mix["steps"].median() >= 3 and mix["repeats"].median() >= 1


def test_manifest_versions_are_in_order_even_over_one_day(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    for days in (1, 2):
        folder = tmp_path / f"days-{days}"
        generate_landing(folder, GeneratorConfig(learners=0, days=days, words_per_language=20))
        result = load_manifests(con, json_documents(folder / "manifests"))
        assert result.rejected.is_empty(), result.rejected["message"].to_list()
        con.execute("DELETE FROM manifest_versions; DELETE FROM manifest_words")
