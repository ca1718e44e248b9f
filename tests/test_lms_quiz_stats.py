"""quiz_stats and quiz_item_stats on a 5-learner × 4-question quiz, worked out by hand.

Course "qz", quiz qz/m1/q (questions a: 1 point, 4 options; b: 1 point; c: 2 points, partial
credit; d: 1 point that everyone gets — the constant item), quiz qz/m1/q2 (one completed attempt
in all). Marks per completed attempt, in order (T = total of 5 points):

          a  b  c  d   T
    L1-1  1  0  1  1   3      L1-2  1  1  2  1   5   (better: highest and last)
    L2-1  1  1  2  1   5      L2-2  0  0  0  1   1   (worse: highest is the first, last the second)
    L3-1  0  0  -  1   1      (c unanswered: 0 points)
    L4-1  1  1  1  1   4      L4-2  1  1  1  1   4   (a tie: highest is the earliest)
    L5-1  0  1  2  1   4      L5-2 started, never submitted: not counted

Quiz q2: only L1 completes it (1 attempt): every statistic that needs a variance is null.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from math import sqrt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lms_quiz_events import event_frame, question, quiz_event, tree_inputs
from transforms.lms.assessment import build_assessment_tables
from transforms.lms.progress import LmsInputs
from transforms.lms.quiz_stats import quiz_statistics

Q, Q2 = "qz/m1/q", "qz/m1/q2"
POINTS = {"a": 1, "b": 1, "c": 2, "d": 1}
QUIZ_COURSE = {
    "course": "qz",
    "title": "Quiz statistics",
    "version": 1,
    "publishedAt": "2026-01-01T00:00:00Z",
    "modules": [
        {
            "id": "qz/m1",
            "title": "One",
            "lessons": [
                {
                    "id": Q,
                    "kind": "quiz",
                    "title": "Q",
                    "passPercent": 60,
                    "questions": [
                        {"id": f"{Q}/{k}", "maxPoints": p, **({"options": 4} if k == "a" else {})}
                        for k, p in POINTS.items()
                    ],
                },
                {
                    "id": Q2,
                    "kind": "quiz",
                    "title": "Q2",
                    "questions": [{"id": f"{Q2}/x", "maxPoints": 1}, {"id": f"{Q2}/y"}],
                },
            ],
        }
    ],
}
# (learner, attempt) -> marks of a, b, c, d (None: unanswered); in start order.
MARKS: dict[tuple[str, int], list[float | None]] = {
    ("L1", 1): [1, 0, 1, 1],
    ("L2", 1): [1, 1, 2, 1],
    ("L3", 1): [0, 0, None, 1],
    ("L4", 1): [1, 1, 1, 1],
    ("L5", 1): [0, 1, 2, 1],
    ("L1", 2): [1, 1, 2, 1],
    ("L2", 2): [0, 0, 0, 1],
    ("L4", 2): [1, 1, 1, 1],
}
AS_OF = datetime(2026, 2, 1)


def quiz_rows() -> list[dict]:
    rows: list[dict] = []
    start = datetime(2026, 1, 10)
    for i, ((learner, number), marks) in enumerate(MARKS.items()):
        at = start + timedelta(days=i)
        attempt = f"{learner}-{number}"
        rows.append(quiz_event(len(rows), learner, at, "quiz_started", attempt, Q))
        for j, (key, mark) in enumerate(zip(POINTS, marks, strict=True)):
            if mark is None:
                continue
            node, points = f"{Q}/{key}", POINTS[key]
            minute = at + timedelta(minutes=j + 1)
            rows.append(
                question(len(rows), learner, minute, node, attempt, mark, mark == points, points)
            )
        rows.append(
            quiz_event(len(rows), learner, at + timedelta(minutes=9), "quiz_submitted", attempt, Q)
        )
    late = datetime(2026, 1, 31, 12)  # 12 h before the as-of time: in progress
    rows.append(quiz_event(len(rows), "L5", late, "quiz_started", "L5-2", Q))
    rows.append(question(len(rows), "L5", late, f"{Q}/a", "L5-2", 1, True))
    once = datetime(2026, 1, 20)
    rows.append(quiz_event(len(rows), "L1", once, "quiz_started", "only", Q2))
    rows.append(question(len(rows), "L1", once, f"{Q2}/x", "only", 1, True))
    rows.append(
        quiz_event(len(rows), "L1", once + timedelta(minutes=1), "quiz_submitted", "only", Q2)
    )
    return [{**row, "course_id": "qz"} for row in rows]


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    tree = tree_inputs(tmp_path_factory.mktemp("stats"), [QUIZ_COURSE])
    events = event_frame(tree.events, quiz_rows())
    return build_assessment_tables(LmsInputs(tree.versions, tree.nodes, events, tree.paths), AS_OF)


def item(tables: dict[str, pl.DataFrame], basis: str, key: str, quiz: str = Q) -> dict:
    rows = tables["quiz_item_stats"].filter(basis=basis, question_id=f"{quiz}/{key}").to_dicts()
    assert len(rows) == 1
    return rows[0]


def quiz(tables: dict[str, pl.DataFrame], basis: str, quiz_id: str = Q) -> dict:
    rows = tables["quiz_stats"].filter(basis=basis, quiz_id=quiz_id).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_quiz_totals_first_attempts(tables: dict[str, pl.DataFrame]) -> None:
    """T = 3, 5, 1, 4, 4: mean 3.4 (68% of 5 points), median 4 (80%). Deviations −0.4, 1.6,
    −2.4, 0.6, 0.6: Σd² = 0.16 + 2.56 + 5.76 + 0.36 + 0.36 = 9.2, m₂ = 1.84, k₂ = 9.2/4 = 2.3,
    sd = √2.3 points (× 20 = 30.33%). Σd³ = −0.064 + 4.096 − 13.824 + 0.216 + 0.216 = −9.36,
    m₃ = −1.872, k₃ = 25 · −1.872 / (4 · 3) = −3.9, skewness = −3.9 / 2.3^1.5. Σd⁴ = 0.0256 +
    6.5536 + 33.1776 + 0.1296 + 0.1296 = 40.016, m₄ = 8.0032, k₄ = 25 · (6 · 8.0032 − 3 · 4 ·
    1.84²) / (4 · 3 · 2) = 25 · 7.392 / 24 = 7.7, kurtosis = 7.7 / 2.3² = 1.4556.
    Item variances: a 1.2/4 = 0.3, b 0.3, c 2.8/4 = 0.7, d 0: Σ = 1.3; alpha = 4/3 · (1 −
    1.3/2.3) = 4/6.9; error ratio = 100 · √(1 − 4/6.9); standard error = ratio/100 · sd."""
    got = quiz(tables, "first")
    alpha = 4 / 6.9
    expected = {
        "n": 5,
        "questions": 4,
        "max_points": 5.0,
        "mean": 68.0,
        "median": 80.0,
        "sd": sqrt(2.3) * 20,
        "skewness": -3.9 / 2.3**1.5,
        "kurtosis": 7.7 / 2.3**2,
        "cronbach_alpha": alpha,
        "error_ratio": 100 * sqrt(1 - alpha),
        "standard_error": sqrt(1 - alpha) * sqrt(2.3) * 20,
    }
    assert {k: got[k] for k in expected} == pytest.approx(expected)
    assert got["course_id"] == "qz"


def test_items_first_attempts(tables: dict[str, pl.DataFrame]) -> None:
    """a: x = 1 1 0 1 0 (mean 0.6, var 0.3), rest r = T − x = 2 4 1 3 4 (mean 2.8, Σ(r−r̄)² =
    6.8, var 1.7); Σ(x−x̄)(r−r̄) = −0.32 + 0.48 + 1.08 + 0.08 − 0.72 = 0.6, cov 0.15; index =
    100 · 0.15 / √(0.3 · 1.7). Sorted x 0 0 1 1 1 with sorted r 1 2 3 4 4: Σ = 1.08 + 0.48 +
    0.08 + 0.48 + 0.48 = 2.6, covmax 0.65, efficiency = 100 · 0.15 / 0.65.
    b: x = 0 1 0 1 1, r = 3 4 1 3 3 (var 4.8/4 = 1.2), cov 1.6/4 = 0.4: index 100 · 0.4 / √(0.3
    · 1.2) = 66.7; sorted r 1 3 3 3 4 gives covmax 0.4: efficiency 100.
    c (2 points): x = 1 2 0 1 2 (mean 1.2, var 0.7), r = 2 3 1 3 2 (var 0.7), cov 1.8/4 = 0.45:
    index 100 · 0.45 / 0.7; sorted x 0 1 1 2 2 and r 1 2 2 3 3 covary 0.7: efficiency the same.
    facility 1.2 / 2 = 0.6, sd √0.7 / 2. L3 left it unanswered, L1 and L4 got partial credit.
    d: everyone right: facility 1, sd 0, no index or efficiency (zero variance)."""
    a, b, c, d = (item(tables, "first", k) for k in "abcd")
    cols = ["n", "facility", "sd", "random_guess", "discrimination_index"]
    assert [a[k] for k in cols] == pytest.approx([5, 0.6, sqrt(0.3), 0.25, 15 / sqrt(0.51)])
    assert a["discriminative_efficiency"] == pytest.approx(100 * 0.15 / 0.65)
    assert (b["discrimination_index"], b["discriminative_efficiency"]) == pytest.approx(
        (40 / 0.6, 100.0)
    )
    assert b["random_guess"] is None  # no options: not guessable
    assert (c["facility"], c["sd"]) == pytest.approx((0.6, sqrt(0.7) / 2))
    assert (c["discrimination_index"], c["discriminative_efficiency"]) == pytest.approx(
        (45 / 0.7, 45 / 0.7)
    )
    assert (c["full_credit"], c["partial_credit"], c["no_credit"], c["unanswered"]) == (2, 2, 0, 1)
    assert (a["full_credit"], a["no_credit"], a["unanswered"]) == (3, 2, 0)
    assert (d["facility"], d["sd"], d["discrimination_index"]) == (1.0, 0.0, None)
    assert d["discriminative_efficiency"] is None
    assert tables["quiz_item_stats"]["flags"].null_count() == tables["quiz_item_stats"].height


def test_other_bases(tables: dict[str, pl.DataFrame]) -> None:
    """highest: L1-2 (5), L2-1 (5 > 1), L3-1, L4-1 (tie 4 = 4: the earliest), L5-1: T = 5 5 1 4
    4, mean 3.8 (76%), median 4 (80%); facility a = (1+1+0+1+0)/5, c = (2+2+0+1+2)/(5·2) = 0.7.
    last: L1-2, L2-2, L3-1, L4-2, L5-1: T = 5 1 1 4 4, mean 3 (60%), Σd² = 4+4+4+1+1 = 14, k₂ =
    3.5; items a 1 0 0 1 0 (var 1.2/4 = 0.3), b 1 0 0 1 1 (0.3), c 2 0 0 1 2 (mean 1, var 4/4 =
    1), d 0: alpha = 4/3 · (1 − 1.6/3.5) = 7.6/10.5.
    all: 8 attempts, T sum 17 + 5 + 1 + 4 = 27, mean 3.375 (67.5%); facility a = (3 + 1 + 0 +
    1)/8 = 0.625. L5's unsubmitted attempt counts in no basis."""
    high, last, every = (quiz(tables, b) for b in ("highest", "last", "all"))
    assert (high["n"], high["mean"], high["median"]) == (5, pytest.approx(76.0), 80.0)
    assert item(tables, "highest", "a")["facility"] == pytest.approx(0.6)
    assert item(tables, "highest", "c")["facility"] == pytest.approx(0.7)
    assert (last["n"], last["mean"], last["median"]) == (5, pytest.approx(60.0), 80.0)
    assert last["sd"] == pytest.approx(sqrt(3.5) * 20)
    assert last["cronbach_alpha"] == pytest.approx(7.6 / 10.5)
    assert item(tables, "last", "a")["facility"] == pytest.approx(0.4)
    assert (every["n"], every["mean"]) == (8, pytest.approx(67.5))
    assert item(tables, "all", "a")["facility"] == pytest.approx(0.625)
    assert tables["quiz_stats"]["basis"].to_list() == ["first", "highest", "last", "all"] * 2


