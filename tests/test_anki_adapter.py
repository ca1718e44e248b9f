"""The Anki adapter turns a real learner's review log into attempts the pipeline accepts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from landing.adapters.anki import DEFAULT_SOURCE, read_revlog, write_landing
from tests.pipeline_run import configure, run_all
from transforms.ingest.attempts import ingest_landing_files
from transforms.ingest.manifests import json_documents, load_manifests
from transforms.warehouse import connect, query

ROOT = Path(__file__).resolve().parents[1]
SHARED_COLLECTION = ROOT.parent / "shared/data/real/anki-kanjiplot/collection.anki2"


def test_revlog_maps_onto_the_contract(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    attempts, cards = write_landing(ROOT / DEFAULT_SOURCE, tmp_path)
    assert (attempts, cards) == (6158, 1011)
    files = ingest_landing_files(con, tmp_path / "attempts", datetime(2026, 11, 1))
    assert files.select("rows_read", "accepted", "rejected").row(0) == (6158, 6158, 0)
    result = load_manifests(con, json_documents(tmp_path / "manifests"))
    assert result.loaded == [("ja", 1)]
    words = query(con, "SELECT count(*) FROM manifest_words").item()
    assert words == 1011
    orphans = query(con, "SELECT count(*) FROM attempts ANTI JOIN manifest_words USING (word_uid)")
    assert orphans.item() == 0
    span = query(con, "SELECT min(attempted_at), max(attempted_at) FROM attempts").row(0)
    assert span[0].year == 2013 and span[1].year == 2013
    ease_one = read_revlog(ROOT / DEFAULT_SOURCE).filter(ease=1).height
    assert query(con, "SELECT count(*) FROM attempts WHERE NOT correct").item() == ease_one


@pytest.mark.skipif(not SHARED_COLLECTION.exists(), reason="the original collection is not here")
def test_collection_and_csv_agree() -> None:
    from_csv = read_revlog(ROOT / DEFAULT_SOURCE)
    from_sqlite = read_revlog(SHARED_COLLECTION)
    assert from_sqlite.select("review_ts_ms", "card_id", "ease", "time_ms").equals(
        from_csv.select("review_ts_ms", "card_id", "ease", "time_ms")
    )


def test_pipeline_runs_on_real_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_landing(ROOT / DEFAULT_SOURCE, tmp_path / "landing")
    configure(monkeypatch, tmp_path)
    run_all()
    con = connect(tmp_path / "warehouse.duckdb")
    assert query(con, "SELECT count(*) FROM word_progress").item() == 1011
    assert query(con, "SELECT count(*) FROM reviews").item() > 3000
