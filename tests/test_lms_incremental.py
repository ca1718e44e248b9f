"""Nightly LMS progress runs that rebuild only the touched learners (transforms/lms/nightly.py)
give the tables of one full build over all the data: a generated landing's events delivered
one day at a time, one day's file arriving three nights late, the as-of time then moving with
no new event, and `full_refresh` rebuilding everything; a language course's rows follow the
cards the SM-2 step changed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from landing.generate.lms import PATHS, LmsGeneratorConfig, simulate
from tests.warehouse_tables import deliver_attempts
from transforms.as_of import resolve_as_of
from transforms.incremental import CONSUMED_FILES
from transforms.ingest.manifests import json_documents
from transforms.lms.assessment import ASSESSMENT_TABLES, build_assessment_tables
from transforms.lms.courses import load_courses, parse_paths
from transforms.lms.ingest import ingest_events
from transforms.lms.nightly import (
    LMS_STATE,
    TASK_MEDIANS,
    build_progress,
    learner_groups,
    learner_inputs,
    task_medians,
    update_assessment,
    update_lms_progress,
)
from transforms.lms.progress import LMS_TABLES, build_lms_progress
from transforms.lms.read import read_lms_inputs
from transforms.registry import table_names
from transforms.sm2 import SM2Params
from transforms.sm2.store import update_srs
from transforms.warehouse import connect, insert_frame, query, replace_table, table_exists

CONFIG = LmsGeneratorConfig(learners=30, days=24, start=datetime(2026, 7, 1), xapi_share=0.0)
INGESTED_AT = datetime(2030, 1, 1)
LATE_DAY = 5  # this day's file lands three nights after its day


def _landing(root: Path) -> list[tuple[int, list[dict]]]:
    """Write the course versions under `root`; returns the events by day of the run."""
    events, versions, _ = simulate(CONFIG)
    (root / "courses").mkdir(parents=True)
    (root / "events").mkdir()
    (root / "paths").mkdir()
    for pid, (title, courses) in PATHS.items():
        doc = {"path": pid, "title": title, "courses": courses}
        (root / "paths" / f"{pid}.json").write_text(json.dumps(doc))
    for course, docs in versions.items():
        for doc in docs:
            (root / "courses" / f"{course}-v{doc['version']}.json").write_text(json.dumps(doc))
    # the last quiz attempt is never submitted: it turns abandoned 24 h after its start
    started = max((e for e in events if e["type"] == "quiz_started"), key=lambda e: e["occurredAt"])
    dropped = ("quiz_submitted", started["attemptId"])
    by_day: dict[int, list[dict]] = {}
    for e in (e for e in events if (e["type"], e.get("attemptId")) != dropped):
        at = e["occurredAt"].replace(tzinfo=None)
        day = (at - CONFIG.start).days
        by_day.setdefault(day, []).append({**e, "occurredAt": at.isoformat() + "Z"})
    return sorted(by_day.items())


def _deliver(root: Path, day: int, events: list[dict]) -> None:
    lines = "\n".join(json.dumps(e) for e in events)
    (root / "events" / f"day-{day:03d}.jsonl").write_text(lines + "\n")


def _load(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    load_courses(con, json_documents(root / "courses"))
    replace_table(con, "learning_paths", parse_paths(json_documents(root / "paths"))[0])
    ingest_events(con, root, INGESTED_AT)


COMPARED = (*table_names(LMS_TABLES), *table_names(ASSESSMENT_TABLES))


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    names = [n for n in COMPARED if table_exists(con, n)]
    frames = {n: query(con, f'SELECT * FROM "{n}"') for n in names}
    return {n: f.sort(f.columns, nulls_last=True) for n, f in frames.items()}


def _full(root: Path, path: Path, as_of: datetime) -> dict[str, pl.DataFrame]:
    """One build over all the data, the way the tables were built before (no stored state)."""
    with connect(path) as con:
        _load(con, root)
        tables = build_lms_progress(read_lms_inputs(con, as_of), as_of)
        inputs = read_lms_inputs(con, as_of, languages=False)
        tables |= build_assessment_tables(inputs, as_of)
    return {n: f.sort(f.columns, nulls_last=True) for n, f in tables.items()}


def _assert_same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    for name, frame in want.items():
        assert_frame_equal(got[name], frame.select(got[name].columns), check_dtypes=False)


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("landing")
    days = _landing(root)
    warehouse = tmp_path_factory.mktemp("wh") / "nightly.duckdb"
    modes: list[str] = []
    late: list[dict] = []
    with connect(warehouse) as con:
        for day, events in days:
            if day == LATE_DAY:
                late = events
            else:
                _deliver(root, day, events)
            if day == LATE_DAY + 3:
                _deliver(root, LATE_DAY, late)
            _load(con, root)
            as_of = resolve_as_of(con, None)
            progress = update_lms_progress(con, as_of)
            assessment = update_assessment(con, as_of)
            modes.append(f"{progress.mode}/{assessment.mode}: {assessment.reason}")
    return root, warehouse, modes


def test_nights_equal_one_full_build(nightly: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    root, warehouse, modes = nightly
    assert modes[0].startswith("full/full")
    progress_nights = [m for m in modes if m.startswith("incremental/")]
    assert len(progress_nights) >= len(modes) // 2  # version changes: full
    assert any(m.startswith("incremental/incremental") for m in modes)
    with connect(warehouse) as con:
        assert query(con, "SELECT count(*) AS n FROM learning_path_progress")["n"][0] > 0
        as_of = resolve_as_of(con, None)
        got = _tables(con)
        assert query(con, f"SELECT * FROM {LMS_STATE}")["as_of"][0] == as_of
        assert query(con, f"SELECT count(*) AS n FROM {TASK_MEDIANS}")["n"][0] > 0
        assert query(con, f"SELECT count(*) AS n FROM {CONSUMED_FILES}")["n"][0] > len(modes)
    _assert_same(got, _full(root, tmp_path / "full.duckdb", as_of))


def test_as_of_moving_alone_moves_estimates_and_queue(
    nightly: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    """Three days later with no new event: the completion estimates and the task queue's
    overdue days move for learners not rebuilt; nothing else does."""
    root, warehouse, _ = nightly
    copy = tmp_path / "later.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with connect(copy) as con:
        later = resolve_as_of(con, None) + timedelta(days=3)
        before = _tables(con)
        run = update_lms_progress(con, later)
        assert (run.mode, run.learners) == ("incremental", 0)
        assessment = update_assessment(con, later)
        assert assessment.mode == "incremental"
        assert "abandoned" in assessment.tables["quiz_attempts"]["status"].to_list()
        assert set(assessment.tables) <= {"quiz_attempts", "assignment_submissions"}
        got = _tables(con)
    assert not got["task_queue"].equals(before["task_queue"])
    assert set(run.tables) == {"module_progress", "course_progress", "task_queue"}
    _assert_same(got, _full(root, tmp_path / "full.duckdb", later))


def test_full_refresh_and_course_change_rebuild_everything(
    nightly: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    _, warehouse, _ = nightly
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with connect(copy) as con:
        as_of = resolve_as_of(con, None)
        assert update_lms_progress(con, as_of).mode == "incremental"
        run = update_lms_progress(con, as_of, full_refresh=True)
        assert (run.mode, run.reason) == ("full", "full refresh requested")
        whole = _tables(con)
        # in groups of about 50 input rows (`PROGRESS_LMS_GROUP_ROWS`): the same tables
        grouped = update_lms_progress(con, as_of, full_refresh=True, rows_per_group=50)
        assert grouped.mode == "full"
        for name, frame in _tables(con).items():
            assert_frame_equal(frame, whole[name])
        con.execute("UPDATE learning_paths SET position = position + 10")
        run = update_lms_progress(con, as_of)
        assert run.mode == "full"
        assert run.reason.startswith("course versions in force")


def _language_setup(con: duckdb.DuckDBPyConnection) -> None:
    """One language course (`lang:fr`): 6 words in 2 groups of one level."""
    insert_frame(
        con,
        "manifest_versions",
        pl.DataFrame(
            {
                "language": ["fr"],
                "version": [1],
                "published_at": [datetime(2026, 1, 1)],
                "word_count": [6],
                "content_hash": ["h"],
                "source": ["fr.json"],
            }
        ),
    )
    words = [(f"fr:g{w // 3}:w{w}", f"g{w // 3}", w + 1) for w in range(6)]
    insert_frame(
        con,
        "manifest_words",
        pl.DataFrame(
            {
                "language": "fr",
                "version": 1,
                "word_uid": [w for w, _, _ in words],
                "level": 1,
                "group_uid": [g for _, g, _ in words],
                "position": [p for _, _, p in words],
            }
        ),
    )


def _attempts(n: int = 500, seed: int = 3) -> pl.DataFrame:
    """`n` attempts by 8 learners on the 6 words over 12 days."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "uuid_local": [f"a{i:04d}" for i in range(n)],
            "user_id": [f"user-{u}" for u in rng.integers(0, 8, n)],
            "language": "fr",
            "word_uid": [f"fr:g{w // 3}:w{w}" for w in rng.integers(0, 6, n)],
            "step_type": "typing",
            "correct": rng.random(n) < 0.8,
            "response_time_ms": rng.integers(500, 9000, n),
            "attempted_at": [
                datetime(2026, 3, 2) + timedelta(seconds=int(s))
                for s in rng.integers(0, 12 * 86400, n)
            ],
            "source_row": np.arange(n),
        }
    )


