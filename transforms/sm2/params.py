"""`SM2Params`: every open point of SM-2 as a named, immutable parameter (see docs/sm2.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal, get_args, get_origin, get_type_hints

Rounding = Literal["ceil", "round", "none"]
EfForInterval = Literal["old", "new"]
ReviewUnit = Literal["day", "session", "attempt"]

DEFAULT_STEP = "*"  # the key of the per-step-type maps that applies to unlisted step types


def _frozen(mapping: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SM2Params:
    """The project's SM-2. Defaults are the project's; every variant stays reproducible."""

    # docs/sm2.md section 1: grading
    fail_quality: int = 1
    fast_ms: Mapping[str, int] = field(
        default_factory=lambda: _frozen({DEFAULT_STEP: 3000, "lightning": 1500})
    )
    slow_ms: Mapping[str, int] = field(
        default_factory=lambda: _frozen({DEFAULT_STEP: 10000, "lightning": 4000})
    )
    # docs/sm2.md section 2: which attempts are graded reviews
    review_unit: ReviewUnit = "day"
    # docs/sm2.md section 3: the update
    ef_init: float = 2.5
    ef_min: float = 1.3
    first_interval: float = 1.0
    second_interval: float = 6.0
    lapse_interval: float = 1.0
    max_interval: float = 36500.0
    pass_quality: int = 3
    ef_update_on_fail: bool = True
    ef_for_interval: EfForInterval = "old"
    rounding: Rounding = "ceil"
    # docs/sm2.md section 4: predicted recall
    target_recall: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast_ms", _frozen(self.fast_ms))
        object.__setattr__(self, "slow_ms", _frozen(self.slow_ms))
        problems = []
        if DEFAULT_STEP not in self.fast_ms or DEFAULT_STEP not in self.slow_ms:
            problems.append(f"fast_ms and slow_ms need a default entry '{DEFAULT_STEP}'")
        if not 0 <= self.fail_quality < self.pass_quality <= 5:
            problems.append("need 0 <= fail_quality < pass_quality <= 5")
        if min(self.first_interval, self.second_interval, self.lapse_interval) <= 0:
            problems.append("intervals must be positive")
        if self.max_interval < max(self.first_interval, self.lapse_interval):
            problems.append("max_interval is below first_interval or lapse_interval")
        if not 0 < self.ef_min <= self.ef_init:
            problems.append("need 0 < ef_min <= ef_init")
        if not 0 < self.target_recall < 1:
            problems.append("target_recall must be in (0, 1)")
        if self.rounding not in ("ceil", "round", "none"):
            problems.append(f"unknown rounding {self.rounding!r}")
        if self.ef_for_interval not in ("old", "new"):
            problems.append(f"unknown ef_for_interval {self.ef_for_interval!r}")
        if self.review_unit not in ("day", "session", "attempt"):
            problems.append(f"unknown review_unit {self.review_unit!r}")
        if problems:
            raise ValueError("invalid SM2Params: " + "; ".join(problems))

    def threshold(self, which: Literal["fast", "slow"], step_type: str) -> int:
        table = self.fast_ms if which == "fast" else self.slow_ms
        return table.get(step_type, table[DEFAULT_STEP])

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for materialization metadata and run config."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["fast_ms"] = dict(self.fast_ms)
        out["slow_ms"] = dict(self.slow_ms)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SM2Params:
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown SM2Params field(s): {sorted(unknown)}")
        return cls(**{k: v for k, v in values.items() if v is not None})


def plain_field_types() -> dict[str, type]:
    """Each SM2Params field's type as plain data, in field order: `dict[str, int]` for the
    per-step-type maps, `str` for the named choices, else the field's own type (for run config
    and tables)."""
    hints = get_type_hints(SM2Params)
    out: dict[str, Any] = {}
    for f in fields(SM2Params):
        hint = hints[f.name]
        if get_origin(hint) is Literal:
            out[f.name] = type(get_args(hint)[0])
        elif get_origin(hint) is Mapping:
            out[f.name] = dict[get_args(hint)]  # type: ignore[misc]
        else:
            out[f.name] = hint
    return out


def scalar_field_names() -> tuple[str, ...]:
    """The fields that hold one value (all but the per-step-type maps), in field order: the
    parameter columns of a table of parameter sets."""
    return tuple(n for n, t in plain_field_types().items() if get_origin(t) is not dict)
