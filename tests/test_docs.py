"""The README and docs/ hold together: every relative link and #anchor leads somewhere, every
page is reachable from the README, and the README stays short.  (Their examples run as
doctests through setup.cfg's --doctest-glob.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~)")
_INLINE_CODE = re.compile(r"`[^`]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, line) for every line outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def links(text: str) -> List[Tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code."""
    found = []
    for number, line in _prose_lines(text):
        for match in _LINK.finditer(_INLINE_CODE.sub("", line)):
            found.append((number, match.group(1)))
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set:
    """Every heading's anchor on a page (GitHub numbers repeated headings -1, -2, ...)."""
    seen: dict = {}
    for _, line in _prose_lines(text):
        match = _HEADING.match(line)
        if match:
            slug = github_slug(match.group(2))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken_links(page: Path, root: Path = ROOT) -> List[str]:
    """Descriptions of the relative links on ``page`` whose file or #anchor does not exist."""
    problems = []
    for number, target in links(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):      # http:, https:, mailto: ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.relative_to(root)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file {resolved.relative_to(root)}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(
                resolved.read_text(encoding="utf-8")):
            problems.append(f"{where}: no heading #{anchor} in {resolved.relative_to(root)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page):
    assert broken_links(page) == []


def test_the_link_check_catches_a_missing_file_and_a_missing_anchor(tmp_path):
    tmp_path = tmp_path.resolve()
    (tmp_path / "other.md").write_text("# Real heading\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("See [a](other.md#real-heading), [b](gone.md), [c](other.md#nope),\n"
                    "`[d](in-code.md)`, [e](https://example.org/x.md).\n"
                    "```\n[f](fenced.md)\n```\n", encoding="utf-8")
    problems = broken_links(page, root=tmp_path)
    assert len(problems) == 2
    assert "gone.md: no such file" in problems[0]
    assert "no heading #nope in other.md" in problems[1]


def test_github_slugs_keep_greek_letters_and_drop_punctuation():
    assert github_slug("4. δ at the output and in the hidden layers") == \
        "4-δ-at-the-output-and-in-the-hidden-layers"
    assert github_slug("Compiled training: `fit(compile=True)`") == "compiled-training-fitcompiletrue"


def test_every_docs_page_is_reachable_from_the_readme():
    readme_links = {t.partition("#")[0] for _, t in links((ROOT / "README.md").read_text("utf-8"))}
    index_links = {t.partition("#")[0] for _, t in links((DOCS / "README.md").read_text("utf-8"))}
    assert "docs/README.md" in readme_links
    reachable = {(ROOT / t).resolve() for t in readme_links} | {(DOCS / t).resolve() for t in index_links}
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "README.md" and p.resolve() not in reachable]
    assert missing == []


def test_the_readme_stays_a_five_minute_read():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move detail into docs/"
