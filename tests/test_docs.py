"""References between code and docs resolve: every `docs/...` path exists, every Markdown link
to a file exists, and every numbered section cited (`sm2.md §2`, `section 1 of docs/sm2.md`)
is a numbered heading of that document."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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
