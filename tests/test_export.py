"""PNG copies of report figures through kaleido and the installed Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import pytest

from reports.export import chromium_path, export_pngs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_figure_becomes_a_png(tmp_path: Path) -> None:
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed (make test installs it)")
        pytest.skip("Chromium not found")
    figures = [
        ("bars-0", go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))),
        ("line-0", go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))),
    ]
    paths, outcome = export_pngs(figures, tmp_path / "png")
    assert outcome == "wrote 2 PNG files"
    assert paths == [tmp_path / "png" / "bars-0.png", tmp_path / "png" / "line-0.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert path.stat().st_size > 1000  # a drawn 1100 x 500 image, not an empty file


def test_no_figures_writes_nothing(tmp_path: Path) -> None:
    assert export_pngs([], tmp_path / "png") == ([], "no figures")
    assert not (tmp_path / "png").exists()