def test_language_courses_follow_the_changed_cards(tmp_path: Path) -> None:
    """Nights of attempts (one learner's first days late): the SM-2 step's changed cards
    name the learners whose `lang:fr` rows are rebuilt."""
    history = _attempts()
    day = (pl.col("attempted_at") - pl.lit(datetime(2026, 3, 2))).dt.total_days()
    late = (pl.col("user_id") == "user-3") & (day < 4)
    with connect(tmp_path / "nightly.duckdb") as con:
        _language_setup(con)
        modes = []
        for night in range(6, 13):
            part = history.filter(~late & (day < night) & (day >= (0 if night == 6 else night - 1)))
            deliver_attempts(con, f"night-{night}", part)
            if night == 9:
                deliver_attempts(con, "late", history.filter(late))
            as_of = resolve_as_of(con, None)
            update_srs(con, SM2Params(), as_of, batches=1)
            modes.append(update_lms_progress(con, as_of).mode)
        got = _tables(con)
    assert modes[0] == "full" and set(modes[1:]) == {"incremental"}, modes
    with connect(tmp_path / "full.duckdb") as con:
        _language_setup(con)
        deliver_attempts(con, "all", history)
        update_srs(con, SM2Params(), as_of, batches=1)
        want = build_lms_progress(read_lms_inputs(con, as_of), as_of)
        # a full build in groups of learners (their attempts and reviews) is the same build
        medians = task_medians(con, as_of, ["lang:fr"])
        assert len(learner_groups(con, as_of, 150)) > 3
        grouped = build_progress(con, as_of, None, medians, rows_per_group=150)
    for name, frame in want.items():
        assert_frame_equal(grouped[name], frame)
    assert want["course_progress"]["course_id"].unique().to_list() == ["lang:fr"]
    _assert_same(got, {n: f.sort(f.columns, nulls_last=True) for n, f in want.items()})


