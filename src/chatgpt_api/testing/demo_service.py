"""The service's ``--demo`` mode: the emulator in-process, every kind of upstream pointed at it.

The entry (:func:`chatgpt_api.server.build_app`) passes :func:`start_demo_upstream` to the app,
which runs it first in its lifespan.
"""

from __future__ import annotations

import contextlib
import logging

from chatgpt_api.config import Settings
from chatgpt_api.registry import ModelRegistry, ModelRoute
from chatgpt_api.testing.emulator import Emulator
from chatgpt_api.testing.options import EmulatorOptions

log = logging.getLogger("chatgpt_api")


async def start_demo_upstream(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> tuple[Settings, ModelRegistry]:
    """Run the upstream emulator in-process and point every kind of upstream at it."""
    # The demo's upstream keeps its conversations beside the service's own (restart-safe).
    state_file = settings.home / "demo-upstream.json" if settings.store else None
    emulator = Emulator(EmulatorOptions(chunk_delay_ms=30, demo_state_file=state_file))
    url = await emulator.start("127.0.0.1", 0)
    stack.push_async_callback(emulator.stop)
    log.warning("demo mode: answers come from the built-in emulator at %s", url)
    effective = settings.model_copy(
        update={
            "reverse_proxy": f"{url}/backend-api/conversation",
            "auth_url": f"{url}/api",
            "session_url": f"{url}/api/auth/session",
        }
    )
    registry = ModelRegistry(
        [
            # Every demo model answers without a credential (a client's token is not needed).
            # The web model calls tools and answers in a schema by emulation.
            ModelRoute(
                settings.model,
                "chatgpt-web",
                settings.model,
                None,
                "demo-token",
                emulate_tools=True,
            ),
            ModelRoute("gpt-4o-mini", "openai", "gpt-4o-mini", f"{url}/v1", "demo-key"),
            ModelRoute("gpt-4o", "openai-compatible", "gpt-4o", f"{url}/v1", "demo-key"),
            ModelRoute(
                "text-embedding-3-small",
                "openai",
                "text-embedding-3-small",
                f"{url}/v1",
                "demo-key",
                kind="embedding",
            ),
        ]
    )
    return effective, registry
