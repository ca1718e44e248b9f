"""Docs agree with the code: docs/tables.md states each record type's columns and reject
reasons as registered; every `docs/...` path and Markdown link resolves; every numbered section
cited (`sm2.md §2`, `section 1 of docs/sm2.md`) is a numbered heading of that document."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from transforms.ingest.fields import (
    ATTEMPT,
    MANIFEST_REASONS,
    RECORD_TYPES,
    RecordType,
    reasons_table,
)
from transforms.ingest.manifests import ManifestError
from transforms.ingest.validate import in_registry_order
from transforms.registry import docs_block, registered
from transforms.warehouse import connect, query

ROOT = Path(__file__).parents[1]
SOURCES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted(
        p
        for folder in ("pipelines", "transforms", "reports", "benchmarks", "tests")
        for p in (ROOT / folder).rglob("*.py")
        if p != Path(__file__)  # its examples are stale on purpose
    ),
]

DOC_PATH = re.compile(r"\bdocs/([\w./-]*[\w/])")
MD_LINK = re.compile(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)")
SECTION_REFS = (
    re.compile(r"\b(?P<doc>\w+)\.md §(?P<n>\d+)"),
    re.compile(r"\b[Ss]ections? (?P<n>\d+)(?: and (?P<m>\d+))? of (?:docs/)?(?P<doc>\w+)\.md"),
    re.compile(r"\bdocs/(?P<doc>\w+)\.md,? section (?P<n>\d+)"),
)


def numbered_sections(doc: str) -> set[str]:
    """The numbers of a project document's numbered headings (`## 2. ...`)."""
    path = ROOT / "docs" / f"{doc}.md"
    if not path.exists():
        return set()
    return set(re.findall(r"^#+ (\d+)\. ", path.read_text(), re.M))


def references(path: Path) -> list[tuple[str, str]]:
    """(what is cited, whether it resolves: "" if so, else why not) for one file."""
    text = path.read_text()
    out = []
    for match in DOC_PATH.finditer(text):
        target = ROOT / "docs" / match.group(1)
        out.append((match.group(0), "" if target.exists() else "no such file"))
    if path.suffix == ".md":
        for match in MD_LINK.finditer(text):
            target = path.parent / match.group(1)
            out.append((match.group(1), "" if target.exists() else "no such file"))
    for pattern in SECTION_REFS:
        for match in pattern.finditer(text):
            numbers = {n for n in (match.group("n"), match.groupdict().get("m")) if n}
            missing = numbers - numbered_sections(match.group("doc"))
            out.append(
                (match.group(0), f"no numbered section {sorted(missing)}" if missing else "")
            )
    return out


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_references_resolve(path: Path) -> None:
    broken = [(cited, why) for cited, why in references(path) if why]
    assert not broken, broken


def test_the_checker_sees_stale_references(tmp_path: Path) -> None:
    stale = tmp_path / "stale.py"
    stale.write_text(
        '"""As docs/metrics defines them; sm2.md §9; section 7 of docs/sm2.md; sm2.md §2."""'
    )
    assert sorted((cited, why) for cited, why in references(stale) if why) == [
        ("docs/metrics", "no such file"),
        ("section 7 of docs/sm2.md", "no numbered section ['7']"),
        ("sm2.md §9", "no numbered section ['9']"),
    ]


TABLES_DOC = ROOT / "docs" / "tables.md"


def table_paragraph(table: str) -> str:
    """The paragraph of docs/tables.md that describes `table`."""
    text = TABLES_DOC.read_text()
    start = text.index(f"**`{table}`**")
    return text[start : text.index("\n\n", start)]


@pytest.mark.parametrize("record", RECORD_TYPES, ids=[r.table for r in RECORD_TYPES])
def test_tables_doc_states_each_record_types_columns_and_reasons(record: RecordType) -> None:
    columns = list(record.column_types())
    named = [n for n in re.findall(r"`(\w+)`", table_paragraph(record.table)) if n in columns]
    assert list(dict.fromkeys(named)) == columns, "docs/tables.md lists the columns in order"
    assert record.reasons_table() in TABLES_DOC.read_text()


def test_tables_doc_states_the_manifest_reasons() -> None:
    assert reasons_table(MANIFEST_REASONS) in TABLES_DOC.read_text()


def test_an_unregistered_manifest_reason_is_an_error() -> None:
    assert ManifestError("version_conflict", "x").reason == "version_conflict"
    with pytest.raises(ValueError, match="MANIFEST_REASONS"):
        ManifestError("no_such_reason", "x")


def test_warehouse_tables_are_the_record_types(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    for record in RECORD_TYPES:
        described = query(con, f"DESCRIBE {record.table}")
        types = {
            name: kind + ("" if null == "YES" else " NOT NULL")
            for name, kind, null in described.select(
                "column_name", "column_type", "null"
            ).iter_rows()
        }
        assert types == record.column_types()
    con.close()


def test_a_rule_without_a_registered_reason_is_an_error() -> None:
    rule = ("no_such_reason", pl.lit(True), pl.lit("x"))
    with pytest.raises(ValueError, match="no_such_reason"):
        in_registry_order([rule])
    first, second = ATTEMPT.reasons[1].code, ATTEMPT.reasons[2].code
    rules = [(second, pl.lit(True), pl.lit("b")), (first, pl.lit(True), pl.lit("a"))]
    assert [code for code, _, _ in in_registry_order(rules)] == [first, second]


@pytest.mark.parametrize("section", list(registered()))
def test_tables_doc_summarizes_the_registered_tables(section: str) -> None:
    """docs/tables.md holds each registry's generated summary (`python -m transforms.registry`)
    and describes every registered table."""
    text = TABLES_DOC.read_text()
    assert docs_block(section) in text, "run python -m transforms.registry and paste its output"
    for table in registered()[section]:
        described = rf"^(\*\*`{table.name}`\*\*|- (`\w+` / )?`{table.name}`)"
        assert re.search(described, text, re.M), f"docs/tables.md describes {table.name}"
