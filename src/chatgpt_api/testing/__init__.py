"""A fake ChatGPT upstream for tests, shipped with the package (in the spirit of moto).

A real HTTP server (aiohttp) playing the ChatGPT web backend (a demo backend and canned
fixtures), the auth services and an OpenAI-style API with faults (:mod:`.emulator`). Use
:class:`Emulator` from async code, :class:`EmulatorThread` from synchronous tests::

    with EmulatorThread() as emu:
        reverse_proxy = f"{emu.url}/backend-api/conversation"
        openai_base_url = f"{emu.url}/v1"
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
