"""The history budget, the transcript folding for the web backend, and the model registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatgpt_api.errors import ConfigurationError, ModelNotFound
from chatgpt_api.history import fold_transcript, trim_history
from chatgpt_api.messages import Message
from chatgpt_api.registry import OPENAI_BASE_URL, ModelRegistry


def conversation(n: int) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(n)]


def test_trim_keeps_system_and_newest() -> None:
    messages = [Message("system", "sys"), *conversation(9)]
    kept = trim_history(messages, max_messages=4, max_chars=10_000)
    assert [m.content for m in kept] == ["sys", "m6", "m7", "m8"]


def test_trim_by_characters_drops_oldest_first() -> None:
    messages = [Message("user", "a" * 50), Message("assistant", "b" * 50), Message("user", "c")]
    kept = trim_history(messages, max_messages=100, max_chars=60)
    assert [m.content for m in kept] == ["b" * 50, "c"]


def test_trim_always_keeps_the_new_message() -> None:
    kept = trim_history([Message("user", "x" * 500)], max_messages=1, max_chars=100)
    assert kept == (Message("user", "x" * 500),)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 30), max_messages=st.integers(1, 40), max_chars=st.integers(100, 400))
def test_trim_properties(n: int, max_messages: int, max_chars: int) -> None:
    messages = conversation(n)
    kept = trim_history(messages, max_messages=max_messages, max_chars=max_chars)
    assert kept[-1] == messages[-1]
    assert len(kept) <= max(1, max_messages)
    assert list(kept) == messages[len(messages) - len(kept) :]  # a suffix: oldest dropped


def test_fold_transcript() -> None:
    assert fold_transcript([Message("user", "only")]) == "only"
    folded = fold_transcript(
        [
            Message("system", "Be nice"),
            Message("user", "hi"),
            Message("assistant", "hello"),
            Message("user", "and?"),
        ]
    )
    assert folded == (
        "Here is our conversation so far:\n\nSystem: Be nice\n\nUser: hi\n\nAssistant: hello"
        "\n\nNow answer my latest message:\n\nand?"
    )


def test_default_registry_routes_everything_to_the_web_backend() -> None:
    route = ModelRegistry([]).resolve("gpt-4")
    assert (route.backend, route.upstream_model, route.listed) == ("chatgpt-web", "gpt-4", False)


def test_registry_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-from-env")
    path = tmp_path / "models.toml"
    path.write_text(
        'default_backend = "none"\n'
        '[models.fast]\nbackend = "openai"\nupstream_model = "gpt-4o-mini"\n'
        'api_key_env = "MY_KEY"\n'
        '[models.local]\nbackend = "openai-compatible"\nbase_url = "http://127.0.0.1:1/v1"\n'
        "include_usage = false\n"
        '[models.vectors]\nbackend = "openai"\nkind = "embedding"\n'
    )
    registry = ModelRegistry.from_file(path)
    fast = registry.resolve("fast")
    assert (fast.base_url, fast.api_key, fast.upstream_model) == (
        OPENAI_BASE_URL,
        "sk-from-env",
        "gpt-4o-mini",
    )
    assert "sk-from-env" not in repr(fast)
    assert registry.resolve("local").include_usage is False
    assert (fast.kind, registry.resolve("vectors").kind) == ("chat", "embedding")
    with pytest.raises(ModelNotFound):
        registry.resolve("other")
    assert [r.name for r in registry.listed()] == ["fast", "local", "vectors"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("not toml = = =", "not valid TOML"),
        ('[models.x]\nbackend = "nope"\n', "invalid"),
        ('[models.x]\nbackend = "openai-compatible"\n', "needs a base_url"),
        ('[models.x]\nbackend = "openai"\ncolour = "red"\n', "invalid"),
        ('[models.x]\nbackend = "openai"\nkind = "audio"\n', "invalid"),
        ('[models.x]\nbackend = "chatgpt-web"\nkind = "embedding"\n', "needs an openai"),
    ],
)
def test_bad_registry_files(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as error:
        ModelRegistry.from_file(path)
    assert needle in error.value.message


def test_missing_registry_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as error:
        ModelRegistry.from_file(tmp_path / "absent.toml")
    assert "cannot read the models file" in error.value.message
