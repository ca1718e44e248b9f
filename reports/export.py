"""Static PNG copies of figures through kaleido, when a Chromium is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def export_pngs(figures: list[tuple[str, go.Figure]], folder: Path) -> tuple[list[Path], str]:
    """Write `<stem>.png` for every figure; returns the files and what happened, in words.
    Without Chromium (or if kaleido fails) nothing is written and the pipeline goes on."""
    if not figures:
        return [], "no figures"
    if chromium_path() is None:
        return [], "skipped: no Chromium installed (apt-get install chromium)"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.png" for stem, _ in figures]
    try:
        pio.write_images([fig for _, fig in figures], paths, width=1100, height=500)
    except Exception as exc:  # kaleido or its browser failing must not fail the reports
        return [], f"skipped: {type(exc).__name__}: {exc}"
    return paths, f"wrote {len(paths)} PNG files"
