"""The key columns the tables share, stated once."""

from __future__ import annotations

LEARNER: list[str] = ["user_id", "language"]  # a learner of one language course
CARD: list[str] = [*LEARNER, "word_uid"]  # one learner's card: a word of that course
