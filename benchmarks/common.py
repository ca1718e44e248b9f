"""Helpers for benchmark scripts: timing and peak memory, printed, never asserted."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def timed(label: str, results: dict[str, float]) -> Iterator[None]:
    began = time.perf_counter()
    yield
    results[label] = time.perf_counter() - began
    print(f"  {label}: {results[label]:.2f}s", file=sys.stderr)
