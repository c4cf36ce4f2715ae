"""Headless Chromium for tests that look at pictures and pages as a person would.

The tests drive the system's Chromium (Debian package ``chromium``) through playwright;
no browser build is downloaded.  ``DELTAGRAD_CHROMIUM`` overrides the executable.  On CI
(``CI=true``) a missing browser fails the run; elsewhere these tests skip with the reason.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path
from typing import Iterator

import pytest

_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    for candidate in (os.environ.get("DELTAGRAD_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    message = "no system Chromium (apt-get install chromium, or set DELTAGRAD_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium per test module.

    Per module, not per session: playwright's sync API keeps an event loop running while it
    is open, and a later test's own ``asyncio.run`` must not find it.
    """
    sync_api = pytest.importorskip("playwright.sync_api", reason=(
        "playwright needs greenlet, which has no PyPy wheel" if platform.python_implementation() == "PyPy"
        else "pip install playwright (test extra)"))
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), headless=True, args=_FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh page at a laptop-sized viewport (1400 x 900 CSS px, zoom 100%).

    Any request that leaves ``file://`` or ``data:`` fails the test: pages must be self-contained.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    errors: list = []
    requests: list = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("request", lambda r: requests.append(r.url)
          if not r.url.startswith(("file:", "data:", "about:")) else None)
    pg.console_errors = errors
    pg.outside_requests = requests
    yield pg
    context.close()
    assert not requests, f"page made network requests: {requests}"


#: JavaScript that measures every text element of an SVG (in CSS pixels at 100% zoom).
TEXT_BOXES_JS = """
() => Array.from(document.querySelectorAll('svg text')).map(t => {
  const r = t.getBoundingClientRect();
  const size = parseFloat(getComputedStyle(t).fontSize) * (t.getScreenCTM() ? t.getScreenCTM().a : 1);
  return {text: t.textContent, x: r.x, y: r.y, w: r.width, h: r.height, px: size};
})
"""


class Measure:
    """What the browser tests measure, as a fixture (the tests folder is not a package)."""

    TEXT_BOXES_JS = TEXT_BOXES_JS

    @staticmethod
    def text_boxes(page: object) -> list:
        """Every SVG text element on ``page``: text, x, y, w, h (CSS px) and font size px."""
        return page.evaluate(TEXT_BOXES_JS)  # type: ignore[attr-defined]

    @staticmethod
    def overlaps(boxes: list, tolerance: float = 0.5) -> list:
        return overlaps(boxes, tolerance)


@pytest.fixture
def measure() -> type:
    """Helpers for measuring text in a page: ``measure.text_boxes(page)``, ``measure.overlaps``."""
    return Measure


def overlaps(boxes: list, tolerance: float = 0.5) -> list:
    """Pairs of text boxes that overlap by more than ``tolerance`` px in both directions."""
    found = []
    ordered = sorted(boxes, key=lambda b: b["x"])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b["x"] >= a["x"] + a["w"] - tolerance:
                break
            if (min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > tolerance
                    and min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > tolerance):
                found.append((a["text"], b["text"]))
    return found
