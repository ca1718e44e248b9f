"""The evaluation metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from transforms.evaluation import (
    auc,
    calibration_table,
    log_loss,
    log_losses,
    review_history,
    rmse_bins,
)


def test_log_loss_by_hand_and_clipping() -> None:
    assert log_loss([0.9, 0.2], [1, 0]) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    assert log_loss(pl.Series([1.0]), pl.Series([0])) == pytest.approx(-math.log(1e-6))


def test_auc_with_ties_counted_half() -> None:
    # positives 0.8, 0.5; negatives 0.5, 0.2: pairs (0.8>0.5, 0.8>0.2, 0.5=0.5, 0.5>0.2)
    assert auc([0.8, 0.5, 0.5, 0.2], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
    assert auc([0.5] * 4, [1, 0, 1, 0]) == 0.5
    assert math.isnan(auc([0.3, 0.4], [1, 1]))


def test_rmse_bins_every_key() -> None:
    # elapsed 0 -> key 0; 1 day -> 2.48; 5 days -> floor(ln5/ln3.62)=1 -> 2.48*3.62 = 8.98
    # review_index 1 -> 1.99 -> 2; 2 -> floor(ln2/ln1.89)=1 -> 3.76 -> 4
    # lapses 0 -> key 0; 1 -> 1.65 -> 2; 2 -> floor(ln2/ln1.73)=1 -> 2.85 -> 3
    p = np.array([0.9, 0.8, 0.6, 0.7])
    y = np.array([1, 0, 1, 1])
    elapsed = np.array([0.0, 1.0, 5.0, 5.0])
    index = np.array([2, 2, 3, 3])
    lapses = np.array([0, 1, 2, 2])
    # bins: (0,4,0): y1 p.9 ; (2.48,4,2): y0 p.8 ; (8.98,4,3): y(1,1) p(.6,.7)
    expected = math.sqrt((1 * 0.1**2 + 1 * 0.8**2 + 2 * 0.35**2) / 4)
    assert rmse_bins(p, y, elapsed, index, lapses) == pytest.approx(expected)
    # review index 1 and 2 land in different bins: 1.99 -> 2 and 3.76 -> 4
    split = rmse_bins([0.5, 0.5], [1, 0], [1.0, 1.0], [1, 2], [0, 0])
    assert split == pytest.approx(0.5)


def test_calibration_table_counts() -> None:
    table = calibration_table([0.05, 0.07, 0.95, 1.0], [0, 1, 1, 1], bins=10)
    assert table.select("bin_low", "reviews", "observed").rows() == [(0.0, 2, 0.5), (0.9, 2, 1.0)]


def test_review_history_counts_passes_and_lapses_before_each_review() -> None:
    # one card: q 4 (first, not scored), 1, 4, 5 with pass_quality 3 -> lapses after 0, 1, 1, 1
    reviews = pl.DataFrame(
        {
            "review_index": [1, 2, 3, 4],
            "quality": [4, 1, 4, 5],
            "lapses_after": [0, 1, 1, 1],
        }
    )
    history = review_history(reviews, pass_quality=3)
    assert history["review_index"].to_list() == [2, 3, 4]
    assert history["y"].to_list() == [0, 1, 1]
    # lapses before = lapses after - (1 - y): 1 - 1, 1 - 0, 1 - 0
    assert history["lapses_before"].to_list() == [0, 1, 1]
    # passes before = reviews before - lapses before: (2-1) - 0, (3-1) - 1, (4-1) - 1
    assert history["passes_before"].to_list() == [1, 1, 2]


def test_log_losses_sum_to_the_mean() -> None:
    # -ln 0.8 and -ln(1 - 0.3): mean (0.22314 + 0.35667) / 2
    losses = log_losses(np.array([0.8, 0.3]), np.array([1, 0]))
    assert losses.tolist() == pytest.approx([0.2231436, 0.3566749])
    assert log_loss(np.array([0.8, 0.3]), np.array([1, 0])) == pytest.approx(0.2899092)
