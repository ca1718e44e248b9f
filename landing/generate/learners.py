"""Simulated learners: abilities, study habits, drop-off, and memory that decays between reviews.

Each enrollment (a learner in one language) has an ability, a probability of studying on a given
day, a session length, a preferred hour and a week of dropping off whose hazard depends on its
cohort. Each word has a difficulty. Recall of a word decays as exp(-t / S) since it was last
studied; the stability S grows with each successful review and shrinks on a lapse. Response
times are longer for weaker memories. Sessions mix step types, introduce new words in course
order and repeat words within the session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

STEP_TYPES = ("meaningMcq", "listening", "typing", "lightning")
STEP_EASE = np.array([0.9, 0.1, -0.5, 0.3])  # logit bonus per step type
STEP_BASE_MS = np.array([2600.0, 3800.0, 6500.0, 1300.0])
STEP_WEIGHTS = np.array([0.35, 0.2, 0.25, 0.2])


@dataclass(frozen=True)
class Enrollments:
    """One row per (learner, language) studied, for one block of learners."""

    user_index: np.ndarray  # global learner number
    language: np.ndarray  # index into the course list
    ability: np.ndarray
    p_day: np.ndarray
    session_mean: np.ndarray
    start_day: np.ndarray
    drop_day: np.ndarray
    hour: np.ndarray
    cohort: np.ndarray  # index into cohorts, -1 = none

    @property
    def size(self) -> int:
        return len(self.user_index)


def uuids(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` random version-4 UUID strings, vectorized."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(b"0123456789abcdef", dtype="S1")
    nibbles = np.stack([raw >> 4, raw & 0x0F], axis=2).reshape(n, 32)
    chars = digits[nibbles]
    dash = np.full((n, 1), b"-", dtype="S1")
    parts = [chars[:, a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    joined = np.concatenate(
        [parts[0], dash, parts[1], dash, parts[2], dash, parts[3], dash, parts[4]], axis=1
    )
    return pl.Series(np.ascontiguousarray(joined).view("S36").ravel().astype("U36"))


def enroll(
    rng: np.random.Generator,
    first_user: int,
    n_users: int,
    n_languages: int,
    days: int,
    cohort_hazard: np.ndarray,
    cohort_language: np.ndarray,
) -> Enrollments:
    """Learners of one block; about one in ten studies a second language."""
    users = np.arange(first_user, first_user + n_users)
    language = rng.integers(0, n_languages, n_users)
    second = rng.random(n_users) < 0.1
    user_index = np.concatenate([users, users[second]])
    language = np.concatenate([language, (language[second] + 1) % n_languages])
    n = len(user_index)
    # Two thirds of enrollments belong to a class of their language; the others to none.
    cohort = np.full(n, -1)
    in_class = rng.random(n) < 0.66
    for lang in range(n_languages):
        classes = np.flatnonzero(cohort_language == lang)
        pick = in_class & (language == lang)
        if len(classes):
            cohort[pick] = rng.choice(classes, pick.sum())
    hazard = np.where(cohort >= 0, cohort_hazard[np.maximum(cohort, 0)], 0.09)
    start_day = rng.integers(0, max(1, int(days * 0.7)), n)
    weeks = rng.geometric(hazard)  # weeks of study before dropping off
    return Enrollments(
        user_index=user_index,
        language=language,
        ability=rng.normal(0.0, 0.8, n),
        p_day=rng.beta(3.0, 2.0, n),
        session_mean=rng.uniform(12, 40, n),
        start_day=start_day,
        drop_day=start_day + 7 * weeks,
        hour=np.clip(rng.normal(18.0, 3.0, n), 6.0, 23.0),
        cohort=cohort,
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.02, 0.98)
    return np.log(p / (1.0 - p))


def _segment_rank(owner: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal, sorted `owner` values."""
    n = len(owner)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


