"""The browser harness itself: Chromium opens a gallery SVG from file:// and measures its text."""

from pathlib import Path

GALLERY = Path(__file__).resolve().parents[2] / "viz" / "gallery"


def test_chromium_opens_a_gallery_svg_and_measures_its_text(page, measure):
    page.goto((GALLERY / "graph.svg").as_uri())
    boxes = measure.text_boxes(page)
    assert len(boxes) > 10
    assert all(b["w"] > 0 and b["h"] > 0 for b in boxes)
    assert not page.console_errors
