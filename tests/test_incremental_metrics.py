"""Nightly runs that rebuild only what the night's cards reach (transforms/incremental.py,
transforms/metrics/nightly.py) give the tables of one full recompute over all the data: nights
delivered one at a time, one file of earlier days arriving late (moving a learner's first day
into another cohort week), under both review units; a change of SM-2 parameters or
`PROGRESS_FULL_REFRESH` recomputes everything."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.warehouse_tables import deliver_attempts
from transforms.as_of import resolve_as_of
from transforms.metrics.group_sums import GROUP_SUMS_SOURCES, GROUP_SUMS_STATE, GROUP_SUMS_TABLES
from transforms.metrics.learned import update_learned_words
from transforms.metrics.nightly import update_metrics
from transforms.metrics.tables import METRIC_TABLES, metrics_inputs_digest, record_metrics_state
from transforms.sm2 import SM2Params
from transforms.sm2.store import update_srs
from transforms.warehouse import connect, query

START = datetime(2026, 3, 2)  # a Monday
DAYS = 30
LATE_LEARNER = "user-07"  # their first 9 days arrive late: their cohort week moves
SUMS = tuple(t for t in GROUP_SUMS_TABLES if t not in (GROUP_SUMS_STATE, GROUP_SUMS_SOURCES))
COMPARED = (*(t.name for t in METRIC_TABLES), *SUMS, "learned_words", "reviews", "word_progress")


def _history(seed: int = 7) -> pl.DataFrame:
    """About 1,500 attempts by 24 learners on 2 languages x 10 words over 30 days."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 24, 1500)
    return _attempt_rows(rng, "a", user, rng.integers(0, DAYS * 86400, user.size))


def _attempt_rows(
    rng: np.random.Generator, prefix: str, user: np.ndarray, seconds: np.ndarray
) -> pl.DataFrame:
    """One attempt per entry of `user` at START + `seconds`: learners whose number is a
    multiple of 3 study fr, the others es; 10 words, two step types, 75% correct."""
    n = user.size
    return pl.DataFrame(
        {
            "uuid_local": [f"{prefix}{i:05d}" for i in range(n)],
            "user_id": [f"user-{u:02d}" for u in user],
            "language": np.where(user % 3 == 0, "fr", "es"),
            "word_uid": [f"w{w}" for w in rng.integers(0, 10, n)],
            "step_type": rng.choice(["typing", "choice"], n),
            "correct": rng.random(n) < 0.75,
            "response_time_ms": rng.integers(500, 9000, n),
            "attempted_at": [START + timedelta(seconds=int(s)) for s in seconds],
            "source_row": np.arange(n),
        }
    )


def _nightly(
    con: duckdb.DuckDBPyConnection,
    params: SM2Params,
    full: bool = False,
    cards: list[tuple[int | None, int | None]] | None = None,
) -> str:
    """One night: SRS, metrics and learned_words; the modes SRS and metrics took (learned_words
    follows the metrics' mode). `cards` collects the SRS step's cards resumed and replayed."""
    as_of = resolve_as_of(con, None)
    srs = update_srs(con, params, as_of, batches=2, full_refresh=full)
    if cards is not None:
        cards.append((srs.cards_resumed, srs.cards_replayed))
    metrics = update_metrics(con, as_of, full_refresh=full)
    assert update_learned_words(con, full_refresh=full).mode == metrics.mode
    return f"{srs.mode}/{metrics.mode}"


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    frames = {name: query(con, f'SELECT * FROM "{name}"') for name in COMPARED}
    return {name: f.sort(f.columns, nulls_last=True) for name, f in frames.items()}