def test_a_shard_of_learners_gets_their_rows_of_the_whole_build(
    nightly: tuple[Path, Path, list[str]],
) -> None:
    """`learner_inputs` (what a bucket of learners reads) carries every learner's task
    medians: half the learners' build is their rows of the build over everyone."""
    _, warehouse, _ = nightly
    with connect(warehouse) as con:
        as_of = resolve_as_of(con, None)
        users = query(con, "SELECT DISTINCT user_id FROM lms_events ORDER BY 1")
        half = users.gather_every(2)
        shard = build_lms_progress(learner_inputs(con, as_of, half), as_of)
        whole = build_lms_progress(read_lms_inputs(con, as_of), as_of)
    for name, frame in whole.items():
        want = frame.join(half, on="user_id", how="semi")
        assert want.height > 0 or name == "learning_path_progress", name
        got = shard[name].sort(frame.columns, nulls_last=True)
        assert_frame_equal(got, want.sort(frame.columns, nulls_last=True), check_dtypes=False)


def test_learners_and_a_user_range_together_are_refused(
    nightly: tuple[Path, Path, list[str]],
) -> None:
    _, warehouse, _ = nightly
    with connect(warehouse) as con:
        as_of = resolve_as_of(con, None)
        some = pl.DataFrame({"user_id": ["a"]})
        with pytest.raises(ValueError, match="not both"):
            read_lms_inputs(con, as_of, learners=some, user_range=("a", "b"))


def test_a_build_in_groups_of_learners_is_the_whole_build(
    nightly: tuple[Path, Path, list[str]],
) -> None:
    """`build_progress` cut into groups of about 100 input rows (several groups) gives the
    tables, rows in the same order and types, of one build over everyone."""
    _, warehouse, _ = nightly
    with connect(warehouse) as con:
        as_of = resolve_as_of(con, None)
        courses = query(con, "SELECT DISTINCT course_id FROM course_versions")["course_id"]
        medians = task_medians(con, as_of, courses.to_list())
        groups = learner_groups(con, as_of, 100)
        grouped = build_progress(con, as_of, None, medians, rows_per_group=100)
        whole = build_lms_progress(read_lms_inputs(con, as_of), as_of)
    assert len(groups) > 3
    assert pl.concat(groups)["user_id"].is_sorted()
    for name, frame in whole.items():
        assert_frame_equal(grouped[name], frame)
