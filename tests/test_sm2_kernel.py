"""The compiled kernel's pieces against Python: `round6` is `round(x, 6)` bit for bit."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.sm2.kernel import round6, rounded


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


@settings(max_examples=3000, deadline=None)
@given(
    whole=st.integers(0, 10**6),
    offset=st.sampled_from([0.0, 0.5]),
    ulps=st.integers(-40, 40),
    scale=st.sampled_from([0.0, 1e-7, 4e-7, 5e-7, 6e-7, 1e-6, 2e-6, 3e-6, 1e-3]),
    sign=st.sampled_from([-1.0, 1.0]),
)
def test_rounded_fast_path_equals_section_3(
    whole: int, offset: float, ulps: int, scale: float, sign: float
) -> None:
    """`rounded` skips round6 away from integers and half-integers: next to them (within a
    few millionths and a few ulps), it still equals R as sm2.md section 3 writes it."""
    x = whole + offset + sign * scale
    for _ in range(abs(ulps)):
        x = math.nextafter(x, math.inf if ulps > 0 else -math.inf)
    x = max(x, 0.0)
    assert rounded(x, 0) == math.ceil(round(x, 6))
    assert rounded(x, 1) == math.floor(round(x, 6) + 0.5)
    assert rounded(x, 2) == x


def test_rounded_on_the_spec_examples() -> None:
    # EF after 2.5 and three q = 5: 2.5 + 3 x 0.1 = 2.8000000000000003 in floats, so an
    # interval of 5 gives 14.000000000000002: ceil(round(x, 6)) = 14, where ceil(x) is 15
    ef = 2.5 + 0.1 + 0.1 + 0.1
    assert 5 * ef == 14.000000000000002
    assert rounded(5 * ef, 0) == 14.0 and rounded(5 * ef, 1) == 14.0
    # 6 x 1.5 = 9 exactly; 2.5 x 2.3 = 5.75: ceil 6, half up 6; 2.5 x 2.2 = 5.5: half up 6
    assert rounded(6 * 1.5, 0) == 9.0
    assert rounded(2.5 * 2.3, 0) == 6.0 and rounded(2.5 * 2.3, 1) == 6.0
    assert rounded(2.5 * 2.2, 1) == 6.0 and rounded(2.5 * 2.2, 0) == 6.0
