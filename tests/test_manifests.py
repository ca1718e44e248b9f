"""Manifest validation and loading: clear errors, and loaded versions stay as they are."""

from __future__ import annotations

import copy
import json
from typing import Any

import duckdb
import pytest

from transforms.ingest.manifests import load_manifests
from transforms.warehouse import query


def manifest(
    version: int = 1,
    published: str = "2026-01-01T00:00:00Z",
    groups: dict[str, list[str]] | None = None,
    language: str = "es",
) -> dict[str, Any]:
    groups = groups or {"g-a": ["uno", "dos"], "g-b": ["tres"]}
    return {
        "language": language,
        "version": version,
        "publishedAt": published,
        "levels": [
            {
                "level": 1,
                "title": "Basics",
                "groups": [
                    {
                        "uid": g,
                        "title": g,
                        "words": [
                            {"uid": f"{language}:{g}:{w}", "text": w, "translation": w}
                            for w in words
                        ],
                    }
                    for g, words in groups.items()
                ],
            }
        ],
    }


def load(con: duckdb.DuckDBPyConnection, *docs: dict[str, Any] | str):  # type: ignore[no-untyped-def]
    return load_manifests(
        con, [(f"doc{i}", d if isinstance(d, str) else json.dumps(d)) for i, d in enumerate(docs)]
    )


def test_versions_words_and_in_force_until(con: duckdb.DuckDBPyConnection) -> None:
    v2 = manifest(2, "2026-02-01T00:00:00+01:00", {"g-a": ["uno"], "g-c": ["dos", "cuatro"]})
    # word uids are stable when a word moves: es:g-a:dos now sits in group g-c
    v2["levels"][0]["groups"][1]["words"][0]["uid"] = "es:g-a:dos"
    result = load(con, manifest(1), v2)
    assert result.loaded == [("es", 1), ("es", 2)]
    versions = query(
        con,
        "SELECT version, published_at, in_force_until, word_count "
        "FROM manifest_versions ORDER BY version",
    )
    assert versions.rows()[0][2] == versions.rows()[1][1]
    assert versions["word_count"].to_list() == [3, 3]
    moved = query(
        con,
        "SELECT version, group_uid FROM manifest_words "
        "WHERE word_uid = 'es:g-a:dos' ORDER BY version",
    )
    assert moved.rows() == [(1, "g-a"), (2, "g-c")]


def test_reloading_the_same_content_adds_nothing(con: duckdb.DuckDBPyConnection) -> None:
    load(con, manifest(1))
    reformatted = json.dumps(manifest(1), indent=4, sort_keys=True)
    result = load(con, manifest(1), reformatted)
    assert result.loaded == [] and result.rejected.height == 0


def _dup_word() -> dict[str, Any]:
    doc = manifest(2, "2026-02-01T00:00:00Z")
    doc["levels"][0]["groups"][1]["words"].append(doc["levels"][0]["groups"][0]["words"][0])
    return doc


def _wrong_prefix() -> dict[str, Any]:
    doc = manifest(2, "2026-02-01T00:00:00Z")
    doc["levels"][0]["groups"][0]["words"][0]["uid"] = "fr:g-a:uno"
    return doc


def _changed_v1() -> dict[str, Any]:
    doc = copy.deepcopy(manifest(1))
    doc["levels"][0]["title"] = "Renamed"
    return doc


@pytest.mark.parametrize(
    ("doc", "reason", "text"),
    [
        ("{not json", "malformed_json", "not valid JSON"),
        (_dup_word(), "duplicate_word_uid", "appears more than once"),
        (_wrong_prefix(), "word_language_mismatch", "does not start with 'es:'"),
        (_changed_v1(), "version_conflict", "already loaded with different content"),
        (manifest(2, "2025-12-01T00:00:00Z"), "version_out_of_order", "out of order"),
        ({**manifest(2), "publishedAt": "2026-02-01T00:00:00"}, "invalid_structure", "offset"),
        ({**manifest(2), "language": "spanish"}, "unknown_language", "ISO 639-1"),
    ],
)
def test_errors_are_clear_and_loaded_versions_stay(
    con: duckdb.DuckDBPyConnection, doc: Any, reason: str, text: str
) -> None:
    load(con, manifest(1))
    before = query(con, "SELECT * FROM manifest_words ORDER BY ALL")
    result = load(con, doc)
    assert result.loaded == []
    assert result.rejected["reason"].to_list() == [reason]
    assert text in result.rejected["message"][0]
    assert query(con, "SELECT * FROM manifest_words ORDER BY ALL").equals(before)
    assert query(con, "SELECT reason FROM manifest_rejects")["reason"].to_list() == [reason]
    # the same bad document is recorded once
    assert load(con, doc).rejected.height == 0
