"""A fake ChatGPT upstream for tests, shipped with the package (in the spirit of moto).

The emulator is a real HTTP server (aiohttp) playing the ChatGPT web backend
(``/backend-api/conversation``: a dynamic demo backend or canned conformance fixtures) and the
auth services (``/api/auth/session``, chatgpt-auth's ``/api``). Use :class:`Emulator` from async
code, :class:`EmulatorThread` from synchronous tests::

    from chatgpt_api.testing import EmulatorThread

    with EmulatorThread() as emu:
        reverse_proxy = f"{emu.url}/backend-api/conversation"          # demo backend
        broken = f"{emu.url}/fixtures/F7a/backend-api/conversation"     # a fixture
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
from .recording import RecordedRequest
from .thread import EmulatorThread

__all__ = [
    "DELAY_HEADER",
    "FIXTURES",
    "FIXTURE_HEADER",
    "STALL_HEADER",
    "Emulator",
    "EmulatorOptions",
    "EmulatorThread",
    "Fixture",
    "RecordedRequest",
    "create_emulator_app",
    "make_fake_jwt",
]
