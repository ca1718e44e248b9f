"""Metric tables on small hand-computed fixtures, edges included."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.metrics.accuracy import accuracy_by_step, accuracy_daily, word_difficulty
from transforms.metrics.common import learner_cohorts, wilson
from transforms.metrics.progress import streaks, user_language_progress
from transforms.metrics.retention import (
    cohort_retention,
    cohort_retention_moved_on,
    first_days,
    forgetting_curve,
    true_retention,
)

U1, U2 = "u1", "u2"


def test_wilson_at_zero_and_all_successes() -> None:
    frame = pl.DataFrame({"k": [0, 10, 5, 0], "n": [10, 10, 10, 0]})
    out = frame.select(wilson("k", "n", "p"))
    assert out["p"].to_list()[:3] == [0.0, 1.0, 0.5]
    assert out["p_low"][0] == 0.0 and out["p_high"][0] == pytest.approx(0.2775, abs=1e-4)
    assert out["p_low"][1] == pytest.approx(0.7225, abs=1e-4) and out["p_high"][1] == 1.0
    assert out["p_low"][2] == pytest.approx(0.2366, abs=1e-4)
    assert out.row(3) == (None, None, None)


def _daily(rows: list[tuple[str, str, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "user_id": u,
                "language": lang,
                "day": d,
                "attempts": 1,
                "correct": 1,
                "reviews": 1,
                "words_studied": 1,
            }
            for u, lang, d in rows
        ]
    )


def test_streaks_across_gaps_and_an_as_of_day_without_activity() -> None:
    d = date(2026, 3, 1)
    daily = _daily(
        [(U1, "es", d + timedelta(days=k)) for k in (0, 1, 2, 5, 6, 7, 8)]
        + [(U1, "fr", d + timedelta(days=k)) for k in (0, 1)]
        + [(U2, "es", d + timedelta(days=9))]
    )
    # as of day 9, 10:00: U1/es studied days 5-8 and not yet on day 9 -> streak 4
    out = streaks(daily, datetime(2026, 3, 10, 10)).sort("user_id", "language")
    assert out.rows() == [
        (U1, "es", 4, 4, d + timedelta(days=8)),
        (U1, "fr", 0, 2, d + timedelta(days=1)),
        (U2, "es", 1, 1, d + timedelta(days=9)),
    ]
    # a day later with still nothing: the streak is broken
    later = streaks(daily, datetime(2026, 3, 11)).sort("user_id", "language")
    assert later["current_streak"].to_list() == [0, 0, 1]


def test_cohorts_at_iso_week_boundaries() -> None:
    firsts = pl.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "language": ["es"] * 4,
            "first_day": [date(2026, 3, 1), date(2026, 3, 2), date(2027, 1, 1), date(2026, 3, 1)],
        }
    )
    named = pl.DataFrame({"user_id": ["d"], "cohort": ["class-A"]})
    out = learner_cohorts(firsts, named).sort("user_id")
    # Sunday 1 March is week 9, Monday 2 March starts week 10; 1 Jan 2027 is in 2026-W53
    assert out["cohort"].to_list() == ["2026-W09", "2026-W10", "2026-W53", "class-A"]


def _review(
    user: str,
    word: str,
    t: datetime,
    q: int,
    index: int,
    elapsed: float | None,
    before: float | None,
    p: float | None,
    language: str = "es",
) -> dict:
    return {
        "user_id": user,
        "language": language,
        "word_uid": f"{language}:g:{word}",
        "reviewed_at": t,
        "quality": q,
        "review_index": index,
        "elapsed_days": elapsed,
        "interval_before": before,
        "p_recall": p,
    }


T = datetime(2026, 3, 2, 9)  # a Monday
REVIEWS = pl.DataFrame(
    [
        _review(U1, "a", T, 4, 1, None, None, None),
        _review(U1, "a", T + timedelta(days=1), 4, 2, 1.0, 20.999, 0.99),  # young (< 21)
        _review(U1, "a", T + timedelta(days=7), 1, 3, 6.0, 21.0, 0.9),  # mature, failed
        _review(U1, "b", T, 2, 1, None, None, None),
        _review(U1, "b", T + timedelta(days=0.5), 5, 2, 0.5, 1.0, 0.95),
        _review(U2, "a", T + timedelta(days=70), 3, 2, 70.0, 6.0, 0.2),
    ]
)
COHORTS = pl.DataFrame(
    {
        "user_id": [U1, U2],
        "language": ["es", "es"],
        "cohort": ["c1", "c2"],
        "first_day": [T.date(), T.date()],
    }
)


def test_true_retention_maturity_boundary() -> None:
    out = true_retention(REVIEWS, COHORTS, pass_quality=3)
    rows = out.select("cohort", "period_week", "maturity", "reviews", "passed").rows()
    assert rows == [
        ("c1", date(2026, 3, 2), "young", 2, 2),
        ("c1", date(2026, 3, 9), "mature", 1, 0),
        ("c2", date(2026, 5, 11), "young", 1, 1),
    ]
    assert sum(r[3] for r in rows) == REVIEWS.filter(pl.col("review_index") > 1).height


def test_forgetting_curve_bins() -> None:
    out = forgetting_curve(REVIEWS, pass_quality=3)
    assert out.select("elapsed_bin", "reviews", "recall_rate", "mean_p_recall").rows() == [
        ("[0,1)", 1, 1.0, 0.95),
        ("[1,2)", 1, 1.0, 0.99),
        ("[4,8)", 1, 0.0, 0.9),
        ("[64,inf)", 1, 1.0, 0.2),
    ]


def test_cohort_retention_by_hand() -> None:
    d0 = date(2026, 3, 2)
    daily = _daily(
        [
            (U1, "es", d0),
            (U1, "es", d0 + timedelta(days=15)),
            (U2, "es", d0 + timedelta(days=3)),
            (U2, "es", d0 + timedelta(days=10)),
            (U1, "fr", d0),
        ]
    )
    learners = learner_cohorts(
        first_days(daily), pl.DataFrame({"user_id": [U1, U2], "cohort": ["c", "c"]})
    )
    out = cohort_retention(daily, learners, datetime(2026, 3, 20, 12))
    es = out.filter(language="es").select(
        "week_offset",
        "cohort_size",
        "active_learners",
        "retention",
        "retention_on_or_after",
        "complete",
    )
    # U1 weeks start 2 Mar; U2's 5 Mar: week 1 ends 19 Mar for U2 (complete by the 20th);
    # week 2 (U1 day 15) ends 26 Mar: incomplete
    assert es.rows() == [
        (0, 2, 2, 1.0, 1.0, True),
        (1, 2, 1, 0.5, 1.0, True),
        (2, 2, 1, 0.5, 0.5, False),
    ]
    assert out.filter(language="fr")["cohort_size"].to_list() == [1, 1, 1]


def test_accuracy_tables_by_hand() -> None:
    t0 = datetime(2026, 3, 2, 23, 0)
    attempts = pl.DataFrame(
        {
            "user_id": [U1, U1, U1, U2],
            "language": ["es"] * 4,
            "word_uid": ["es:g:a", "es:g:a", "es:g:b", "es:g:a"],
            "step_type": ["typing", "typing", "lightning", "typing"],
            "correct": [True, False, True, True],
            "response_time_ms": [1000, 3000, 500, 2000],
            "attempted_at": [t0, t0 + timedelta(hours=2), t0 + timedelta(minutes=5), t0],
        }
    )
    reviews = pl.DataFrame(
        {
            "user_id": [U1, U1, U1, U2],
            "language": ["es"] * 4,
            "word_uid": ["es:g:a", "es:g:a", "es:g:b", "es:g:a"],
            "reviewed_at": [t0, t0 + timedelta(hours=2), t0, t0],
            "review_index": [1, 2, 1, 1],
            "quality": [5, 1, 5, 2],
        }
    )
    progress = pl.DataFrame(
        {
            "user_id": [U1, U1, U2],
            "language": ["es"] * 3,
            "word_uid": ["es:g:a", "es:g:b", "es:g:a"],
            "first_attempted_at": [t0, t0 + timedelta(minutes=5), t0],
            "lapses": [1, 0, 1],
            "reviews": [2, 1, 1],
            "easiness": [2.06, 2.6, 1.96],
        }
    )
    daily = accuracy_daily(attempts, reviews, progress)
    assert daily.select(
        "user_id", "day", "attempts", "correct", "reviews", "words_studied", "new_words", "study_ms"
    ).rows() == [
        (U1, date(2026, 3, 2), 2, 2, 2, 2, 2, 1500),
        (U1, date(2026, 3, 3), 1, 0, 1, 1, 0, 3000),
        (U2, date(2026, 3, 2), 1, 1, 1, 1, 1, 2000),
    ]
    by_step = accuracy_by_step(attempts)
    assert by_step.select("step_type", "attempts", "correct", "median_response_ms").rows() == [
        ("lightning", 1, 1, 500.0),
        ("typing", 3, 2, 2000.0),
    ]
    words = word_difficulty(attempts, reviews, progress, pass_quality=3)
    expected = pl.DataFrame(
        {
            "word_uid": ["es:g:a", "es:g:b"],
            "learners": [2, 1],
            "attempts": [3, 1],
            "accuracy": [2 / 3, 1.0],
            "first_review_pass_rate": [0.5, 1.0],
            "lapse_rate": [2 / 3, 0.0],
            "mean_easiness": [2.01, 2.6],
        }
    )
    assert_frame_equal(words.select(expected.columns), expected, check_dtypes=False)


def test_progress_with_a_dropped_word_and_two_languages() -> None:
    as_of = datetime(2026, 3, 10, 12)
    current = pl.DataFrame(
        {  # es's newest version dropped es:g:old; fr has one word
            "language": ["es", "es", "es", "fr"],
            "word_uid": ["es:g:a", "es:g:b", "es:h:c", "fr:g:x"],
            "level": [1, 1, 2, 1],
            "group_uid": ["g", "g", "h", "g"],
            "position": [1, 2, 3, 1],
        }
    )
    progress = pl.DataFrame(
        {
            "user_id": [U1] * 4,
            "language": ["es", "es", "es", "fr"],
            "word_uid": ["es:g:a", "es:g:b", "es:g:old", "fr:g:x"],
            "interval_days": [25.0, 1.0, 30.0, 6.0],
            "next_review_at": [
                as_of + timedelta(days=3),
                as_of - timedelta(days=1),
                as_of + timedelta(days=9),
                as_of,
            ],
            "easiness": [2.5] * 4,
            "lapses": [0] * 4,
            "reviews": [3, 2, 4, 2],
            "first_attempted_at": [as_of - timedelta(days=9)] * 4,
        }
    )
    reviews = pl.DataFrame(
        [
            _review(U1, "a", as_of - timedelta(days=9), 5, 1, None, None, None),
            _review(U1, "a", as_of - timedelta(days=2), 5, 2, 7.0, 6.0, 0.88),
            _review(U1, "b", as_of - timedelta(days=2), 1, 2, 7.0, 6.0, 0.88),
            _review(U1, "old", as_of - timedelta(days=2), 5, 2, 7.0, 6.0, 0.88),
            _review(U1, "x", as_of - timedelta(days=1), 4, 2, 6.0, 6.0, 0.9, language="fr"),
        ]
    ).with_columns(pl.col("word_uid").str.replace("es:g:old", "es:g:old"))
    daily = _daily([(U1, "es", as_of.date()), (U1, "fr", as_of.date() - timedelta(days=1))])
    out = user_language_progress(progress, reviews, daily, current, as_of, pass_quality=3)
    es, fr = out.row(0, named=True), out.row(1, named=True)
    # the furthest word attempted in course order is es:g:b; level 1 still has it unlearned
    assert (es["level"], es["group"], es["levels_completed"]) == (1, "g", 0)
    assert (es["words_seen"], es["words_learned"], es["words_mature"], es["words_total"]) == (
        2,
        1,
        1,
        3,
    )
    assert es["percent_complete"] == pytest.approx(100 / 3)
    assert es["true_retention"] == pytest.approx(2 / 3)  # the dropped word's review counts
    assert es["due_now"] == 1 and es["words_studied_today"] == 1
    assert (fr["level"], fr["group"], fr["percent_complete"]) == (1, "g", 100.0)
    assert fr["levels_completed"] == 1
    assert fr["due_now"] == 1 and fr["current_streak"] == 1


def test_position_is_the_furthest_word_attempted_not_the_first_unlearned() -> None:
    """An unlearned early word does not pin a learner to level 1 (metrics.md)."""
    as_of = datetime(2026, 3, 10, 12)
    current = pl.DataFrame(
        {
            "language": ["es"] * 4,
            "word_uid": ["es:g:a", "es:g:b", "es:h:c", "es:k:d"],
            "level": [1, 1, 2, 3],
            "group_uid": ["g", "g", "h", "k"],
            "position": [1, 2, 3, 4],
        }
    )
    # U1 missed es:g:a (last review failed) but has reached es:h:c in level 2, whose only
    # word it learned: level 2 is completed, level 1 is not (levels need not be completed in
    # order); U2 learned all of level 1 and has not started level 2
    rows = [(U1, "a", 1), (U1, "b", 5), (U1, "c", 4), (U2, "a", 4), (U2, "b", 5)]
    progress = pl.DataFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "language": ["es"] * 5,
            "word_uid": [f"es:{'h' if w == 'c' else 'g'}:{w}" for _, w, _ in rows],
            "interval_days": [1.0] * 5,
            "next_review_at": [as_of + timedelta(days=1)] * 5,
            "easiness": [2.5] * 5,
            "lapses": [0] * 5,
            "reviews": [1] * 5,
            "first_attempted_at": [as_of - timedelta(days=1)] * 5,
        }
    )
    reviews = pl.DataFrame(
        [_review(u, w, as_of - timedelta(days=1), q, 1, None, None, None) for u, w, q in rows]
    ).with_columns(
        pl.when(pl.col("word_uid") == "es:g:c")
        .then(pl.lit("es:h:c"))
        .otherwise(pl.col("word_uid"))
        .alias("word_uid")
    )
    daily = _daily([(U1, "es", as_of.date()), (U2, "es", as_of.date())])
    out = user_language_progress(progress, reviews, daily, current, as_of, pass_quality=3)
    got = out.select("user_id", "level", "group", "levels_completed", "words_learned")
    assert got.rows() == [(U1, 2, "h", 1, 2), (U2, 1, "g", 1, 2)]


def test_cohort_retention_moved_on_ages_stored_rows_by_hand() -> None:
    """The same learners, nobody studying after 17 Mar: the 20 Mar rows aged to 2 Apr equal
    the table computed on 2 Apr."""
    d0 = date(2026, 3, 2)
    daily = _daily(
        [
            (U1, "es", d0),
            (U1, "es", d0 + timedelta(days=15)),
            (U2, "es", d0 + timedelta(days=3)),
            (U2, "es", d0 + timedelta(days=10)),
        ]
    )
    learners = learner_cohorts(
        first_days(daily), pl.DataFrame({"user_id": [U1, U2], "cohort": ["c", "c"]})
    )
    stored = cohort_retention(daily, learners, datetime(2026, 3, 20, 12))
    nobody_studied = pl.DataFrame(
        schema={
            "language": pl.String,
            "cohort": pl.String,
            "week_offset": pl.Int32,
            "active": pl.Int32,
            "on_or_after": pl.Int32,
        }
    )
    later = cohort_retention_moved_on(stored, learners, nobody_studied, datetime(2026, 4, 2, 12))
    assert_frame_equal(later, cohort_retention(daily, learners, datetime(2026, 4, 2, 12)))
    # 2 Apr is day 31 of U1 (first 2 Mar): weeks 0..4 have begun; week 3 and 4 are new, with
    # nobody active (0 of 2); week 2 (U2's ends 26 Mar) is now complete, week 3's (U2's ends
    # 2 Apr 00:00, from 5 Mar + 28 days) too; week 4's ends 9 Apr: not yet
    assert later.select("week_offset", "active_learners", "complete").rows() == [
        (0, 2, True),
        (1, 1, True),
        (2, 1, True),
        (3, 0, True),
        (4, 0, False),
    ]
