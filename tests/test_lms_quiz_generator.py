"""The generator's quizzes answer by a 2PL model: the item analysis recovers what it was told.

Estimated facility (first attempts) ranks the questions as the generator's difficulty does
(Spearman, tolerant: the learners who reach later quizzes are a selected group), and each
course's mis-keyed question is flagged "likely mis-keyed" (negative discrimination index)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from landing.generate.lms import (
    COURSES,
    LmsGeneratorConfig,
    generate_lms_landing,
    item_parameters,
)
from transforms.ingest.manifests import json_documents
from transforms.lms.assessment import build_assessment_tables
from transforms.lms.courses import load_courses
from transforms.lms.ingest import ingest_events
from transforms.lms.read import read_lms_inputs
from transforms.warehouse import connect

CONFIG = LmsGeneratorConfig(learners=400, days=70, start=datetime(2026, 7, 1))


@pytest.fixture(scope="module")
def item_stats(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    root: Path = tmp_path_factory.mktemp("gen")
    generate_lms_landing(root / "landing", CONFIG)
    con = connect(root / "w.duckdb")
    load_courses(con, json_documents(root / "landing" / "courses"))
    ingest_events(con, root / "landing", datetime(2027, 1, 1))
    as_of = datetime(2026, 9, 9)
    tables = build_assessment_tables(read_lms_inputs(con, as_of, languages=False), as_of)
    con.close()
    return tables["quiz_item_stats"].filter(basis="first")


def truth(question_ids: list[str]) -> pl.DataFrame:
    difficulty = {c.course: c.difficulty for c in COURSES}
    rows = []
    for qid in question_ids:
        item = item_parameters(qid, difficulty[qid.split("/")[0]], CONFIG.seed)
        rows.append((qid, item.difficulty, item.mis_keyed))
    return pl.DataFrame(rows, schema=["question_id", "difficulty", "mis_keyed"], orient="row")


def test_facility_ranks_like_the_generators_difficulty(item_stats: pl.DataFrame) -> None:
    both = item_stats.join(truth(item_stats["question_id"].to_list()), on="question_id")
    keyed = both.filter(~pl.col("mis_keyed") & (pl.col("n") >= 30))
    assert keyed.height >= 30
    rho = keyed.select(pl.corr("facility", "difficulty", method="spearman")).item()
    assert rho < -0.7, rho  # harder questions, lower facility


def test_the_mis_keyed_question_is_flagged(item_stats: pl.DataFrame) -> None:
    both = item_stats.join(truth(item_stats["question_id"].to_list()), on="question_id")
    mis_keyed = both.filter("mis_keyed")
    assert mis_keyed.height == len(COURSES)
    for row in mis_keyed.iter_rows(named=True):
        assert row["discrimination_index"] < 0, row
        assert "likely mis-keyed" in row["flags"], row
    others = both.filter(~pl.col("mis_keyed"), pl.col("flags").str.contains("mis-keyed"))
    assert others.height <= 1, others  # chance alone rarely turns a good question negative
