"""Bayesian Knowledge Tracing: a forward pass by hand, one EM step against brute-force
enumeration of the hidden paths, and parameter recovery from data drawn from known parameters."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from transforms.lms.bkt import (
    DEFAULT_PARAMS,
    BktParams,
    fit_bkt,
    log_likelihood,
    mastery_path,
    pad_sequences,
    sample_bkt,
)

P = DEFAULT_PARAMS  # prior 0.2, learn 0.15, slip 0.1, guess 0.2


def test_forward_pass_by_hand() -> None:
    """right, wrong, right, right with the defaults."""
    # 1 right: 0.2·0.9 / (0.2·0.9 + 0.8·0.2) = 0.18/0.34; then + (1 − ·)·0.15
    k1 = 0.18 / 0.34
    l1 = k1 + (1 - k1) * 0.15  # = 0.6 exactly
    # 2 wrong: 0.6·0.1 / (0.6·0.1 + 0.4·0.8) = 0.06/0.38
    k2 = 0.06 / 0.38
    l2 = k2 + (1 - k2) * 0.15
    # 3 right: l2·0.9 / (l2·0.9 + (1 − l2)·0.2)
    k3 = l2 * 0.9 / (l2 * 0.9 + (1 - l2) * 0.2)
    l3 = k3 + (1 - k3) * 0.15
    k4 = l3 * 0.9 / (l3 * 0.9 + (1 - l3) * 0.2)
    l4 = k4 + (1 - k4) * 0.15
    obs = pad_sequences([[1, 0, 1, 1], [0]])
    path = mastery_path(obs, P)
    assert l1 == pytest.approx(0.6)
    assert path[0].tolist() == pytest.approx([l1, l2, l3, l4])
    assert l4 == pytest.approx(0.92447, abs=1e-5)
    assert math.isnan(path[1, 1])  # padding
    # the likelihood is the product of the predicted answer probabilities
    p1 = 0.2 * 0.9 + 0.8 * 0.2  # 0.34
    p2 = 0.6 * 0.1 + 0.4 * 0.8  # 0.38
    p3 = l2 * 0.9 + (1 - l2) * 0.2
    p4 = l3 * 0.9 + (1 - l3) * 0.2
    only_first = pad_sequences([[1, 0, 1, 1]])
    assert log_likelihood(only_first, P) == pytest.approx(math.log(p1 * p2 * p3 * p4))


def _brute_force_em_step(sequences: list[list[int]], p: BktParams) -> BktParams:
    """One EM step by enumerating every hidden path (0 unknown, 1 known; no forgetting)."""
    prior_num = learn_num = learn_den = slip_num = slip_den = guess_num = guess_den = 0.0
    for seq in sequences:
        paths = []
        for states in itertools.product([0, 1], repeat=len(seq)):
            if any(a == 1 and b == 0 for a, b in itertools.pairwise(states)):
                continue  # no forgetting
            weight = p.prior if states[0] else 1 - p.prior
            for a, b in itertools.pairwise(states):
                weight *= (p.learn if b else 1 - p.learn) if a == 0 else 1.0
            for s, o in zip(states, seq, strict=True):
                weight *= ((1 - p.slip) if o else p.slip) if s else (p.guess if o else 1 - p.guess)
            paths.append((states, weight))
        total = sum(w for _, w in paths)
        for states, w in paths:
            r = w / total
            prior_num += r * states[0]
            for a, b in itertools.pairwise(states):
                learn_den += r * (a == 0)
                learn_num += r * (a == 0 and b == 1)
            for s, o in zip(states, seq, strict=True):
                if s:
                    slip_den += r
                    slip_num += r * (o == 0)
                else:
                    guess_den += r
                    guess_num += r * (o == 1)
    return BktParams(
        prior=prior_num / len(sequences),
        learn=learn_num / learn_den,
        slip=slip_num / slip_den,
        guess=guess_num / guess_den,
    )


def test_one_em_step_matches_enumeration() -> None:
    sequences = [[0, 0, 1, 1], [1, 1, 1], [0, 1, 0, 1], [0, 0], [1]]
    expected = _brute_force_em_step(sequences, P)
    got = fit_bkt(pad_sequences(sequences), P, max_iterations=1).params
    for name in ("prior", "learn", "slip", "guess"):
        assert getattr(got, name) == pytest.approx(getattr(expected, name)), name


def test_parameters_are_recovered_from_synthetic_data() -> None:
    truth = BktParams(prior=0.3, learn=0.12, slip=0.08, guess=0.22)
    obs = sample_bkt(truth, learners=3000, steps=15, rng=np.random.default_rng(5))
    fit = fit_bkt(obs)
    assert fit.converged
    for name in ("prior", "learn", "slip", "guess"):
        assert getattr(fit.params, name) == pytest.approx(getattr(truth, name), abs=0.03), name
    # EM never lowers the likelihood: the fit beats the truth's and the defaults'
    assert fit.log_likelihood >= log_likelihood(obs, truth) - 1e-6
    assert fit.log_likelihood > log_likelihood(obs, P)


def test_unequal_lengths_fit_like_their_own_sequences() -> None:
    """Padding contributes nothing: sequences of mixed length give the likelihood of each
    sequence alone, summed."""
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 2, size=n).tolist() for n in (1, 3, 7, 2)]
    alone = sum(log_likelihood(pad_sequences([s]), P) for s in seqs)
    assert log_likelihood(pad_sequences(seqs), P) == pytest.approx(alone)


def _simulate_like_pybkt_tests(
    seed: int, students: int, attempts: int, p: BktParams
) -> list[list[int]]:
    """Draws in the order pyBKT's test suite documents for its simulated students (numpy's
    default_rng(seed)): per student one draw for the start state, then per attempt one draw
    for the answer and one for the transition (a known student draws too, against forget 0)."""
    rng = np.random.default_rng(seed)
    sequences = []
    for _ in range(students):
        known = rng.random() < p.prior
        seq = []
        for _ in range(attempts):
            seq.append(int(rng.random() >= p.slip) if known else int(rng.random() < p.guess))
            known = (rng.random() >= 0.0) if known else (rng.random() < p.learn)
        sequences.append(seq)
    return sequences


def test_agrees_with_pybkt_on_its_reference_data() -> None:
    """pyBKT's EM parity reference (its repository's tests/reference/em_parity.json, case
    "default": 200 simulated students × 8 attempts from prior 0.3, learn 0.2, guess 0.2, slip
    0.1, seed 1; 20 EM iterations from a random start) against our EM run to convergence on
    the same draws: equal within 0.001 (pyBKT stops after 20 iterations, from another start)."""
    truth = BktParams(prior=0.3, learn=0.2, slip=0.1, guess=0.2)
    obs = pad_sequences(_simulate_like_pybkt_tests(1, 200, 8, truth))
    pybkt = {
        "prior": 0.24569921910455528,
        "learn": 0.1983087679584191,
        "guess": 0.2054166610251747,
        "slip": 0.11062105583972617,
    }
    fit = fit_bkt(obs, max_iterations=2000, tolerance=1e-12)
    assert fit.converged
    for name, value in pybkt.items():
        assert getattr(fit.params, name) == pytest.approx(value, abs=1e-3), name