class MemorySimulation:
    """Card memory for one block of enrollments over a vocabulary of `n_words` per language."""

    def __init__(
        self,
        enrollments: Enrollments,
        difficulty: np.ndarray,
        n_words: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.e = enrollments
        self.difficulty = difficulty  # [n_languages, max_words]
        self.n_words = n_words  # words per language
        self.rng = rng
        shape = (enrollments.size, difficulty.shape[1])
        self.last_t = np.full(shape, np.nan)
        self.stability = np.ones(shape)
        self.next_new = np.zeros(enrollments.size, dtype=np.int64)

    def day(self, d: int) -> dict[str, np.ndarray]:
        """The attempts of every enrollment that studies on day `d` (times in fractional days)."""
        e, rng = self.e, self.rng
        active = np.flatnonzero(
            (e.start_day <= d) & (d < e.drop_day) & (rng.random(e.size) < e.p_day)
        )
        if len(active) == 0:
            return {}
        size = np.maximum(5, rng.poisson(e.session_mean[active]))
        room = self.n_words[e.language[active]] - self.next_new[active]
        n_new = np.minimum(room, np.where(d == e.start_day[active], 6, rng.poisson(3, len(active))))
        n_new = np.minimum(n_new, size // 3)
        seen = self.next_new[active]
        n_rev = np.where(seen > 0, size - 2 * n_new, 0)
        # New words: two attempts each (recognition, then recall). Reviews: one attempt, the
        # most "due" of four candidates among the words seen so far (recall nearest 0.8), as
        # an app's scheduler would pick; irregular learners still meet overdue words.
        new_owner = np.repeat(np.arange(len(active)), n_new)
        new_word = seen[new_owner] + _segment_rank(new_owner)
        rev_owner = np.repeat(np.arange(len(active)), n_rev)
        t_now = d + e.hour[active][rev_owner] / 24.0
        cand = (rng.random((4, len(rev_owner))) * seen[rev_owner]).astype(np.int64)
        cand_recall = np.exp(
            -(t_now - self.last_t[active[rev_owner], cand])
            / self.stability[active[rev_owner], cand]
        )
        rev_word = cand[
            np.argmin(np.abs(np.nan_to_num(cand_recall, nan=0.0) - 0.8), axis=0),
            np.arange(len(rev_owner)),
        ]
        owner = np.concatenate([new_owner, new_owner, rev_owner])
        word = np.concatenate([new_word, new_word, rev_word])
        step = np.concatenate(
            [
                np.zeros(len(new_owner), dtype=np.int64),
                rng.choice([1, 2], len(new_owner)),
                rng.choice(4, len(rev_owner), p=STEP_WEIGHTS),
            ]
        )
        is_new = np.concatenate([np.ones(2 * len(new_owner), bool), np.zeros(len(rev_owner), bool)])
        # Shuffle within each session, keeping a new word's recognition before its recall.
        key = rng.random(len(owner))
        recog = slice(0, len(new_owner))
        recall_copy = slice(len(new_owner), 2 * len(new_owner))
        key[recall_copy] = key[recog] + (1.0 - key[recog]) * rng.random(len(new_owner))
        order = np.lexsort((key, owner))
        owner, word, step, is_new = owner[order], word[order], step[order], is_new[order]
        enr = active[owner]
        lang = e.language[enr]
        # Timing: a session starts near the preferred hour; answers follow one another.
        first_seen = np.zeros(len(owner), bool)
        card = enr.astype(np.int64) * 1_000_000 + word
        _, first_idx = np.unique(card, return_index=True)
        first_seen[first_idx] = True
        start = d + np.clip(e.hour[active] + rng.normal(0, 0.7, len(active)), 0.0, 23.5) / 24.0
        prev_t = self.last_t[enr, word]
        elapsed = np.where(np.isnan(prev_t), np.inf, start[owner] - prev_t)
        recall = np.where(
            is_new & first_seen,
            0.45,
            np.where(first_seen, np.exp(-elapsed / self.stability[enr, word]), 0.93),
        )
        logit = _logit(recall) + e.ability[enr] - self.difficulty[lang, word] + STEP_EASE[step]
        p = _sigmoid(logit)
        p = np.where(step == 0, 0.25 + 0.75 * p, p)
        correct = rng.random(len(owner)) < p
        rt = STEP_BASE_MS[step] * np.exp(0.9 * (1.0 - recall)) * rng.lognormal(0.0, 0.35, len(p))
        rt = np.where(correct, rt, rt * 1.25)
        afk = rng.random(len(p)) < 0.004
        rt = np.clip(np.where(afk, rt + rng.uniform(10_000, 90_000, len(p)), rt), 250, 600_000)
        gap_ms = rt + rng.uniform(800, 4000, len(p))
        cum = np.cumsum(gap_ms)
        rank = _segment_rank(owner)
        seg_start = cum - gap_ms
        base_by_owner = np.zeros(len(active))
        base_by_owner[owner[rank == 0]] = seg_start[rank == 0]
        base = base_by_owner[owner]
        t = start[owner] + (cum - base) / 86_400_000.0
        # Memory update from the first attempt of each card this day.
        upd = first_seen
        s_old = self.stability[enr[upd], word[upd]]
        grow = 1.8 + 1.4 * _sigmoid(e.ability[enr[upd]] - self.difficulty[lang[upd], word[upd]])
        s_new = np.where(
            is_new[upd],
            np.where(correct[upd], 2.0, 0.8),
            np.where(
                correct[upd],
                s_old * grow * (1.0 + 0.3 * (1 - recall[upd])),
                np.maximum(0.5, s_old * 0.4),
            ),
        )
        self.stability[enr[upd], word[upd]] = s_new
        self.last_t[enr, word] = t
        np.add.at(self.next_new, active, n_new)
        return {
            "enrollment": enr,
            "language": lang,
            "word": word,
            "step": step,
            "correct": correct,
            "response_time_ms": rt.astype(np.int64),
            "t": t,
            "session_owner": owner,
        }
