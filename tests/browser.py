"""Open a page in headless Chromium and read back its DOM after the scripts ran."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from reports.export import chromium_path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def rendered_dom(page: Path, budget_ms: int = 20000) -> tuple[str, str]:
    """(DOM after the page's scripts ran, Chromium's stderr with console messages)."""
    browser = chromium_path()
    assert browser, "Chromium is not installed"
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    return done.stdout, done.stderr
