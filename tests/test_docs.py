"""The README's configuration table is generated from the settings model: it cannot drift."""

from __future__ import annotations

from pathlib import Path

from chatgpt_api.cli.main import serve
from chatgpt_api.config import Settings
from chatgpt_api.config_docs import END, START, replace_section, settings_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_settings_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_section(text, settings_markdown(serve)) == text, (
        "the README's settings table is stale: run `make docs`"
    )


def test_every_setting_has_a_flag_and_a_row() -> None:
    table = settings_markdown(serve)
    for name in Settings.model_fields:
        row = next(line for line in table.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"`CHATGPT_API_{name.upper()}`" in row
        assert "`--" in row, f"{name} has no serve flag"


def test_markers_are_required() -> None:
    try:
        replace_section("no markers here", "table")
    except ValueError as error:
        assert START in str(error) and END in str(error)
    else:
        raise AssertionError("a README without markers must be refused")


def test_the_capability_table_in_the_docs_is_the_code_s() -> None:
    from chatgpt_api.capabilities import CAPABILITIES

    text = (Path(__file__).parent.parent / "docs" / "compatibility.md").read_text()
    table = text.split("## Capabilities per backend", 1)[1].split("\n\n")[2]
    header, _, *rows = table.splitlines()
    backends = [cell.strip() for cell in header.strip("|").split("|")][1:]
    documented = {}
    for row in rows:
        name, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        documented[name] = dict(zip(backends, cells, strict=True))
    expected = {
        name: {backend: CAPABILITIES[backend][name] for backend in backends}
        for name in CAPABILITIES["openai"]
    }
    assert documented == expected
