"""The README stays short (the quick start, one example per API, links) and every relative link
of README.md and docs/*.md leads to a file that exists, and to a heading of it when it names
one (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 300

FENCE = re.compile(r"^\s*```")
HEADING = re.compile(r"^(#{1,6}) +(.*?) *#*$")
#: `[text](target)` and `![alt](target)`, with an optional "title".
LINK = re.compile(r"\]\(([^)\s]+)(?: +\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text without markup, lower case, punctuation dropped
    (but ``-`` and ``_``), spaces as ``-``."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links_in(text: str) -> list[str]:
    found: list[str] = []
    for line in _prose(text):
        found.extend(LINK.findall(CODE_SPAN.sub("", line)))
    return found


def links(page: Path) -> list[str]:
    return links_in(page.read_text(encoding="utf-8"))


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def test_the_slugs_are_github_s() -> None:
    assert slug("The seed API: `/send_message` and `/get_access_token`") == (
        "the-seed-api-send_message-and-get_access_token"
    )
    assert slug("Streaming (`stream=true`)") == "streaming-streamtrue"
    assert slug("Differences from zhuweiyou/chatgpt-api") == (
        "differences-from-zhuweiyouchatgpt-api"
    )
    assert slug("What the emulator's OpenAI API answers") == "what-the-emulators-openai-api-answers"


def test_the_link_finder_skips_code() -> None:
    page = "[a](x.md)\n```\n[b](y.md)\n```\n`[c](z.md)` and ![d](e.png)\n"
    assert links_in(page) == ["x.md", "e.png"]


def test_the_readme_is_short() -> None:
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, (
        f"README.md has {count} lines (at most {MAX_README_LINES}): move details into docs/"
    )


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_quick_start_is_two_commands() -> None:
    quick = _section(README.read_text(encoding="utf-8"), "Quick start")
    blocks = re.findall(r"^```sh\n(.*?)^```", quick, re.MULTILINE | re.DOTALL)
    assert [block.strip() for block in blocks] == ["make run", "make test"]
    assert "\nListening on http://localhost:3000\n" in quick


def test_the_readme_links_every_page_of_the_docs() -> None:
    linked = {(README.parent / target.split("#")[0]).resolve() for target in links(README)}
    for page in PAGES[1:]:
        assert page.resolve() in linked, f"README.md does not link {page.relative_to(ROOT)}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in filter(_relative, links(page)):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
