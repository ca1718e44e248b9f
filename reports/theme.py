"""The plot theme every report figure shares: pass `**LAYOUT` to `fig.update_layout`."""

from __future__ import annotations

from typing import Any

LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 420,
    "margin": {"t": 50, "l": 60, "r": 20},
}
