"""The nightly job materializes the LMS tables next to the language ones."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from landing.generate.landing import GeneratorConfig, generate_landing
from pipelines.definitions import defs
from tests.lms_landing import write_landing
from tests.pipeline_run import configure
from transforms.warehouse import connect, scalar


def test_nightly_job_builds_lms_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_landing(
        tmp_path / "landing",
        GeneratorConfig(learners=10, days=14, words_per_language=20, start=datetime(2026, 1, 20)),
    )
    write_landing(tmp_path / "landing")
    configure(monkeypatch, tmp_path, PROGRESS_AS_OF="2026-02-10T00:00:00Z", PROGRESS_EXPORT_PNG="0")
    job = defs().resolve_job_def("nightly")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "orphan_events" in failed  # Dan's event on a node no version has: counted, kept
    assert not failed - {"orphan_events"}, failed
    con = connect(tmp_path / "warehouse.duckdb")
    assert (
        scalar(con, "SELECT count(*) FROM course_progress WHERE course_id NOT LIKE 'lang:%'") == 5
    )
    # the language learners are in the same tables, one course per language they study
    languages = "SELECT count(DISTINCT (user_id, language)) FROM attempts WHERE attempted_at <= ?"
    learners = scalar(con, languages, [datetime(2026, 2, 10)])
    assert (
        learners
        and scalar(con, "SELECT count(*) FROM course_progress WHERE course_id LIKE 'lang:%'")
        == learners
    )
    assert scalar(con, "SELECT count(*) FROM lms_events") == 31
    # the language learners' words are tasks with a retry queue, and every course has analytics
    assert scalar(con, "SELECT count(*) FROM task_state WHERE course_id LIKE 'lang:%'")
    courses = "SELECT count(DISTINCT course_id) FROM learning_analytics WHERE course_id {} 'lang:%'"
    assert scalar(con, courses.format("NOT LIKE")) == 2  # py101 and ds201
    assert scalar(con, courses.format("LIKE"))
    # the published events of the run are its outbox file, line for line
    published = scalar(con, "SELECT count(*) FROM learning_events")
    con.close()
    (outbox,) = (tmp_path / "outbox").glob("*.jsonl")
    assert published and len(outbox.read_text().splitlines()) == published
    # the course-platform learners' performance pages, linked from the index
    pages = sorted((tmp_path / "reports" / "performance").glob("*.html"))
    assert len(pages) == 4  # Alice, Bob, Carol, Dan (5 asked for, by events)
    index = (tmp_path / "reports" / "index.html").read_text()
    assert all(f"performance/{p.name}" in index for p in pages)
