"""The nightly job end to end on degenerate landing folders: each run succeeds, every asset
check is evaluated (and passes, or fails for a reason named here), and every report page opens
in Chromium without script errors, every chart showing marks or saying it has no data.

To add a case, append a `Case` to `CASES`: a function writing its landing folder, and the
settings it runs with. The page assertions live in `tests.browser.assert_page_draws`."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
import pytest

from landing.generate.landing import GeneratorConfig, generate_landing
from reports.build import suppressed_cohorts as reports_suppressed_cohorts
from reports.export import chromium_path
from tests.browser import assert_page_draws
from tests.conftest import attempt, write_jsonl
from tests.pipeline_run import configure, run_all
from transforms.ingest.attempts import landing_files
from transforms.ingest.readers import read_attempt_file
from transforms.warehouse import connect

# 8 learners, 2 languages, 14 days: about 1,200 attempts, generated in well under a second
TINY = GeneratorConfig(
    learners=8, days=14, words_per_language=20, classes_per_language=2, dirty_share=0.0, seed=3
)


def tiny(landing: Path, **changes: object) -> None:
    generate_landing(landing, replace(TINY, **changes))  # type: ignore[arg-type]


def learner_ids(landing: Path) -> list[str]:
    """Every user id in the landing folder's attempt files."""
    ids: set[str] = set()
    for path in landing_files(landing / "attempts"):
        rows = read_attempt_file(path).rows
        column = "user_id" if "user_id" in rows.columns else "userId"
        ids.update(rows[column].drop_nulls().to_list())
    return sorted(ids)


def write_cohorts(landing: Path, cohort_of: Callable[[int], str]) -> None:
    """Replace the cohorts files by one listing every learner, the i-th in `cohort_of(i)`."""
    shutil.rmtree(landing / "cohorts", ignore_errors=True)
    (landing / "cohorts").mkdir(parents=True)
    users = learner_ids(landing)
    pl.DataFrame({"user_id": users, "cohort": [cohort_of(i) for i in range(len(users))]}).write_csv(
        landing / "cohorts" / "classes.csv"
    )


def empty_landing(landing: Path) -> None:
    (landing / "attempts").mkdir(parents=True)


def first_words(landing: Path, language: str, count: int) -> list[str]:
    """The first `count` word uids of the language's version-1 manifest."""
    manifest = json.loads((landing / "manifests" / f"{language}-v1.json").read_text())
    words = [w["uid"] for level in manifest["levels"] for g in level["groups"] for w in g["words"]]
    return words[:count]


def one_attempt(landing: Path) -> None:
    tiny(landing, learners=0, languages=("es",))  # manifests only
    (word,) = first_words(landing, "es", 1)
    write_jsonl(
        landing / "attempts" / "one.jsonl",
        [attempt(0, wordUid=word, attemptedAt="2026-07-02T10:00:00Z")],
    )


def every_answer_wrong(landing: Path) -> None:
    """One learner, three words, a wrong answer on each every day for 10 days."""
    tiny(landing, learners=0, languages=("es",))
    words = first_words(landing, "es", 3)
    write_jsonl(
        landing / "attempts" / "wrong.jsonl",
        [
            attempt(
                i,
                wordUid=words[i % 3],
                correct=False,
                attemptedAt=f"2026-07-{1 + i // 3:02d}T10:{i % 60:02d}:00Z",
            )
            for i in range(30)
        ],
    )


def no_cohorts_file(landing: Path) -> None:
    tiny(landing)
    shutil.rmtree(landing / "cohorts")


def every_cohort_small(landing: Path) -> None:
    tiny(landing)
    write_cohorts(landing, lambda i: f"class-{i // 2}")  # pairs of learners


def no_cohort_small(landing: Path) -> None:
    tiny(landing, languages=("es",))
    write_cohorts(landing, lambda i: "everyone")


def one_language(landing: Path) -> None:
    tiny(landing, languages=("fr",))


def one_day(landing: Path) -> None:
    tiny(landing, days=1)


def manifests_only(landing: Path) -> None:
    tiny(landing, learners=0)
    (landing / "attempts").mkdir(parents=True, exist_ok=True)


def attempts_only(landing: Path) -> None:
    tiny(landing)
    shutil.rmtree(landing / "manifests")


def only_rejected_rows(landing: Path) -> None:
    tiny(landing, learners=0)
    write_jsonl(
        landing / "attempts" / "bad.jsonl",
        [
            "{not json",
            attempt(1, userId="not-a-uuid"),
            attempt(2, correct="maybe"),
            attempt(3, attemptedAt="yesterday"),
            attempt(4, language=...),
        ],
    )


