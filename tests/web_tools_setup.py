"""Shared setup of the chatgpt-web tool emulation tests: the models file (an emulated web
model, the two fault models of the emulator, a plain web model), a tool, the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
default_backend = "chatgpt-web"

[models."web-tools"]
backend = "chatgpt-web"
emulate_tools = true

[models."web-repaired"]
backend = "chatgpt-web"
upstream_model = "tools-malformed-once"
emulate_tools = true

[models."web-broken"]
backend = "chatgpt-web"
upstream_model = "tools-malformed-always"
emulate_tools = true

[models."web-plain"]
backend = "chatgpt-web"
"""

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
QUESTION = [{"role": "user", "content": "What is the weather in 'Oslo'? Use get_weather."}]


@contextmanager
def web_tools_gateway(emulator: EmulatorThread, home: Path) -> Iterator[ServiceThread]:
    """The service with :data:`MODELS`, its web models answered by ``emulator``."""
    models = home / "models.toml"
    models.write_text(MODELS)
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=models,
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    ) as svc:
        yield svc


def received_prompts(emulator: EmulatorThread) -> list[str]:
    """The prompts the emulator's web endpoint received, in order."""
    return [
        r.json["messages"][0]["content"]["parts"][0]
        for r in emulator.requests
        if r.path.endswith("/conversation") and isinstance(r.json, dict)
    ]
