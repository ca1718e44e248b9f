"""The compiled kernel's pieces against Python: `round6` is `round(x, 6)` bit for bit."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.sm2.kernel import round6


@settings(max_examples=3000, deadline=None)
@given(x=st.floats(0.0, 1e7, allow_nan=False, allow_infinity=False))
def test_round6_equals_python_round(x: float) -> None:
    assert round6(x) == round(x, 6)


@settings(max_examples=3000, deadline=None)
@given(k=st.integers(0, 10**12), ulps=st.integers(-3, 3), odd=st.integers(0, 63))
def test_round6_near_half_way(k: int, ulps: int, odd: int) -> None:
    """Products that land on or next to a half-way point, where a plain x * 1e6 misrounds,
    and exact ties (odd multiples of 1/128) that round half to even."""
    near = (k + 0.5) / 1e6
    for _ in range(abs(ulps)):
        near = math.nextafter(near, math.inf if ulps > 0 else -math.inf)
    tie = k % 1000 + (2 * odd + 1) / 128
    for x in (near, tie, k * 2.3 / 1e3):
        assert round6(x) == round(x, 6)
