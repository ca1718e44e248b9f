"""The vectorized replay equals the sequential oracle, on examples and random histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.sm2_oracle import replay_card
from transforms.sm2 import REPLAY_COLUMNS, SM2Params, replay, replay_leitner
from transforms.sm2.card_order import CardOrder
from transforms.sm2.kernel import round6
from transforms.sm2.leitner import BOX_DAYS

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _frame(cards: dict[int, list[tuple[datetime, int, str]]]) -> pl.DataFrame:
    rows = [
        {"card_id": c, "reviewed_at": t, "quality": q, "tiebreak": tb}
        for c, reviews in cards.items()
        for t, q, tb in reviews
    ]
    return pl.DataFrame(
        rows,
        schema={
            "card_id": pl.Int64,
            "reviewed_at": pl.Datetime("us", "UTC"),
            "quality": pl.Int8,
            "tiebreak": pl.String,
        },
    )


def _oracle(frame: pl.DataFrame, params: SM2Params) -> pl.DataFrame:
    ordered = frame.sort("card_id", "reviewed_at", "tiebreak")
    rows = []
    for _, group in ordered.group_by("card_id", maintain_order=True):
        result = replay_card(group["reviewed_at"].to_list(), group["quality"].to_list(), params)
        for src, res in zip(group.iter_rows(named=True), result, strict=True):
            rows.append({**src, **res.__dict__})
    out = pl.DataFrame(
        rows, schema_overrides={"reviewed_at": pl.Datetime("us", "UTC"), "quality": pl.Int8}
    )
    return out.with_columns(
        pl.col("review_index", "reps_after", "lapses_after").cast(pl.Int32),
        pl.col(
            "elapsed_days", "interval_before", "p_recall", "ef_before", "ef_after", "interval_days"
        ).cast(pl.Float64),
    )


def _compare(frame: pl.DataFrame, params: SM2Params) -> None:
    got = replay(frame, params).sort("card_id", "reviewed_at", "tiebreak")
    want = _oracle(frame, params)
    cols = ["card_id", "tiebreak", *[c for c in REPLAY_COLUMNS if c != "due_at"]]
    exact = [
        "card_id",
        "tiebreak",
        "review_index",
        "reps_after",
        "lapses_after",
        "interval_days",
        "interval_before",
    ]
    assert_frame_equal(got.select(exact), want.select(exact))
    assert_frame_equal(got.select(cols), want.select(cols), abs_tol=1e-9, rel_tol=0)
    # the card order partitions the reviews, and a shared order gives the very same rows
    order = CardOrder.of(frame)
    assert (np.sort(order.rows) == np.arange(frame.height)).all()
    assert_frame_equal(replay(frame, params, order), replay(frame, params))


def test_spec_example_intervals_and_ef() -> None:
    days = [0, 1, 7, 22, 60]
    frame = _frame(
        {
            1: [
                (T0 + timedelta(days=d), q, f"u{d}")
                for d, q in zip(days, [4, 4, 4, 4, 1], strict=True)
            ]
        }
    )
    out = replay(frame)
    assert out["interval_days"].to_list() == [1, 6, 15, 38, 1]
    assert out["ef_after"][-1] == pytest.approx(1.96)
    assert out["p_recall"][0] is None
    assert out["due_at"][3] == T0 + timedelta(days=22 + 38)


def test_rounding_removes_float_noise() -> None:
    # 10 × 2.3 is 23, not 24, and 6 × 1.5 is 9
    assert (round6(10 * 2.3), round6(6 * 1.5)) == (23.0, 9.0)
    params = SM2Params(ef_init=1.5, ef_min=1.3)
    frame = _frame({1: [(T0 + timedelta(days=d), 4, str(d)) for d in range(3)]})
    assert replay(frame, params)["interval_days"].to_list() == [1, 6, 9]


def test_output_keeps_input_row_order_and_columns() -> None:
    frame = _frame(
        {
            1: [(T0, 5, "a"), (T0 + timedelta(days=1), 3, "b")],
            2: [(T0, 1, "c")],
        }
    ).reverse()
    out = replay(frame)
    assert out.columns == [*frame.columns, *REPLAY_COLUMNS]
    assert_frame_equal(out.select(frame.columns), frame)


def test_same_time_ties_follow_tiebreak() -> None:
    frame = _frame({1: [(T0, 1, "b"), (T0, 5, "a")]})
    out = replay(frame).sort("review_index")
    assert out["tiebreak"].to_list() == ["a", "b"]
    assert out["elapsed_days"][1] == 0.0


def test_max_interval_caps() -> None:
    frame = _frame({1: [(T0 + timedelta(days=d), 5, str(d)) for d in range(12)]})
    out = replay(frame, SM2Params(max_interval=100.0))
    assert out["interval_days"].max() == 100.0
    _compare(frame, SM2Params(max_interval=100.0))


def test_thousand_review_card() -> None:
    rng = random.Random(3)
    reviews = [
        (T0 + timedelta(hours=i * 7), rng.choice([0, 1, 2, 3, 4, 5]), str(i)) for i in range(1000)
    ]
    frame = _frame({1: reviews, 2: reviews[:1], 3: reviews[:10]})
    _compare(frame, SM2Params())


params_strategy = st.builds(
    SM2Params,
    ef_init=st.floats(1.3, 3.5),
    ef_min=st.just(1.3),
    first_interval=st.sampled_from([1.0, 2.0, 0.5]),
    second_interval=st.sampled_from([6.0, 3.0, 4.5]),
    lapse_interval=st.sampled_from([1.0, 0.25, 2.0]),
    max_interval=st.sampled_from([36500.0, 60.0, 365.0]),
    pass_quality=st.integers(2, 4),
    fail_quality=st.just(1),
    ef_update_on_fail=st.booleans(),
    ef_for_interval=st.sampled_from(["old", "new"]),
    rounding=st.sampled_from(["ceil", "round", "none"]),
    target_recall=st.floats(0.5, 0.99),
)


@st.composite
def histories(draw: st.DrawFn) -> pl.DataFrame:
    n_cards = draw(st.integers(1, 12))
    cards = {}
    for card in range(n_cards):
        n = draw(st.integers(1, 25))
        offsets = sorted(draw(st.lists(st.integers(0, 400 * 24), min_size=n, max_size=n)))
        qualities = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
        cards[card] = [
            (T0 + timedelta(hours=h), q, f"{card}-{i:03d}")
            for i, (h, q) in enumerate(zip(offsets, qualities, strict=True))
        ]
    frame = _frame(cards)
    return frame.sample(fraction=1.0, shuffle=True, seed=draw(st.integers(0, 2**16)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=histories(), params=params_strategy)
def test_engine_equals_sequential_oracle(frame: pl.DataFrame, params: SM2Params) -> None:
    _compare(frame, params)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=histories())
def test_leitner_equals_a_plain_loop(frame: pl.DataFrame) -> None:
    got = replay_leitner(frame.with_columns((pl.col("quality") >= 3).alias("passed")))
    for _, card in got.sort("card_id", "reviewed_at", "tiebreak").group_by(
        "card_id", maintain_order=True
    ):
        box, last = 0, None
        for k, row in enumerate(card.iter_rows(named=True)):
            assert (row["review_index"], row["box_before"]) == (k + 1, box)
            box = min(box + 1, 5) if row["passed"] else 1
            assert row["box_after"] == box
            assert row["interval_days"] == BOX_DAYS[box]
            elapsed = None if last is None else (row["reviewed_at"] - last).total_seconds() / 86400
            assert row["elapsed_days"] == pytest.approx(elapsed, abs=1e-9)
            last = row["reviewed_at"]


def test_no_reviews_give_no_rows() -> None:
    """A learner batch can be empty: both replays return an empty frame of the right shape."""
    empty = _frame({})
    assert replay(empty).columns == [*empty.columns, *REPLAY_COLUMNS]
    passed = empty.with_columns((pl.col("quality") >= 3).alias("passed"))
    assert replay_leitner(passed).height == 0
