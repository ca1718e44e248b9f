"""Named crash points, for the tests that kill a run mid-way and check that a rerun repairs it.

`PROGRESS_FAILPOINT=<name>` (or `<name>@<n>`, the n-th time the point is reached) makes the
process kill itself with SIGKILL there, as `kill -9` or a lost machine would: no handler, no
cleanup, no flush. Unset, a crash point costs one dictionary lookup. Never set it in
production.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here if `PROGRESS_FAILPOINT` names this point (and this is its n-th arrival)."""
    wanted = os.environ.get("PROGRESS_FAILPOINT")
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
