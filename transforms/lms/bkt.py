"""Bayesian Knowledge Tracing (Corbett & Anderson 1995): a two-state hidden Markov model per
skill, fitted by expectation-maximisation over every learner's sequence at once.

A learner either knows the skill or not; `prior` is P(known) before the first opportunity,
`learn` the chance of coming to know it at each opportunity (no forgetting), `slip` the chance
of answering wrongly while knowing it, `guess` of answering rightly while not. The knowledge
estimate after opportunity n is Corbett & Anderson's

    P(L_n | obs_n) = P(L_{n-1})·(1−slip) / (P(L_{n-1})·(1−slip) + (1−P(L_{n-1}))·guess)
                     (correct; for a wrong answer slip and 1−guess instead)
    P(L_n)         = P(L_n | obs_n) + (1 − P(L_n | obs_n))·learn,

which is what `mastery_path` returns. `fit_bkt` is Baum-Welch (scaled forward-backward) with
all sequences in one padded matrix, so each step is a numpy operation over every learner.
pyBKT is not on the package index this project installs from; this is the same model (no
forgetting, one parameter set per skill) as its default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PAD = -1  # a padded (absent) observation
PROBABILITY_FLOOR = 1e-6
GUESS_SLIP_CEILING = 0.5  # keeps "knows it" meaning "answers better": no label switching


@dataclass(frozen=True)
class BktParams:
    prior: float = 0.2
    learn: float = 0.15
    slip: float = 0.1
    guess: float = 0.2


DEFAULT_PARAMS = BktParams()


@dataclass(frozen=True)
class BktFit:
    params: BktParams
    log_likelihood: float
    iterations: int
    converged: bool


def pad_sequences(sequences: list[npt.ArrayLike]) -> npt.NDArray[np.int8]:
    """Sequences of 0/1 outcomes as one (learners × longest) int8 matrix padded with -1."""
    longest = max((len(np.asarray(s)) for s in sequences), default=0)
    out = np.full((len(sequences), longest), PAD, dtype=np.int8)
    for i, seq in enumerate(sequences):
        values = np.asarray(seq, dtype=np.int8)
        out[i, : len(values)] = values
    return out


def _emission(obs: npt.NDArray[np.int8], p: BktParams) -> npt.NDArray[np.float64]:
    """(learners, steps, 2): P(observation | unknown), P(observation | known); 1 on padding."""
    correct = obs == 1
    out = np.ones((*obs.shape, 2))
    out[..., 0] = np.where(correct, p.guess, 1 - p.guess)
    out[..., 1] = np.where(correct, 1 - p.slip, p.slip)
    out[obs == PAD] = 1.0
    return out


def _forward_backward(
    obs: npt.NDArray[np.int8], p: BktParams
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """Scaled forward-backward: (gamma (n, T, 2), xi_learn (n, T): P(unknown at t, known at
    t+1 | all), xi_from_unknown weight is gamma[...,0]; log-likelihood)."""
    n, steps = obs.shape
    valid = obs != PAD
    emit = _emission(obs, p)
    trans = np.array([[1 - p.learn, p.learn], [0.0, 1.0]])
    alpha = np.zeros((n, steps, 2))
    scale = np.ones((n, steps))
    a = np.array([1 - p.prior, p.prior]) * emit[:, 0]
    for t in range(steps):
        if t > 0:
            a = np.where(valid[:, t, None], (alpha[:, t - 1] @ trans) * emit[:, t], alpha[:, t - 1])
        c = a.sum(axis=1)
        c = np.where(valid[:, t], c, 1.0)
        a = np.where(valid[:, t, None], a / c[:, None], a)
        alpha[:, t] = a
        scale[:, t] = c
    beta = np.ones((n, steps, 2))
    for t in range(steps - 2, -1, -1):
        nxt = valid[:, t + 1]
        b = (emit[:, t + 1] * beta[:, t + 1]) @ trans.T / scale[:, t + 1, None]
        beta[:, t] = np.where(nxt[:, None], b, 1.0)
    gamma = alpha * beta
    gamma /= gamma.sum(axis=2, keepdims=True)
    xi = np.zeros((n, steps))
    if steps > 1:
        nxt = valid[:, 1:]
        learned = alpha[:, :-1, 0] * p.learn * emit[:, 1:, 1] * beta[:, 1:, 1] / scale[:, 1:]
        xi[:, :-1] = np.where(nxt, learned, 0.0)
    log_likelihood = float(np.log(scale[valid]).sum())
    return gamma, xi, scale, log_likelihood


def _clip(value: float, high: float = 1 - PROBABILITY_FLOOR) -> float:
    return float(min(max(value, PROBABILITY_FLOOR), high))


def fit_bkt(
    obs: npt.NDArray[np.int8],
    start: BktParams = DEFAULT_PARAMS,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> BktFit:
    """Maximum-likelihood BKT parameters for every learner's padded sequence (`pad_sequences`)
    by EM from `start`; guess and slip stay below 0.5."""
    valid = obs != PAD
    if not valid.any():
        return BktFit(start, 0.0, 0, True)
    p = start
    previous = -np.inf
    correct = obs == 1
    wrong = obs == 0
    has_next = np.zeros_like(valid)
    has_next[:, :-1] = valid[:, 1:]
    for iteration in range(1, max_iterations + 1):
        gamma, xi, _, log_likelihood = _forward_backward(obs, p)
        unknown = gamma[..., 0]
        known = gamma[..., 1]
        p = BktParams(
            prior=_clip(float(gamma[:, 0, 1].mean())),
            learn=_clip(float(xi.sum() / max(unknown[has_next].sum(), PROBABILITY_FLOOR))),
            slip=_clip(
                float(known[wrong].sum() / max(known[valid].sum(), PROBABILITY_FLOOR)),
                GUESS_SLIP_CEILING,
            ),
            guess=_clip(
                float(unknown[correct].sum() / max(unknown[valid].sum(), PROBABILITY_FLOOR)),
                GUESS_SLIP_CEILING,
            ),
        )
        if abs(log_likelihood - previous) < tolerance:
            return BktFit(p, log_likelihood, iteration, True)
        previous = log_likelihood
    return BktFit(p, float(previous), max_iterations, False)


def log_likelihood(obs: npt.NDArray[np.int8], p: BktParams) -> float:
    """The log-likelihood of the padded sequences under `p`."""
    return _forward_backward(obs, p)[3]


def mastery_path(obs: npt.NDArray[np.int8], p: BktParams) -> npt.NDArray[np.float64]:
    """(learners, steps): P(L_n) after each observation (Corbett & Anderson's update, see the
    module docstring); NaN on padding."""
    n, steps = obs.shape
    out = np.full((n, steps), np.nan)
    known = np.full(n, p.prior)
    for t in range(steps):
        o = obs[:, t]
        right = known * (1 - p.slip) / (known * (1 - p.slip) + (1 - known) * p.guess)
        wrong = known * p.slip / (known * p.slip + (1 - known) * (1 - p.guess))
        posterior = np.where(o == 1, right, wrong)
        updated = posterior + (1 - posterior) * p.learn
        known = np.where(o == PAD, known, updated)
        out[:, t] = np.where(o == PAD, np.nan, updated)
    return out


def sample_bkt(
    p: BktParams, learners: int, steps: int, rng: np.random.Generator
) -> npt.NDArray[np.int8]:
    """Sequences drawn from the model (for parameter-recovery tests and benchmarks)."""
    known = rng.random(learners) < p.prior
    obs = np.empty((learners, steps), dtype=np.int8)
    for t in range(steps):
        right = np.where(known, rng.random(learners) >= p.slip, rng.random(learners) < p.guess)
        obs[:, t] = right
        known = known | (rng.random(learners) < p.learn)
    return obs
