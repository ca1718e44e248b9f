"""Grading (attempt -> quality) and review selection (review_unit)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from transforms.sm2 import SM2Params, quality, select_reviews

T0 = datetime(2026, 3, 2, 23, 50)


def _attempt(
    uuid: str,
    minutes: float,
    correct: bool = True,
    rt: int = 2000,
    step: str = "typing",
    word: str = "es:g:a",
    session: str | None = "s1",
) -> dict:
    return {
        "uuid_local": uuid,
        "user_id": "u1",
        "language": "es",
        "word_uid": word,
        "step_type": step,
        "correct": correct,
        "response_time_ms": rt,
        "attempted_at": T0 + timedelta(minutes=minutes),
        "session_id": session,
    }


@pytest.mark.parametrize(
    ("correct", "rt", "step", "expected"),
    [
        (False, 100, "typing", 1),
        (True, 3000, "typing", 5),
        (True, 3001, "typing", 4),
        (True, 10000, "typing", 4),
        (True, 10001, "typing", 3),
        (True, 1500, "lightning", 5),
        (True, 1501, "lightning", 4),
        (True, 4001, "lightning", 3),
    ],
)
def test_quality_thresholds(correct: bool, rt: int, step: str, expected: int) -> None:
    frame = pl.DataFrame([_attempt("a", 0, correct, rt, step)])
    assert frame.select(quality(SM2Params()))["quality"][0] == expected


def test_quality_maps_are_parameters() -> None:
    params = SM2Params(fail_quality=0, fast_ms={"*": 1000, "typing": 5000}, slow_ms={"*": 2000})
    frame = pl.DataFrame(
        [
            _attempt("a", 0, rt=4000),
            _attempt("b", 0, rt=1500, step="listening"),
            _attempt("c", 0, correct=False),
        ]
    )
    assert frame.select(quality(params))["quality"].to_list() == [5, 4, 0]


def _history() -> pl.DataFrame:
    return pl.DataFrame(
        [
            _attempt("a2", 0),  # 23:50 day 1, session s1
            _attempt("a1", 0),  # same time: a1 sorts first
            _attempt("b", 5),  # 23:55 day 1
            _attempt("c", 15),  # 00:05 day 2, same session
            _attempt("d", 80, session="s2"),  # day 2, session s2
            _attempt("e", 90, word="es:g:b", session="s2"),
        ]
    )


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("day", {"a1", "c", "e"}),
        ("session", {"a1", "d", "e"}),
        ("attempt", {"a1", "a2", "b", "c", "d", "e"}),
    ],
)
def test_review_units(unit: str, expected: set[str]) -> None:
    picked = select_reviews(_history(), SM2Params(review_unit=unit)).collect()  # type: ignore[arg-type]
    assert set(picked["uuid_local"]) == expected


def test_missing_sessions_are_derived_from_30_minute_gaps() -> None:
    frame = pl.DataFrame(
        [
            _attempt("a", 0, session=None),
            _attempt("b", 29, session=None),
            _attempt("c", 61, session=None),
        ]
    )
    picked = select_reviews(frame, SM2Params(review_unit="session")).collect()
    assert set(picked["uuid_local"]) == {"a", "c"}


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError, match="pass_quality"):
        SM2Params(fail_quality=3, pass_quality=3)
    with pytest.raises(ValueError, match="unknown SM2Params"):
        SM2Params.from_dict({"ef_start": 2.5})
