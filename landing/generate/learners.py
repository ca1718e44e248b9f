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


@dataclass(frozen=True)
class StudyRules:
    """The thresholds of a simulated study day, stated once (`MemorySimulation.day`).

    Sessions: at least `min_session` attempts (else Poisson around the learner's mean); new
    words `first_day_new_words` on the first day, else Poisson(`new_words_mean`), at most a third
    of the session; each new word is attempted twice (recognition, then recall). A review picks
    the most due of `review_candidates` words seen so far: the one whose recall is nearest
    `scheduler_recall`, as an app's scheduler would.

    Recall: `new_word_recall` on a word's first meeting, exp(-t / S) on the first attempt of the
    day at a seen word, `same_day_recall` on a repeat within the day; recognition steps are
    multiple choice, so a guess passes with `guess_rate`.

    Response times: the step's base time x exp(`weak_memory_slowdown` x (1 - recall)) x
    lognormal(0, `time_sigma`), x `wrong_slowdown` when wrong; with probability `afk_rate` the
    learner walks away for `afk_ms`; clipped to `response_ms`; `between_ms` passes between
    answers. A session starts near the preferred hour, `start_jitter_hours` standard deviation.

    Memory (stability S, days): a new word starts at `new_stability` (passed, failed); a passed
    review multiplies S by `grow_base` + `grow_range` x sigmoid(ability - difficulty), and by
    1 + `weak_recall_bonus` x (1 - recall); a lapse multiplies it by `lapse_shrink`, never below
    `min_stability`.
    """

    min_session: int = 5
    first_day_new_words: int = 6
    new_words_mean: float = 3.0
    review_candidates: int = 4
    scheduler_recall: float = 0.8
    new_word_recall: float = 0.45
    same_day_recall: float = 0.93
    guess_rate: float = 0.25
    weak_memory_slowdown: float = 0.9
    time_sigma: float = 0.35
    wrong_slowdown: float = 1.25
    afk_rate: float = 0.004
    afk_ms: tuple[float, float] = (10_000, 90_000)
    response_ms: tuple[float, float] = (250, 600_000)
    between_ms: tuple[float, float] = (800, 4000)
    start_jitter_hours: float = 0.7
    new_stability: tuple[float, float] = (2.0, 0.8)
    grow_base: float = 1.8
    grow_range: float = 1.4
    weak_recall_bonus: float = 0.3
    lapse_shrink: float = 0.4
    min_stability: float = 0.5


@dataclass(frozen=True)
class _Session:
    """The attempts of one day's sessions, in the order they are made: `owner` indexes the
    day's active enrollments; `is_new` marks the two attempts of a newly introduced word."""

    owner: np.ndarray
    word: np.ndarray
    step: np.ndarray
    is_new: np.ndarray
    n_new: np.ndarray  # new words per active enrollment


