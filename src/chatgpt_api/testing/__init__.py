"""A fake ChatGPT upstream for tests, shipped with the package (in the spirit of moto).

The emulator is a real HTTP server (aiohttp) playing the ChatGPT web backend
(``/backend-api/conversation``: a dynamic demo backend or canned conformance fixtures) and the
auth services (``/api/auth/session``, chatgpt-auth's ``/api``), plus an OpenAI-style API
(``/v1/models``, ``/v1/chat/completions`` with tool calls, structured outputs, image parts,
``n`` choices and logprobs, ``/v1/embeddings``, faults under ``/openai-faults/<fault>/v1``)
for ``openai`` SDK, LangChain, pydantic-ai and LiteLLM clients. Use :class:`Emulator`
from async code, :class:`EmulatorThread` from synchronous tests::

    from chatgpt_api.testing import EmulatorThread

    with EmulatorThread() as emu:
        reverse_proxy = f"{emu.url}/backend-api/conversation"          # demo backend
        broken = f"{emu.url}/fixtures/F7a/backend-api/conversation"     # a fixture
        openai_base_url = f"{emu.url}/v1"                               # OpenAI-style API
        rate_limited = f"{emu.url}/openai-faults/429/v1"                # an OpenAI fault
        ...
        assert emu.requests[-1].headers["authorization"] == "Bearer tok"
"""

from .auth import make_fake_jwt
from .emulator import (
    DELAY_HEADER,
    FIXTURE_HEADER,
    STALL_HEADER,
    Emulator,
    EmulatorOptions,
    create_emulator_app,
)
from .fixtures import FIXTURES, Fixture
from .openai_emulator import INVALID_API_KEYS, OPENAI_FAULTS
from .options import DEFAULT_OPENAI_MODELS
from .recording import RecordedRequest
from .thread import EmulatorThread

__all__ = [
    "DEFAULT_OPENAI_MODELS",
    "DELAY_HEADER",
    "FIXTURES",
    "FIXTURE_HEADER",
    "INVALID_API_KEYS",
    "OPENAI_FAULTS",
    "STALL_HEADER",
    "Emulator",
    "EmulatorOptions",
    "EmulatorThread",
    "Fixture",
    "RecordedRequest",
    "create_emulator_app",
    "make_fake_jwt",
]
