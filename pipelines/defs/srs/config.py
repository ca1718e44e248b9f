"""SM-2 parameters as run config (the Dagster launchpad), over the `PROGRESS_SM2_PARAMS` base."""

from typing import Any

import dagster as dg

from transforms.sm2 import SM2Params


class SM2Config(dg.Config):
    """Any field left unset keeps the setting's value, else the spec's default.
    `full_refresh` replays every learner even when only some have new attempts."""

    full_refresh: bool = False

    fail_quality: int | None = None
    fast_ms: dict[str, int] | None = None
    slow_ms: dict[str, int] | None = None
    review_unit: str | None = None
    ef_init: float | None = None
    ef_min: float | None = None
    first_interval: float | None = None
    second_interval: float | None = None
    lapse_interval: float | None = None
    max_interval: float | None = None
    pass_quality: int | None = None
    ef_update_on_fail: bool | None = None
    ef_for_interval: str | None = None
    rounding: str | None = None
    target_recall: float | None = None

    def resolve(self, base: dict[str, Any]) -> SM2Params:
        overrides = {
            k: v for k, v in self.model_dump().items() if v is not None and k != "full_refresh"
        }
        return SM2Params.from_dict({**base, **overrides})