def test_a_single_attempt_gives_nulls_not_errors(tables: dict[str, pl.DataFrame]) -> None:
    """q2: L1 answers x right and leaves y: n = 1, facility x 1 and y 0, mean 50%; nothing that
    needs a variance."""
    one = quiz(tables, "first", Q2)
    assert (one["n"], one["mean"], one["median"]) == (1, 50.0, 50.0)
    nulls = ["sd", "skewness", "kurtosis", "cronbach_alpha", "error_ratio", "standard_error"]
    assert [one[k] for k in nulls] == [None] * len(nulls)
    x = item(tables, "all", "x", Q2)
    assert (x["n"], x["facility"], x["sd"], x["discrimination_index"]) == (1, 1.0, None, None)
    assert x["discriminative_efficiency"] is None


def test_flags_on_many_attempts(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Six copies of every learner (30 first attempts): copying leaves correlations, the
    covariance ratio and means as they were, so a's index is still 15/√0.51 = 21.0 < 30 "very
    likely needs revision" (efficiency 23.1 ≥ 15), d (facility 1 > 0.9) is "easy", b and c
    (index 66.7 and 64.3, efficiency ≥ 64) carry none. With 5 attempts nothing is flagged."""
    tree = tree_inputs(tmp_path_factory.mktemp("flags"), [QUIZ_COURSE])
    rows = [
        {**row, "event_id": f"{k}-{row['event_id']}", "user_id": f"{row['user_id']}-{k}"}
        for k in range(6)
        for row in quiz_rows()
    ]
    events = event_frame(tree.events, rows)
    got = build_assessment_tables(LmsInputs(tree.versions, tree.nodes, events, tree.paths), AS_OF)
    first = got["quiz_item_stats"].filter(basis="first", quiz_id=Q)
    assert first["n"].to_list() == [30] * 4
    flags = dict(zip(first["question_id"], first["flags"], strict=True))
    index = dict(zip(first["question_id"], first["discrimination_index"], strict=True))
    assert (
        index[f"{Q}/a"] == pytest.approx(15 / sqrt(0.51))
        and flags[f"{Q}/a"] == "very likely needs revision"
    )
    assert flags[f"{Q}/d"] == "easy"
    assert flags[f"{Q}/b"] is None and flags[f"{Q}/c"] is None


@st.composite
def answer_sets(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Up to 8 learners × 1–3 attempts at a quiz of 1–4 questions (1 or 2 points), any
    answers (some missing, partial credit), some attempts not completed."""
    k = draw(st.integers(1, 4))
    points = [float(draw(st.sampled_from([1, 2]))) for _ in range(k)]
    questions = pl.DataFrame(
        {
            "quiz_id": ["z"] * k,
            "question_id": [f"z/{i}" for i in range(k)],
            "question_points": points,
            "options": pl.Series([4] * k, dtype=pl.Int32),
            "question_position": pl.Series(range(1, k + 1), dtype=pl.Int32),
        }
    )
    attempts, answers = [], []
    for learner in range(draw(st.integers(0, 8))):
        for number in range(1, draw(st.integers(1, 3)) + 1):
            aid = f"{learner}-{number}"
            total = 0.0
            for i in range(k):
                score = draw(st.none() | st.sampled_from([0.0, 0.5, 1.0, 2.0]))
                if score is not None:
                    score = min(score, points[i])
                    total += score
                    answers.append(("u" + str(learner), "z", aid, f"z/{i}", score, points[i]))
            status = draw(st.sampled_from(["completed", "completed", "abandoned"]))
            attempts.append(
                ("u" + str(learner), "c", "z", aid, number, status, total / sum(points) * 100)
            )
    attempt_frame = pl.DataFrame(
        attempts,
        schema={
            "user_id": pl.String,
            "course_id": pl.String,
            "quiz_id": pl.String,
            "attempt_id": pl.String,
            "attempt_number": pl.Int32,
            "status": pl.String,
            "score_percent": pl.Float64,
        },
        orient="row",
    )
    answer_frame = pl.DataFrame(
        answers,
        schema={
            **{c: pl.String for c in ("user_id", "quiz_id", "attempt_id", "question_id")},
            "score": pl.Float64,
            "max_score": pl.Float64,
        },
        orient="row",
    )
    return attempt_frame, answer_frame, questions


@settings(max_examples=60, deadline=None)
@given(data=answer_sets())
def test_statistics_never_fail_and_stay_in_range(
    data: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    attempts, answers, questions = data
    quiz_table, items = quiz_statistics(attempts, answers, questions)
    done = attempts.filter(status="completed")
    if done.is_empty():
        assert quiz_table.is_empty() and items.is_empty()
        return
    learners = done["user_id"].n_unique()
    assert dict(zip(quiz_table["basis"], quiz_table["n"], strict=True)) == {
        "first": learners,
        "highest": learners,
        "last": learners,
        "all": done.height,
    }
    assert items.height == 4 * questions.height
    assert items["facility"].is_between(0, 1).all()
    assert (items["discrimination_index"].abs() <= 100 + 1e-9).all()
    assert (items["discriminative_efficiency"] <= 100 + 1e-9).all()
    assert (quiz_table["cronbach_alpha"] <= 1 + 1e-9).all()
    assert items["flags"].null_count() == items.height  # never 30 attempts here
    distribution = items.select(
        pl.sum_horizontal("full_credit", "partial_credit", "no_credit", "unanswered")
    ).to_series()
    assert (distribution == items["n"]).all()
