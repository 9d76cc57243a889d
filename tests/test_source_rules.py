"""House rules of the source tree: short module docstrings without version numbers, no module
over 600 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "chatgpt_api"
MODULES = sorted(SOURCE.rglob("*.py"))
MAX_DOCSTRING_LINES = 12
MAX_MODULE_LINES = 600
#: "v1.2", "since 0.4", "1.2.3", "(0.54: ...", "pydantic v2", "issue 13": a release or a tracker
#: reference (``/v1`` routes, addresses and spec sections such as "OpenAPI 3.1" are not).
VERSION = re.compile(
    r"\bv\d+\.\d+\b|\b(?:version|since|release|released in|added in|as of)\s+v?\d+(?:\.\d+)*"
    r"|\bissues?\s+\d+|(?<![\d.])\d+\.\d+\.\d+(?![\d.])|\(\d+\.\d+:"
    r"|\b(?:pydantic|python|uvicorn|starlette|sqlalchemy|httpx|aiohttp|redis)\s+v?\d",
    re.IGNORECASE,
)
#: Modules whose docstrings other branches of issue 14 are rewriting (the middleware, store and
#: start-up work): shortened there, then taken off this list.


def _name(path: Path) -> str:
    return str(path.relative_to(SOURCE.parent))


def test_the_source_tree_is_found() -> None:
    assert len(MODULES) > 100


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_docstring_is_short(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    lines = docstring.splitlines()
    assert len(lines) <= MAX_DOCSTRING_LINES, f"{len(lines)} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_docstring_names_no_version(path: Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert not VERSION.search(docstring), VERSION.search(docstring)


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_is_at_most_600_lines(path: Path) -> None:
    with path.open(encoding="utf-8") as source:
        assert sum(1 for _ in source) <= MAX_MODULE_LINES
