"""FSRS-6 beside SM-2: ratings, the forgetting curve by hand, and the comparison's tables."""

from __future__ import annotations

import fsrs_rs_python as fsrs
import numpy as np
import polars as pl
import pytest

from tests.test_tuning import _attempts
from transforms.evaluation import point_scores
from transforms.sm2 import SM2Params
from transforms.sm2.tables import build_reviews
from transforms.tuning.fsrs import compare_fsrs, fsrs_ratings, next_interval_days, recall
from transforms.tuning.scoring import scored_reviews
from transforms.tuning.search import held_out_rows

W = list(fsrs.DEFAULT_PARAMETERS)


def test_ratings_from_quality() -> None:
    q = pl.DataFrame({"q": [0, 1, 2, 3, 4, 5]})
    assert q.select(fsrs_ratings(pl.col("q"), 3).alias("r"))["r"].to_list() == [1, 1, 1, 2, 3, 4]
    assert q.select(fsrs_ratings(pl.col("q"), 2).alias("r"))["r"].to_list() == [1, 1, 2, 2, 3, 4]


def test_forgetting_curve_by_hand() -> None:
    decay = W[20]
    factor = 0.9 ** (-1 / decay) - 1
    assert recall(W, np.array([3.0]), np.array([3.0]))[0] == pytest.approx(0.9)
    assert recall(W, np.array([5.0]), np.array([2.0]))[0] == pytest.approx(
        (1 + factor * 5 / 2) ** -decay
    )
    # at 90% desired retention the interval is the stability, in whole days, at least 1
    assert next_interval_days(W, np.array([0.2, 2.4, 7.6])).tolist() == [1.0, 2.0, 8.0]


def test_first_prediction_is_the_initial_stability_curve() -> None:
    """A card first graded q = 4 (FSRS 'good') starts at stability w[2]; its second review a
    day later is predicted from that."""
    model = fsrs.FSRS(W)
    state = model.memory_state(fsrs.FSRSItem([fsrs.FSRSReview(3, 0)]))
    assert state.stability == pytest.approx(W[2], rel=1e-5)


def test_comparison_scores_the_held_out_reviews() -> None:
    params = SM2Params()
    reviews = build_reviews(_attempts(120), params)
    scored = scored_reviews(reviews, params)
    held, by = held_out_rows(reviews["user_id"], reviews["card_key"])
    assert by == "learner"
    result = compare_fsrs(scored, reviews, pl.Series(held), params, draws=20, seed=1)
    assert len(result.parameters) == 21
    overall = result.scores.filter(pl.col("scope") == "overall")
    assert set(overall["model"]) == {
        "SM-2",
        "Leitner",
        "constant mean",
        "HLR-Leitner",
        "FSRS-6 default",
        "FSRS-6 fitted",
    }
    held_later = reviews.with_columns(pl.Series("held", held)).filter(
        pl.col("held") & (pl.col("review_index") > 1)
    )
    assert (overall["reviews"] == held_later.height).all()
    # SM-2's row is SM-2's own point score on those reviews
    sm2 = overall.filter(pl.col("model") == "SM-2").row(0, named=True)
    y = (held_later["quality"] >= params.pass_quality).cast(pl.Int8)
    frame = held_later.select(
        "p_recall",
        "elapsed_days",
        "review_index",
        (pl.col("lapses_after") - (1 - y)).alias("lapses_before"),
        y.alias("y"),
    )
    assert sm2["log_loss"] == pytest.approx(point_scores(frame, "p_recall")["log_loss"])
    verdict = result.verdict
    assert verdict["language"].to_list() == ["es", "all"]
    row = verdict.row(1, named=True)
    assert row["log_loss_gain"] == pytest.approx(row["sm2_log_loss"] - row["fsrs_log_loss"])
    assert row["fsrs_log_loss_low"] <= row["fsrs_log_loss"] <= row["fsrs_log_loss_high"]
    assert row["sm2_daily_reviews"] > 0 and row["fsrs_daily_reviews"] > 0


def test_no_held_out_reviews_give_empty_tables() -> None:
    params = SM2Params()
    reviews = build_reviews(_attempts(10), params)
    scored = scored_reviews(reviews, params)
    nobody = pl.Series([False] * reviews.height)
    result = compare_fsrs(scored, reviews, nobody, params, draws=5, seed=0)
    assert result.scores.height == 0 and result.verdict.height == 0
    assert "sm2_log_loss" in result.verdict.columns


def test_simulator_step_follows_fsrs_rs() -> None:
    """The simulator's compiled FSRS-6 step (float64) gives the memory state fsrs-rs computes
    (float32) over random histories, same-day reviews included; and the interval at 90% is the
    stability itself (recall is 0.9 at t = S), rounded."""
    from transforms.tuning.fsrs import review_cards_fsrs

    rng = np.random.default_rng(0)
    model = fsrs.FSRS(W)
    for _ in range(200):
        n = int(rng.integers(1, 10))
        ratings, deltas = rng.integers(1, 5, n), rng.integers(0, 30, n)
        deltas[0] = 0
        s, d, interval = np.zeros(1), np.zeros(1), np.zeros(1)
        for rating, delta in zip(ratings, deltas, strict=True):
            one = (np.array([0]), np.array([rating]), np.array([float(delta)]))
            review_cards_fsrs(s, d, *one, np.array(W), 0.9, interval)
        history = zip(ratings.tolist(), deltas.tolist(), strict=True)
        item = fsrs.FSRSItem([fsrs.FSRSReview(r, t) for r, t in history])
        state = model.memory_state(item, None)
        assert s[0] == pytest.approx(state.stability, rel=1e-4)
        assert d[0] == pytest.approx(state.difficulty, rel=1e-4)
        assert interval[0] == max(1.0, np.round(s[0]))