class MemorySimulation:
    """Card memory for one block of enrollments over a vocabulary of `n_words` per language."""

    def __init__(
        self,
        enrollments: Enrollments,
        difficulty: np.ndarray,
        n_words: np.ndarray,
        rng: np.random.Generator,
        rules: StudyRules = StudyRules(),
    ) -> None:
        self.e = enrollments
        self.difficulty = difficulty  # [n_languages, max_words]
        self.n_words = n_words  # words per language
        self.rng = rng
        self.rules = rules
        shape = (enrollments.size, difficulty.shape[1])
        self.last_t = np.full(shape, np.nan)
        self.stability = np.ones(shape)
        self.next_new = np.zeros(enrollments.size, dtype=np.int64)

    def day(self, d: int) -> dict[str, np.ndarray]:
        """The attempts of every enrollment that studies on day `d` (times in fractional days).
        The random draws happen in a fixed order, so a seed gives the same landing."""
        e = self.e
        active = np.flatnonzero(
            (e.start_day <= d) & (d < e.drop_day) & (self.rng.random(e.size) < e.p_day)
        )
        if len(active) == 0:
            return {}
        session = self._session(d, active)
        owner, word, step, is_new = session.owner, session.word, session.step, session.is_new
        enr = active[owner]
        lang = e.language[enr]
        first_seen = np.zeros(len(owner), bool)  # the first attempt of each card this day
        _, first_idx = np.unique(enr.astype(np.int64) * 1_000_000 + word, return_index=True)
        first_seen[first_idx] = True
        start = d + self._start_hours(active) / 24.0
        recall = self._recall(enr, word, is_new, first_seen, start[owner])
        correct, rt = self._answer(enr, lang, word, step, recall)
        t = start[owner] + self._offsets_ms(owner, rt, len(active)) / 86_400_000.0
        self._remember(
            enr[first_seen],
            lang[first_seen],
            word[first_seen],
            is_new[first_seen],
            correct[first_seen],
            recall[first_seen],
        )
        self.last_t[enr, word] = t
        np.add.at(self.next_new, active, session.n_new)
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

    def _session(self, d: int, active: np.ndarray) -> _Session:
        """Which words each active enrollment attempts, with which step, in which order."""
        e, rng, rules = self.e, self.rng, self.rules
        size = np.maximum(rules.min_session, rng.poisson(e.session_mean[active]))
        room = self.n_words[e.language[active]] - self.next_new[active]
        usual = rng.poisson(rules.new_words_mean, len(active))
        n_new = np.minimum(
            room, np.where(d == e.start_day[active], rules.first_day_new_words, usual)
        )
        n_new = np.minimum(n_new, size // 3)
        seen = self.next_new[active]
        n_rev = np.where(seen > 0, size - 2 * n_new, 0)
        # New words: two attempts each (recognition, then recall). Reviews: one attempt, the
        # most "due" of the candidates among the words seen so far; irregular learners still
        # meet overdue words.
        new_owner = np.repeat(np.arange(len(active)), n_new)
        new_word = seen[new_owner] + _segment_rank(new_owner)
        rev_owner = np.repeat(np.arange(len(active)), n_rev)
        t_now = d + e.hour[active][rev_owner] / 24.0
        draws = rng.random((rules.review_candidates, len(rev_owner)))
        cand = (draws * seen[rev_owner]).astype(np.int64)
        cand_recall = np.exp(
            -(t_now - self.last_t[active[rev_owner], cand])
            / self.stability[active[rev_owner], cand]
        )
        nearest = np.abs(np.nan_to_num(cand_recall, nan=0.0) - rules.scheduler_recall)
        rev_word = cand[np.argmin(nearest, axis=0), np.arange(len(rev_owner))]
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
        return _Session(owner[order], word[order], step[order], is_new[order], n_new)

    def _start_hours(self, active: np.ndarray) -> np.ndarray:
        """Each active enrollment's session start: near its preferred hour."""
        jitter = self.rng.normal(0, self.rules.start_jitter_hours, len(active))
        return np.clip(self.e.hour[active] + jitter, 0.0, 23.5)

    def _recall(
        self,
        enr: np.ndarray,
        word: np.ndarray,
        is_new: np.ndarray,
        first_seen: np.ndarray,
        start: np.ndarray,
    ) -> np.ndarray:
        """Each attempt's recall: a new word's, the decayed memory's, or a same-day repeat's."""
        rules = self.rules
        prev_t = self.last_t[enr, word]
        elapsed = np.where(np.isnan(prev_t), np.inf, start - prev_t)
        decayed = np.exp(-elapsed / self.stability[enr, word])
        return np.where(
            is_new & first_seen,
            rules.new_word_recall,
            np.where(first_seen, decayed, rules.same_day_recall),
        )

    def _answer(
        self,
        enr: np.ndarray,
        lang: np.ndarray,
        word: np.ndarray,
        step: np.ndarray,
        recall: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(correct, response time in ms) of each attempt."""
        e, rng, rules = self.e, self.rng, self.rules
        logit = _logit(recall) + e.ability[enr] - self.difficulty[lang, word] + STEP_EASE[step]
        p = _sigmoid(logit)
        p = np.where(step == 0, rules.guess_rate + (1 - rules.guess_rate) * p, p)
        correct = rng.random(len(p)) < p
        slowdown = np.exp(rules.weak_memory_slowdown * (1.0 - recall))
        rt = STEP_BASE_MS[step] * slowdown * rng.lognormal(0.0, rules.time_sigma, len(p))
        rt = np.where(correct, rt, rt * rules.wrong_slowdown)
        afk = rng.random(len(p)) < rules.afk_rate
        rt = np.where(afk, rt + rng.uniform(*rules.afk_ms, len(p)), rt)
        return correct, np.clip(rt, *rules.response_ms)

    def _offsets_ms(self, owner: np.ndarray, rt: np.ndarray, sessions: int) -> np.ndarray:
        """Each attempt's time after its session's start (ms): answers follow one another."""
        gap_ms = rt + self.rng.uniform(*self.rules.between_ms, len(rt))
        cum = np.cumsum(gap_ms)
        rank = _segment_rank(owner)
        seg_start = cum - gap_ms
        base_by_owner = np.zeros(sessions)
        base_by_owner[owner[rank == 0]] = seg_start[rank == 0]
        return cum - base_by_owner[owner]

    def _remember(
        self,
        enr: np.ndarray,
        lang: np.ndarray,
        word: np.ndarray,
        is_new: np.ndarray,
        correct: np.ndarray,
        recall: np.ndarray,
    ) -> None:
        """Update the stability of each card from its first attempt of the day."""
        rules = self.rules
        s_old = self.stability[enr, word]
        fit = _sigmoid(self.e.ability[enr] - self.difficulty[lang, word])
        grow = rules.grow_base + rules.grow_range * fit
        passed, failed = rules.new_stability
        self.stability[enr, word] = np.where(
            is_new,
            np.where(correct, passed, failed),
            np.where(
                correct,
                s_old * grow * (1.0 + rules.weak_recall_bonus * (1 - recall)),
                np.maximum(rules.min_stability, s_old * rules.lapse_shrink),
            ),
        )