def _setup(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("INSERT INTO cohorts VALUES ('user-01', 'class A', NULL, 'test')")


@pytest.mark.parametrize("review_unit", ["day", "session"])
def test_nights_with_a_late_file_equal_one_full_recompute(tmp_path: Path, review_unit: str) -> None:
    params = SM2Params(review_unit=review_unit)  # type: ignore[arg-type]
    history = _history()
    day = (pl.col("attempted_at") - pl.lit(START)).dt.total_days()
    late = (pl.col("user_id") == LATE_LEARNER) & (day < 9)
    on_time = history.filter(~late)
    # a night delivers the attempts up to noon: a day's attempts span two nights
    night_of = (pl.col("attempted_at") - pl.lit(START) + pl.duration(hours=12)).dt.total_days()

    nightly = connect(tmp_path / "nightly.duckdb")
    _setup(nightly)
    deliver_attempts(nightly, "first-20-days", on_time.filter(night_of < 20))
    cards: list[tuple[int | None, int | None]] = []
    modes = [_nightly(nightly, params, cards=cards)]
    for night in range(20, DAYS + 1):
        deliver_attempts(nightly, f"night-{night}", on_time.filter(night_of == night))
        if night == 25:
            deliver_attempts(nightly, "late", history.filter(late))
        modes.append(_nightly(nightly, params, cards=cards))
    modes.append(_nightly(nightly, params, cards=cards))  # a night without new attempts
    assert modes[0] == "full/full"
    assert set(modes[1:]) == {"incremental/incremental"}, modes
    resumed = [r or 0 for r, _ in cards[1:]]
    replayed = [p or 0 for _, p in cards[1:]]
    if review_unit == "day":
        # every changed card resumes but the late file's (night 25): those replay
        assert sum(resumed) > 0 and replayed == [0] * 5 + [replayed[5]] + [0] * 6, cards
        assert replayed[5] > 0, cards
    else:  # sessions span cards: every changed card replays
        assert sum(resumed) == 0 and sum(replayed) > 0, cards
    assert cards[-1] == (0, 0)  # a night without new attempts changes nothing

    whole = connect(tmp_path / "whole.duckdb")
    _setup(whole)
    deliver_attempts(whole, "everything", history)
    assert _nightly(whole, params) == "full/full"

    got, want = _tables(nightly), _tables(whole)
    for name in COMPARED:
        assert want[name].height > 0 or name == "at_risk_backtest", name
        assert_frame_equal(got[name], want[name], check_exact=False, rel_tol=1e-12)


def test_a_parameter_change_or_full_refresh_recomputes_everything(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    history = _history()
    deliver_attempts(con, "a", history.head(1000))
    assert _nightly(con, SM2Params()) == "full/full"
    deliver_attempts(con, "b", history.tail(500))
    assert _nightly(con, SM2Params()) == "incremental/incremental"
    assert _nightly(con, SM2Params(pass_quality=4)) == "full/full"  # parameters changed
    assert _nightly(con, SM2Params(pass_quality=4)) == "incremental/incremental"
    assert _nightly(con, SM2Params(pass_quality=4), full=True) == "full/full"
    as_of = resolve_as_of(con, None)
    assert update_metrics(con, as_of, full_refresh=True).reason == "full refresh requested"
    # a writer of the metric tables that does not keep the partial sums (the sharded run's
    # fan-in) records the metrics state, which forgets the sums: the next run recomputes
    record_metrics_state(con, as_of, metrics_inputs_digest(con, as_of))
    again = update_metrics(con, as_of)
    assert (again.mode, again.reason) == (
        "full",
        "the group tables' partial sums are missing or out of date",
    )


def _spells(seed: int = 11) -> pl.DataFrame:
    """About 3,600 attempts by 90 learners on 2 languages x 10 words over 52 days: each
    learner starts in the first three weeks and studies for 5 to 35 days, so the at-risk
    backtest has both outcomes and enough snapshots for a model from its fifth Monday on."""
    rng = np.random.default_rng(seed)
    learners = 90
    start = rng.integers(0, 21, learners)
    start[80:] = rng.integers(0, 5, learners - 80)  # class B: start early, stop by day 30
    length = np.where(np.arange(learners) >= 80, 10, rng.integers(5, 36, learners))
    user = rng.integers(0, learners, 3600)
    seconds = start[user] * 86400 + (rng.random(3600) * length[user] * 86400).astype(int)
    return _attempt_rows(rng, "b", user, seconds)


def test_nights_score_the_at_risk_backtest_and_age_untouched_cohorts(tmp_path: Path) -> None:
    """Nights from day 40 to 52 add snapshot Mondays (scored by a fitted model) and leave
    class B's cohort untouched (its learners stopped by day 30, so its rows only age); a late
    file of a learner's first days moves their cohort and rescores the backtest from early on."""
    params = SM2Params()
    history = _spells()
    first_day = history.group_by("user_id").agg(pl.col("attempted_at").min().alias("_first"))
    late_user = first_day.sort("_first", "user_id")["user_id"][3]
    late = (pl.col("user_id") == late_user) & (
        pl.col("attempted_at") < pl.col("attempted_at").min().over("user_id") + timedelta(days=9)
    )
    on_time = history.filter(~late)
    late_rows = history.filter(late)
    night_of = (pl.col("attempted_at") - pl.lit(START)).dt.total_days()

    def setup(con: duckdb.DuckDBPyConnection) -> None:
        for u in range(80, 90):
            con.execute(f"INSERT INTO cohorts VALUES ('user-{u}', 'class B', NULL, 'test')")

    nightly = connect(tmp_path / "nightly.duckdb")
    setup(nightly)
    deliver_attempts(nightly, "first-40-days", on_time.filter(night_of < 40))
    modes = [_nightly(nightly, params)]
    for night in range(40, 53):
        deliver_attempts(nightly, f"night-{night}", on_time.filter(night_of == night))
        if night == 46:
            deliver_attempts(nightly, "late", late_rows)
        modes.append(_nightly(nightly, params))
    assert modes[0] == "full/full"
    assert set(modes[1:]) == {"incremental/incremental"}, modes

    whole = connect(tmp_path / "whole.duckdb")
    setup(whole)
    deliver_attempts(whole, "everything", history)
    assert _nightly(whole, params) == "full/full"

    got, want = _tables(nightly), _tables(whole)
    backtest = want["at_risk_backtest"]
    assert backtest["auc"].drop_nulls().len() >= 2  # a model scored at least two Mondays
    assert want["at_risk_snapshots"]["backtest_risk"].drop_nulls().len() > 50
    assert want["cohort_retention"].filter(pl.col("cohort") == "class B").height > 4
    for name in COMPARED:
        assert want[name].height > 0, name
        assert_frame_equal(got[name], want[name], check_exact=False, rel_tol=1e-12)


def test_a_new_monday_past_the_window_equals_one_full_recompute(tmp_path: Path) -> None:
    """A snapshot Monday a night adds reads only the 63 days before it (and 14 after): over 105
    days, learners who study every day (current streaks longer than the window, some of them
    broken since) and learners who stopped long before it give the snapshots, backtest and
    at-risk rows of one full run."""
    params = SM2Params()
    rng = np.random.default_rng(3)
    days = 105
    # 12 learners: 0-3 every day to the end; 4-7 every day to day 85, then again from day 90
    # (their run on the Monday of day 84 is not their last); 8-11 on random days until day 20
    rows = []
    for u in range(12):
        if u < 8:
            studied = [d for d in range(days) if u < 4 or not 85 < d < 90]
        else:
            studied = sorted(set(rng.integers(0, 20, 8).tolist()))
        rows += [(u, d * 86400 + int(rng.integers(0, 86400))) for d in studied]
    user = np.array([u for u, _ in rows])
    history = _attempt_rows(rng, "w", user, np.array([s for _, s in rows]))
    night_of = (pl.col("attempted_at") - pl.lit(START)).dt.total_days()
    nightly = connect(tmp_path / "nightly.duckdb")
    deliver_attempts(nightly, "first", history.filter(night_of < 96))
    modes = [_nightly(nightly, params)]
    for night in range(96, days):  # night 99 adds the Monday of day 84 (START is a Monday)
        deliver_attempts(nightly, f"night-{night}", history.filter(night_of == night))
        modes.append(_nightly(nightly, params))
    assert set(modes[1:]) == {"incremental/incremental"}, modes
    whole = connect(tmp_path / "whole.duckdb")
    deliver_attempts(whole, "everything", history)
    assert _nightly(whole, params) == "full/full"
    got, want = _tables(nightly), _tables(whole)
    # streaks of 85 days on the Monday of day 84 (learners 0-7: days 0 to 84)
    snapshots = want["at_risk_snapshots"].filter(pl.col("snapshot_day") == date(2026, 5, 25))
    assert snapshots.filter(pl.col("current_streak") == 85).height == 8
    for name in ("at_risk_snapshots", "at_risk_backtest", "at_risk_learners", "learner_status"):
        assert want[name].height > 0, name
        assert_frame_equal(got[name], want[name], check_exact=False, rel_tol=1e-12)