def suppressed_cohorts(root: Path) -> list[str]:
    con = connect(root / "warehouse.duckdb")
    try:
        return reports_suppressed_cohorts(con)
    finally:
        con.close()


def cohort_pages(root: Path) -> list[Path]:
    return sorted((root / "reports" / "educators").glob("cohort-*.html"))


def all_suppressed(root: Path) -> None:
    assert suppressed_cohorts(root) and not cohort_pages(root)
    assert "fewer than 5 learners" in (root / "reports" / "index.html").read_text()


def none_suppressed(root: Path) -> None:
    assert suppressed_cohorts(root) == [] and len(cohort_pages(root)) == 1


def says_no_attempts(root: Path) -> None:
    for page in (root / "reports").rglob("*.html"):
        assert "Data as of no attempts yet" in page.read_text(), page


@dataclass(frozen=True)
class Case:
    id: str
    landing: Callable[[Path], None]
    settings: dict[str, str] = field(default_factory=dict)
    # check name -> why it legitimately fails on this landing
    failing_checks: dict[str, str] = field(default_factory=dict)
    # what else holds after the run, given the run's root folder
    expect: Callable[[Path], None] = lambda root: None


CASES = [
    Case("empty-landing", empty_landing, expect=says_no_attempts),
    Case("one-learner-one-attempt", one_attempt),
    Case("every-answer-wrong", every_answer_wrong),
    Case("no-cohorts-file", no_cohorts_file),
    Case("every-cohort-below-5", every_cohort_small, expect=all_suppressed),
    Case("no-cohort-below-5", no_cohort_small, expect=none_suppressed),
    Case("one-language", one_language),
    Case("one-day-of-data", one_day),
    Case("manifests-no-attempts", manifests_only, expect=says_no_attempts),
    Case("attempts-no-manifest", attempts_only),
    Case("only-rejected-rows", only_rejected_rows, expect=says_no_attempts),
    Case("as-of-before-data", tiny, {"PROGRESS_AS_OF": "2026-01-01T00:00:00Z"}),
]

needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="Chromium is not installed (make test installs it)",
)


@needs_chromium
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_nightly_job_on_degenerate_landing(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case.landing(tmp_path / "landing")
    configure(
        monkeypatch,
        tmp_path,
        PROGRESS_EXPORT_PNG="0",
        PROGRESS_REPORT_LEARNERS="1",
        PROGRESS_SRS_BATCHES="1",
        **case.settings,
    )
    run_all(failing_checks=case.failing_checks)
    pages = sorted((tmp_path / "reports").rglob("*.html"))
    assert tmp_path / "reports" / "index.html" in pages
    for page in pages:
        assert_page_draws(page)
    case.expect(tmp_path)


def test_cases_are_what_they_say(tmp_path: Path) -> None:
    """The cohort cases hold what their names promise (sizes as the reports count them)."""
    every_cohort_small(tmp_path / "small")
    no_cohort_small(tmp_path / "large")
    for folder, small in (("small", True), ("large", False)):
        cohorts = pl.read_csv(tmp_path / folder / "cohorts" / "classes.csv")
        assert cohorts.height == len(learner_ids(tmp_path / folder)) > 0
        sizes = cohorts.group_by("cohort").len()["len"]
        assert (sizes < 5).all() if small else (sizes >= 5).all()


def test_a_later_run_leaves_no_page_of_an_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cohort that falls below 5 learners and a learner no longer selected lose their pages;
    the index links only what the latest run wrote."""
    no_cohort_small(tmp_path / "landing")
    configure(monkeypatch, tmp_path, PROGRESS_EXPORT_PNG="0", PROGRESS_REPORT_LEARNERS="2")
    run_all()
    reports = tmp_path / "reports"
    first = {p.relative_to(reports) for p in reports.rglob("*.html")}
    assert Path("educators/cohort-everyone.html") in first
    write_cohorts(tmp_path / "landing", lambda i: f"class-{i // 2}")
    monkeypatch.setenv("PROGRESS_REPORT_LEARNERS", "1")
    run_all()
    second = {p.relative_to(reports) for p in reports.rglob("*.html")}
    assert not any(p.parts[0] == "educators" and p.name.startswith("cohort-") for p in second)
    assert len([p for p in second if p.parts[0] == "learners"]) == 1
    index = (reports / "index.html").read_text()
    assert "cohort-everyone" not in index and index.count("learners/") == 1
