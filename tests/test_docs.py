"""The configuration reference (docs/configuration.md) is generated from the settings model: it
cannot drift."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from chatgpt_api.cli.main import main, serve
from chatgpt_api.config import Settings
from chatgpt_api.config_docs import END, START, replace_section, settings_markdown

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "configuration.md"


def test_configuration_reference_is_current() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert replace_section(text, settings_markdown(serve)) == text, (
        "the settings table of docs/configuration.md is stale: run `make docs`"
    )


def test_make_docs_writes_the_configuration_reference() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\ndocs:", 1)[1].split("\n\n", 1)[0]
    assert "chatgpt-api settings --write docs/configuration.md" in target


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
        raise AssertionError("a file without markers must be refused")


def test_the_capability_table_in_the_docs_is_the_code_s() -> None:
    from chatgpt_api.capabilities import CAPABILITIES

    text = (ROOT / "docs" / "compatibility.md").read_text()
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


def test_settings_write_rewrites_only_the_marked_section(tmp_path: Path) -> None:
    target = tmp_path / "configuration.md"
    target.write_text(f"intro\n{START}\nold table\n{END}\noutro\n", encoding="utf-8")
    done = CliRunner().invoke(main, ["settings", "--write", str(target)])
    assert done.exit_code == 0, done.output
    assert done.output == f"{target}: updated\n"
    assert target.read_text(encoding="utf-8") == (
        f"intro\n{START}\n{settings_markdown(serve)}{END}\noutro\n"
    )
    again = CliRunner().invoke(main, ["settings", "--write", str(target)])
    assert again.output == f"{target}: already up to date\n"
