"""SM-2 as this project computes it (docs/sm2.md): grading, review selection, replay, Leitner."""

from transforms.sm2.grading import quality, select_reviews
from transforms.sm2.leitner import BOX_DAYS, replay_leitner
from transforms.sm2.params import SM2Params
from transforms.sm2.replay import REPLAY_COLUMNS, replay

__all__ = [
    "BOX_DAYS",
    "REPLAY_COLUMNS",
    "SM2Params",
    "quality",
    "replay",
    "replay_leitner",
    "select_reviews",
]
