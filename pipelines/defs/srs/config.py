"""SM-2 parameters as run config (the Dagster launchpad), over the `PROGRESS_SM2_PARAMS` base.

`SM2Config` has one optional field per `SM2Params` field, made from `dataclasses.fields`, so a
new parameter appears in the launchpad without being written here."""

from typing import TYPE_CHECKING, Any

import dagster as dg
import pydantic

from transforms.sm2 import SM2Params
from transforms.sm2.params import plain_field_types


class SM2ConfigBase(dg.Config):
    """Any field left unset keeps the setting's value, else the spec's default."""

    def resolve(self, base: dict[str, Any]) -> SM2Params:
        overrides = {
            k: v for k, v in self.model_dump().items() if v is not None and k != "full_refresh"
        }
        return SM2Params.from_dict({**base, **overrides})


if TYPE_CHECKING:
    SM2Config = SM2ConfigBase
else:
    SM2Config = pydantic.create_model(
        "SM2Config",
        __base__=SM2ConfigBase,
        __doc__=SM2ConfigBase.__doc__,
        **{name: (kind | None, None) for name, kind in plain_field_types().items()},
    )


class SM2ReplayConfig(SM2Config):  # type: ignore[valid-type,misc]
    """`sm2_replay`'s launchpad: the SM-2 parameters, and `full_refresh` to replay every
    learner even when only some have new attempts (a parameter change does so by itself)."""

    full_refresh: bool = False
