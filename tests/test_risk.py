"""Learner status, the at-risk model, its rules fallback and its rolling-origin backtest, on
small hand-computed histories; the checks on the three tables; the educators' section."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipelines.defs.metrics import checks
from pipelines.defs.resources import WarehouseResource
from reports.at_risk import at_risk_section, flagged_learners
from reports.pages import PageMeta, write_page
from reports.privacy import pseudonym
from transforms.metrics import risk
from transforms.metrics.risk import (
    AT_RISK_SCHEMA,
    BACKTEST_SCHEMA,
    History,
    at_risk_backtest,
    features_at,
    labelled_snapshots,
    precision_threshold,
    risk_tables,
    snapshot_days,
    top_share_threshold,
)
from transforms.warehouse import duckdb_config, replace_table

PQ = 3  # pass quality
AS_OF = datetime(2026, 3, 30, 12)  # a Monday
DAILY_SCHEMA = {
    "user_id": pl.String,
    "language": pl.String,
    "day": pl.Date,
    "attempts": pl.Int64,
    "correct": pl.Int64,
    "reviews": pl.Int64,
}
REVIEW_SCHEMA = {
    "user_id": pl.String,
    "language": pl.String,
    "word_uid": pl.String,
    "reviewed_at": pl.Datetime("us"),
    "review_index": pl.Int64,
    "quality": pl.Int64,
    "interval_before": pl.Float64,
    "due_at": pl.Datetime("us"),
}


def _daily(rows: list[tuple[str, date, int, int, int]], language: str = "es") -> pl.DataFrame:
    """(user, day, attempts, correct, graded reviews) rows of accuracy_daily."""
    return pl.DataFrame(
        [
            {
                "user_id": u,
                "language": language,
                "day": d,
                "attempts": a,
                "correct": c,
                "reviews": r,
            }
            for u, d, a, c, r in rows
        ],
        schema=DAILY_SCHEMA,
    )


def _reviews(rows: list[tuple[str, str, datetime, int, int, datetime]]) -> pl.DataFrame:
    """(user, word, reviewed_at, review_index, quality, due_at) graded reviews in es."""
    return pl.DataFrame(
        [
            {
                "user_id": u,
                "language": "es",
                "word_uid": w,
                "reviewed_at": at,
                "review_index": i,
                "quality": q,
                "interval_before": 1.0,
                "due_at": due,
            }
            for u, w, at, i, q, due in rows
        ],
        schema=REVIEW_SCHEMA,
    )


def M(day: int, hour: int = 0) -> datetime:  # a day in March 2026
    return datetime(2026, 3, day, hour)


def d(day: int) -> date:
    return date(2026, 3, day)


# u1 studies on 2, 10, 20, 25 and 27 March; u2 only on 2 March.
DAILY = _daily(
    [
        ("u1", d(2), 10, 9, 0),
        ("u1", d(10), 10, 8, 1),
        ("u1", d(20), 10, 7, 2),
        ("u1", d(25), 4, 2, 1),
        ("u1", d(27), 6, 3, 1),
        ("u2", d(2), 5, 5, 0),
    ]
)
# Three cards of u1: z (10th, due 11th; again on the 20th, failed, due 10 April), y (20th, due
# 22nd; again on the 27th, passed, due 5 April), x (25th, due 28th, not reviewed since).
REVIEWS = _reviews(
    [
        ("u1", "z", M(10, 10), 1, 4, M(11, 10)),
        ("u1", "z", M(20, 10), 2, 1, datetime(2026, 4, 10, 10)),
        ("u1", "y", M(20, 11), 1, 4, M(22, 11)),
        ("u1", "y", M(27, 10), 2, 5, datetime(2026, 4, 5, 10)),
        ("u1", "x", M(25, 10), 1, 4, M(28, 10)),
    ]
)


def _row(frame: pl.DataFrame, user: str) -> dict[str, object]:
    return frame.filter(pl.col("user_id") == user).row(0, named=True)


def test_features_as_of_today_by_hand() -> None:
    out = features_at(History.of(DAILY, REVIEWS, PQ), AS_OF.date(), AS_OF)
    u1 = _row(out, "u1")
    assert u1["course"] == "lang:es"
    assert u1["idle_days"] == 3  # 30 - 27
    assert u1["active_days_28d"] == 4  # 10, 20, 25, 27 (3-30 March; the 2nd is before)
    # last 7 days (24-30): 4 + 6 = 10 attempts; 28 days: 10 + 10 + 4 + 6 = 30, 7.5 a week
    assert u1["attempts_ratio_7d"] == pytest.approx(10 / 7.5)
    # last 7 days 5/10 = 50%; the 28 days before (24 Feb - 23 Mar): 24/30 = 80%
    assert u1["accuracy_7d"] == pytest.approx(0.5)
    assert u1["accuracy_prior_28d"] == pytest.approx(0.8)
    assert u1["accuracy_change"] == pytest.approx(-0.3)
    # x is overdue since the 28th; z and y were reviewed again and are due in April
    assert u1["overdue_reviews"] == 1
    # 1 + 2 + 1 + 1 = 5 graded reviews in the 28 days: 5/28 a day, 1 / (5/28) = 5.6
    assert u1["daily_reviews_28d"] == pytest.approx(5 / 28)
    assert u1["overdue_ratio"] == pytest.approx(5.6)
    # non-first reviews on 17-30 March: z on the 20th failed, y on the 27th passed
    assert (u1["true_retention_14d"], u1["reviews_14d"]) == (0.5, 2)
    assert u1["current_streak"] == 0  # nothing on the 29th or 30th
    assert u1["active_days_before_idle"] == 5  # 28 Feb - 27 Mar: 2, 10, 20, 25, 27
    u2 = _row(out, "u2")
    # idle 28 days: still lapsing, scored; no attempt in the 28 days, no review ever
    assert (u2["idle_days"], u2["active_days_28d"]) == (28, 0)
    assert u2["attempts_ratio_7d"] is None and u2["accuracy_change"] is None
    assert (u2["overdue_reviews"], u2["overdue_ratio"]) == (0, 0.0)
    assert u2["true_retention_14d"] is None


def test_features_at_a_past_snapshot_use_only_what_was_known() -> None:
    # Monday 16 March, end of day: card z was due on the 11th and reviewed again only on the
    # 20th, so it was overdue then (today's word_progress would say it is not)
    out = features_at(History.of(DAILY, REVIEWS, PQ), d(16), M(17))
    u1 = _row(out, "u1")
    assert (u1["idle_days"], u1["active_days_28d"]) == (6, 2)  # 2nd and 10th
    assert u1["overdue_reviews"] == 1
    # one graded review in the 28 days: 1/28 a day, overdue ratio 1 / (1/28) = 28
    assert u1["overdue_ratio"] == pytest.approx(28.0)
    # last 7 days (10-16): 10 attempts; 28 days: 20, 5 a week
    assert u1["attempts_ratio_7d"] == pytest.approx(2.0)
    # 8/10 against the 2nd's 9/10
    assert u1["accuracy_change"] == pytest.approx(-0.1)
    assert u1["true_retention_14d"] is None and u1["reviews_14d"] == 0  # z's 2nd is later


def test_snapshot_mondays_and_labels() -> None:
    # Mondays from the first activity (2 March) with S + 14 days before the as-of day
    assert snapshot_days(DAILY, d(30)) == [d(2), d(9)]
    assert snapshot_days(DAILY, d(31)) == [d(2), d(9), d(16)]
    assert snapshot_days(DAILY, d(1)) == []
    rows = labelled_snapshots(History.of(DAILY, REVIEWS, PQ), [d(2), d(9)])
    # u1 studies again on the 10th (within 3-16 and 10-23 March); u2 never comes back
    assert rows.select("snapshot_day", "user_id", "idle_days", "label").rows() == [
        (d(2), "u1", 0, False),
        (d(2), "u2", 0, True),
        (d(9), "u1", 7, False),
        (d(9), "u2", 7, True),
    ]


def test_status_boundaries_and_churned_learners_are_not_scored() -> None:
    idle = {"a0": 0, "a6": 6, "l7": 7, "l28": 28, "c29": 29}
    daily = _daily([(u, AS_OF.date() - timedelta(days=k), 1, 1, 0) for u, k in idle.items()])
    tables = risk_tables(daily, _reviews([]), AS_OF, PQ)
    status = dict(tables.status.select("user_id", "status").rows())
    assert status == {
        "a0": "active",
        "a6": "active",
        "l7": "lapsing",
        "l28": "lapsing",
        "c29": "churned",
    }
    assert dict(tables.status.select("user_id", "idle_days").rows()) == idle
    assert set(tables.status["course"]) == {"lang:es"}
    assert sorted(tables.at_risk["user_id"]) == ["a0", "a6", "l28", "l7"]


def test_too_little_history_falls_back_to_the_rules_and_says_why() -> None:
    tables = risk_tables(DAILY, REVIEWS, AS_OF, PQ)
    out = tables.at_risk
    assert out.schema == pl.Schema(AT_RISK_SCHEMA)
    assert set(out["model"]) == {"rules: only 4 labelled snapshots (at least 50 needed)"}
    assert out["risk"].is_null().all() and out["threshold"].is_null().all()
    u1, u2 = _row(out, "u1"), _row(out, "u2")
    # u1: accuracy 30 points down and 5.6 times the daily reviews overdue; idle only 3 days
    assert u1["flagged"] is True
    assert u1["reasons"] == (
        "accuracy 50% in the last 7 days against 80% in the 4 weeks before; "
        "1 reviews overdue, 5.6 times the 0.2 reviews a day of the last 4 weeks"
    )
    assert u2["flagged"] is True
    assert u2["reasons"] == "no activity for 28 days, after 1 active days in the 4 weeks before"
    # the backtest has its two Mondays, rules only: no model had earlier outcomes to learn from
    backtest = tables.backtest
    assert backtest["snapshot_day"].to_list() == [d(2), d(9)]
    assert backtest["auc"].is_null().all() and backtest["threshold"].is_null().all()
    # on the 9th the rules flag both (idle 7), one of whom (u2) does not come back
    nine = backtest.row(1, named=True)
    assert (nine["learners"], nine["base_rate"], nine["rules_flagged"]) == (2, 0.5, 2)
    assert (nine["rules_precision"], nine["rules_recall"], nine["rules_auc"]) == (0.5, 1.0, 0.5)


def test_a_single_outcome_falls_back_to_the_rules() -> None:
    start = date(2026, 1, 5)
    days = [start + timedelta(days=k) for k in range((AS_OF.date() - start).days + 1)]
    daily = _daily([(f"u{i}", day, 2, 2, 0) for i in range(10) for day in days])
    out = risk_tables(daily, _reviews([]), AS_OF, PQ).at_risk
    # 10 Mondays (5 Jan - 9 Mar) x 10 learners, every one active again within 14 days
    assert set(out["model"]) == {
        "rules: all 100 labelled snapshots have the same outcome (activity)"
    }
    assert not out["flagged"].any() and out["reasons"].to_list() == [""] * 10


def _synthetic_history(learners: int = 60, days: int = 150) -> pl.DataFrame:
    """Learners who start on different days, study on a learner-specific rhythm and stop for
    good on a learner-specific day: a history with both outcomes at every snapshot."""
    start = date(2026, 1, 1)
    rows = []
    for i in range(learners):
        first, stop = i % 9, 25 + (i * 37) % (days - 10)
        for k in range(first, min(stop, days)):
            if (k * (i % 5 + 2)) % 7 < 5 - (k > stop - 10 and i % 3 == 0) * 3:
                attempts = 5 + (i + k) % 11
                rows.append((f"u{i:02d}", start + timedelta(days=k), attempts, attempts - k % 4, 1))
    return _daily(rows)


AS_OF_SYNTHETIC = datetime(2026, 5, 30, 20)


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return _synthetic_history()


@pytest.fixture(scope="module")
def synthetic_tables(synthetic: pl.DataFrame) -> risk.RiskTables:
    return risk_tables(synthetic, _reviews([]), AS_OF_SYNTHETIC, PQ)


def test_the_model_scores_flags_and_explains(synthetic_tables: risk.RiskTables) -> None:
    tables = synthetic_tables
    out = tables.at_risk
    model = out["model"][0]
    assert model.startswith("logistic regression on ") and model.endswith(" snapshots")
    assert out["risk"].is_between(0, 1).all()
    threshold = out["threshold"][0]
    assert out["flagged"].to_list() == (out["risk"] >= threshold).to_list()
    flagged = out.filter("flagged")
    assert flagged.height > 0
    for reasons in flagged["reasons"]:
        assert 1 <= len(reasons.split("; ")) <= 3
    # the riskiest learner's first reason is about them going quiet
    riskiest = out.sort("risk", descending=True).row(0, named=True)
    assert riskiest["reasons"].startswith(("no activity for", "no study streak", "attempts"))
    # the backtest scored some Mondays with a model, the earliest with the rules only
    backtest = tables.backtest
    assert backtest["auc"].drop_nulls().len() > 0
    assert backtest["auc"][0] is None and backtest["rules_flagged"][0] is not None
    assert backtest["auc"].drop_nulls().mean() > 0.6  # type: ignore[operator]


def test_same_data_same_tables(synthetic: pl.DataFrame, synthetic_tables: risk.RiskTables) -> None:
    first = synthetic_tables
    again = risk_tables(
        synthetic.sample(fraction=1.0, shuffle=True, seed=3), _reviews([]), AS_OF_SYNTHETIC, PQ
    )
    assert_frame_equal(first.status, again.status)
    assert_frame_equal(first.at_risk, again.at_risk)
    assert_frame_equal(first.backtest, again.backtest)


def test_backtest_is_rolling_origin(
    synthetic: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    history = History.of(synthetic, _reviews([]), PQ)
    snapshots = labelled_snapshots(history, snapshot_days(history.daily, AS_OF_SYNTHETIC.date()))
    # every model is fitted only on Mondays whose 14-day outcome was known on the scored Monday
    trained_on: list[set[date]] = []
    fit = risk.fit_model

    def spy(training: pl.DataFrame) -> risk.Fitted:
        trained_on.append(set(training["snapshot_day"]))
        return fit(training)

    monkeypatch.setattr(risk, "fit_model", spy)
    table = at_risk_backtest(snapshots).table
    monkeypatch.undo()
    assert len(trained_on) == table.height
    for day, used in zip(table["snapshot_day"], trained_on, strict=True):
        assert all(s + timedelta(days=14) <= day for s in used), day
    # changing everything not known by a Monday (its own features aside) changes nothing there
    scored = table.filter(pl.col("auc").is_not_null())
    day = scored["snapshot_day"][scored.height // 2]
    unknown = (pl.col("snapshot_day") > pl.lit(day - timedelta(days=14))) & (
        pl.col("snapshot_day") != pl.lit(day)
    )
    scrambled = snapshots.with_columns(
        pl.when(unknown).then(~pl.col("label")).otherwise(pl.col("label")).alias("label"),
        pl.when(unknown)
        .then(pl.col("current_streak") * 3 + 1)
        .otherwise(pl.col("current_streak"))
        .alias("current_streak"),
    )
    again = at_risk_backtest(scrambled).table
    assert_frame_equal(
        table.filter(pl.col("snapshot_day") == day), again.filter(pl.col("snapshot_day") == day)
    )
    assert not table.equals(again)  # the scrambled rows did matter later on
    # Mondays without enough earlier outcomes: no model figures, rules figures all the same
    early = table.filter(pl.col("auc").is_null())
    assert early.height > 0 and early["rules_flagged"].is_not_null().all()
    assert early["precision"].is_null().all() and early["flagged"].is_null().all()


def test_thresholds() -> None:
    import numpy as np

    risk_values = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    # precision at >= 0.9: 1/1, 0.8: 1/2, 0.7: 1/3 ... the lowest risk with >= 0.5 is 0.8
    assert precision_threshold(risk_values, np.array([1, 0, 0, 0, 0, 1])) == 0.8
    # ... or 0.5 when the 4th and 5th come back to it (3/5 at 0.5, 3/6 at 0.4 too)
    assert precision_threshold(risk_values, np.array([1, 0, 0, 1, 1, 0])) == 0.4
    assert precision_threshold(risk_values, np.zeros(6)) is None
    assert precision_threshold(np.array([]), np.array([])) is None
    # tied risks flag together: 2 of the 3 at 0.5
    assert precision_threshold(np.array([0.5, 0.5, 0.5]), np.array([1, 1, 0])) == 0.5
    assert top_share_threshold(risk_values) == 0.9  # ceil(10% of 6) = 1 learner
    assert top_share_threshold(np.arange(20) / 20) == 0.9  # the top 2 of 20
    assert top_share_threshold(np.array([])) is None


@pytest.mark.parametrize(
    ("daily", "as_of"),
    [
        (_daily([]), AS_OF),  # no attempts
        (DAILY.head(1), AS_OF),  # one learner, one attempt
        (DAILY, datetime(2026, 2, 1)),  # as of before all data
    ],
    ids=["empty", "one-attempt", "as-of-before-data"],
)
def test_degenerate_inputs_give_tables_with_their_schema(
    daily: pl.DataFrame, as_of: datetime
) -> None:
    reviews = REVIEWS.filter(pl.col("reviewed_at") <= as_of).head(1)
    tables = risk_tables(daily, reviews, as_of, PQ)
    assert tables.at_risk.schema == pl.Schema(AT_RISK_SCHEMA)
    assert tables.backtest.schema == pl.Schema(BACKTEST_SCHEMA)
    assert tables.status.columns == ["user_id", "course", "status", "last_active_day", "idle_days"]
    known = daily.filter(pl.col("day") <= as_of.date())
    assert tables.status.height == tables.at_risk.height == known["user_id"].n_unique()
    # the one attempt on 2 March gives the Mondays 2 and 9 March, scored by the rules alone
    assert tables.backtest.height == len(snapshot_days(known, as_of.date()))
    assert tables.backtest["auc"].is_null().all()


activity_rows = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["es", "fr"]),
        st.integers(0, 80),  # day offset from 1 January
        st.integers(1, 6),  # attempts
        st.integers(0, 6),  # correct (capped at attempts)
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=activity_rows, as_of_offset=st.integers(-5, 100))
def test_any_history_gives_consistent_tables(
    rows: list[tuple[str, str, int, int, int]], as_of_offset: int
) -> None:
    start = date(2026, 1, 1)
    daily = (
        pl.DataFrame(
            [
                {
                    "user_id": u,
                    "language": lang,
                    "day": start + timedelta(days=k),
                    "attempts": a,
                    "correct": min(c, a),
                    "reviews": 1,
                }
                for u, lang, k, a, c in rows
            ],
            schema=DAILY_SCHEMA,
        )
        .group_by("user_id", "language", "day")
        .agg(pl.col("attempts", "correct", "reviews").sum())
    )
    as_of = datetime.combine(start + timedelta(days=as_of_offset), datetime.min.time())
    tables = risk_tables(daily, _reviews([]), as_of, PQ)
    status, at_risk, backtest = tables.status, tables.at_risk, tables.backtest
    # scored = not churned; one row per (user_id, course) in both tables
    assert at_risk.height == status.filter(pl.col("status") != "churned").height
    assert status.select("user_id", "course").is_unique().all()
    assert at_risk["risk"].drop_nulls().is_between(0, 1).all()
    assert at_risk["flagged"].null_count() == 0
    # a row per Monday with a learner to score (none when everyone had churned by then)
    known = daily.filter(pl.col("day") <= as_of.date())
    assert set(backtest["snapshot_day"]) <= set(snapshot_days(known, as_of.date()))
    assert (backtest["learners"] > 0).all()
    for column in ("base_rate", "auc", "precision", "recall", "rules_precision", "rules_auc"):
        assert backtest[column].drop_nulls().is_between(0, 1).all()


# --- the checks on the three tables ------------------------------------------------------------


def run_check(check: dg.AssetChecksDefinition, warehouse: WarehouseResource) -> bool:
    """Whether an asset check passes against `warehouse` (invoked directly)."""
    result = check(warehouse=warehouse)
    assert isinstance(result, dg.AssetCheckResult)
    return result.passed


def _check(name: str) -> dg.AssetChecksDefinition:
    found = [
        c
        for c in [*checks.registered_checks, checks.learner_status_idle_days]
        if any(key.name == name for key in c.check_keys)
    ]
    assert len(found) == 1, name
    return found[0]


def _break_first(column: str, value: object) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def broken(frame: pl.DataFrame) -> pl.DataFrame:
        first = pl.int_range(pl.len()) == 0
        return frame.with_columns(
            pl.when(first).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )

    return broken


def _duplicate_first(frame: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([frame, frame.head(1)])


@pytest.fixture(scope="module")
def valid_tables(synthetic_tables: risk.RiskTables) -> dict[str, pl.DataFrame]:
    tables = synthetic_tables
    return {
        "learner_status": tables.status,
        "at_risk_learners": tables.at_risk,
        "at_risk_backtest": tables.backtest.filter(pl.col("auc").is_not_null()),
    }


@pytest.mark.parametrize(
    ("check_name", "table", "breaks"),
    [
        (
            "at_risk_learners_proportions_in_unit_interval",
            "at_risk_learners",
            _break_first("risk", 1.2),
        ),
        (
            "at_risk_backtest_proportions_in_unit_interval",
            "at_risk_backtest",
            _break_first("auc", -0.1),
        ),
        (
            "at_risk_backtest_proportions_in_unit_interval",
            "at_risk_backtest",
            _break_first("rules_precision", 2.0),
        ),
        (
            "at_risk_backtest_proportions_in_unit_interval",
            "at_risk_backtest",
            _break_first("precision", 1.5),
        ),
        ("learner_status_status_values", "learner_status", _break_first("status", "gone")),
        ("learner_status_idle_days", "learner_status", _break_first("idle_days", -1)),
        ("learner_status_one_row_per_key", "learner_status", _duplicate_first),
        ("at_risk_learners_one_row_per_key", "at_risk_learners", _duplicate_first),
        ("at_risk_backtest_one_row_per_key", "at_risk_backtest", _duplicate_first),
    ],
)
def test_each_check_fails_on_a_broken_table(
    tmp_path: Path,
    valid_tables: dict[str, pl.DataFrame],
    check_name: str,
    table: str,
    breaks: Callable[[pl.DataFrame], pl.DataFrame],
) -> None:
    warehouse = WarehouseResource(
        database=str(tmp_path / "warehouse.duckdb"), connection_config=duckdb_config("1GB")
    )
    check = _check(check_name)
    with warehouse.connect() as con:
        replace_table(con, table, valid_tables[table])
    assert run_check(check, warehouse)
    with warehouse.connect() as con:
        replace_table(con, table, breaks(valid_tables[table]))
    assert not run_check(check, warehouse)


# --- the educators' section --------------------------------------------------------------------


def test_educator_section_lists_flagged_learners_by_risk(
    tmp_path: Path, synthetic_tables: risk.RiskTables
) -> None:
    tables = synthetic_tables
    key = b"k"
    shown = flagged_learners(tables.at_risk, key)
    flagged = tables.at_risk.filter("flagged").sort("risk", descending=True)
    assert shown.columns == ["learner", "course", "risk", "reasons"]
    assert shown["learner"].to_list() == [pseudonym(u, key) for u in flagged["user_id"]]
    assert shown["risk"][0] == f"{round(flagged['risk'][0] * 100)}%"
    section = at_risk_section(tables.at_risk, tables.backtest, 3, key)
    assert section.note is not None
    assert "Scored by logistic regression on" in section.note and "Backtest on" in section.note
    assert "3 churned learner(s)" in section.note
    page = write_page(tmp_path / "page.html", "Educators", [section], PageMeta("2026-05-30", "r"))
    html = page.read_text()
    assert all(u not in html for u in tables.at_risk["user_id"])
    assert html.count("<tr>") == shown.height + 1
    # under the rules: no risk, the rules named in the note
    rules = risk_tables(DAILY, REVIEWS, AS_OF, PQ)
    note = at_risk_section(rules.at_risk, rules.backtest, 0, key).note
    assert note is not None and "Scored by rules: only 4 labelled snapshots" in note
    assert "idle 7+ days, accuracy of the last 7 days 15 points below" in note
    assert flagged_learners(rules.at_risk, key)["risk"].is_null().all()
