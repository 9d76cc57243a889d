"""The upstream faults the reliability tests inject, on both surfaces, and their documented
outcome (shared by tests/test_faults.py and tests/test_faults_load.py).

Every fault is served by the emulator: ChatGPT fixtures under ``/fixtures/<name>/...`` (which
answer any path, so an ``openai-compatible`` model can point at them too) and OpenAI faults
under ``/openai-faults/<fault>/v1``. "Connection refused" is a loopback port nobody listens on.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from chatgpt_api.testing import FIXTURES

#: The seed route's ``timeout`` (ms) for the faults that never finish by themselves.
SEED_TIMEOUT_MS = 500
#: ``upstream_timeout`` (s) of the services under test: the /v1 deadline.
V1_TIMEOUT_S = 1.0
#: How much later than its deadline a timed-out request may answer (a noisy 2-core machine).
MARGIN_S = 5.0


@dataclass(frozen=True)
class SeedFault:
    """``/send_message`` with ``reverse_proxy`` at a fault: the ``{"message"}`` expected."""

    fault: str
    target: str  # a fixture name, or "refused"
    messages: frozenset[str] = frozenset()  # any of these exactly
    prefix: str = ""  # or a message starting with this
    timed: bool = False  # the fault never ends: the deadline must cut it

    def url(self, emulator_url: str, refused_port: int) -> str:
        if self.target == "refused":
            return f"http://127.0.0.1:{refused_port}/backend-api/conversation"
        return f"{emulator_url}/fixtures/{self.target}/backend-api/conversation"

    def matches(self, message: str) -> bool:
        return message in self.messages or bool(self.prefix and message.startswith(self.prefix))


@dataclass(frozen=True)
class V1Fault:
    """``/v1/chat/completions`` with a model routed to a fault: status, code expected."""

    fault: str
    model: str  # a model of models_toml()
    status: int
    code: str
    retry_after: str | None = None
    timed: bool = False
    #: The status of a streamed request, when the fault comes after the stream began: 200
    #: headers are on the wire by then, so the error is the stream's last event, not a status.
    stream_status: int | None = None

    def expected_status(self, stream: bool) -> int:
        return self.stream_status if stream and self.stream_status is not None else self.status


def _http_error(name: str) -> SeedFault:
    fixture = FIXTURES[name]
    body = fixture.body.decode()
    return SeedFault(
        f"HTTP {fixture.status}", name, frozenset({f"ChatGPT error {fixture.status}: {body}"})
    )


TIMEOUT = frozenset({"ChatGPT timed out waiting for response"})

SEED_FAULTS: tuple[SeedFault, ...] = (
    SeedFault("connection refused", "refused", prefix="fetch failed: cannot reach 127.0.0.1:"),
    SeedFault("reset before the response", "reset-headers", prefix="fetch failed: cannot reach "),
    SeedFault("reset during the stream", "F7a", frozenset({"terminated"})),
    SeedFault("reset after a comment", "F7b", frozenset({"terminated"})),
    SeedFault("stall after the headers", "stall", TIMEOUT, timed=True),
    SeedFault("stall before the headers", "stall-headers", TIMEOUT, timed=True),
    SeedFault("slow drip", "slow-drip", TIMEOUT, timed=True),
    SeedFault("never-ending stream", "never-ends", TIMEOUT, timed=True),
    SeedFault(
        "garbage bytes",
        "garbage",
        frozenset({"ChatGPT sent no answer", "ChatGPT sent an event that is not valid JSON"}),
    ),
    SeedFault(
        "10 MB single line",
        "huge-line",
        frozenset({"ChatGPT sent an event larger than 1048576 bytes"}),
    ),
    _http_error("F9-401"),
    _http_error("F9-403"),
    _http_error("F9-429a"),
    _http_error("F9-500"),
    _http_error("F9-502"),
    _http_error("F9-503"),
    SeedFault("redirect to another host", "redirect-host", frozenset({"ChatGPT error 307: "})),
)

V1_FAULTS: tuple[V1Fault, ...] = (
    V1Fault("connection refused", "refused", 502, "upstream_unreachable"),
    V1Fault("reset before the response", "fx-reset-headers", 502, "upstream_unreachable"),
    V1Fault("reset during the stream", "of-drop", 502, "upstream_terminated", stream_status=200),
    V1Fault("stall after the headers", "of-stall", 504, "upstream_timeout", timed=True),
    V1Fault("stall before the headers", "fx-stall-headers", 504, "upstream_timeout", timed=True),
    V1Fault("slow drip", "fx-slow-drip", 504, "upstream_timeout", timed=True),
    V1Fault("never-ending stream", "fx-never-ends", 504, "upstream_timeout", timed=True),
    # The upstream's first chunk is relayed as it comes, so the stream has begun (200).
    V1Fault("garbage data line", "of-garbage", 502, "upstream_protocol_error", stream_status=200),
    V1Fault("garbage bytes", "fx-garbage", 502, "upstream_no_answer"),
    V1Fault("10 MB single line", "fx-huge-line", 502, "upstream_protocol_error"),
    V1Fault("HTTP 401", "fx-F9-401", 401, "upstream_status"),
    V1Fault("HTTP 403", "fx-F9-403", 403, "upstream_status"),
    V1Fault("HTTP 429", "of-429", 429, "rate_limit_exceeded", retry_after="7"),
    V1Fault("HTTP 500", "of-500", 502, "upstream_status"),
    V1Fault("HTTP 502", "of-502", 502, "upstream_status"),
    V1Fault("HTTP 503", "fx-F9-503", 502, "upstream_status", retry_after="30"),
    V1Fault("redirect to another host", "fx-redirect-host", 502, "upstream_status"),
)

_FIXTURE_MODELS = (
    "reset-headers",
    "stall-headers",
    "slow-drip",
    "never-ends",
    "garbage",
    "huge-line",
    "F9-401",
    "F9-403",
    "F9-503",
    "redirect-host",
)
_OPENAI_FAULTS = ("drop", "stall", "garbage", "429", "500", "502")


def refused_port() -> int:
    """A loopback port nobody listens on (bound and released: connecting is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def models_toml(emulator_url: str, refused: int) -> str:
    lines = [
        '[models."ok"]',
        'backend = "openai-compatible"',
        f'base_url = "{emulator_url}/v1"',
        'upstream_model = "gpt-4o-mini"',
        'api_key = "sk-configured"',
        '[models."refused"]',
        'backend = "openai-compatible"',
        f'base_url = "http://127.0.0.1:{refused}/v1"',
        'api_key = "sk-configured"',
    ]
    for name in _FIXTURE_MODELS:
        lines += [
            f'[models."fx-{name}"]',
            'backend = "openai-compatible"',
            f'base_url = "{emulator_url}/fixtures/{name}/v1"',
            'api_key = "sk-configured"',
        ]
    for fault in _OPENAI_FAULTS:
        lines += [
            f'[models."of-{fault}"]',
            'backend = "openai-compatible"',
            f'base_url = "{emulator_url}/openai-faults/{fault}/v1"',
            'upstream_model = "gpt-4o-mini"',
            'api_key = "sk-configured"',
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- reading answers


def seed_error(response: httpx.Response) -> dict[str, Any] | None:
    """The ``{"message"}`` of a failed seed answer: the 500 body, or a stream's error frame."""
    if response.status_code == 500:
        body: dict[str, Any] = response.json()
        return body
    if response.status_code == 200 and response.headers["content-type"].startswith(
        "text/event-stream"
    ):
        frames = [f for f in response.content.split(b"\n\n") if f]
        if frames and frames[-1].startswith(b"event: error\ndata: "):
            error: dict[str, Any] = orjson.loads(frames[-1].split(b"data: ", 1)[1])
            return error
    return None


def v1_error(response: httpx.Response) -> tuple[int, dict[str, Any]] | None:
    """``(status, error object)`` of a failed /v1 answer (a stream's error: status 200)."""
    if response.status_code >= 400:
        return response.status_code, response.json()["error"]
    if response.headers["content-type"].startswith("text/event-stream"):
        frames = [f for f in response.content.split(b"\n\n") if f]
        if frames and frames[-1].startswith(b"data: {"):
            last = orjson.loads(frames[-1].removeprefix(b"data: "))
            if "error" in last:
                return 200, last["error"]
    return None


def seed_outcome(fault: SeedFault, response: httpx.Response) -> str | None:
    """``None`` when the answer is the documented one, else what was wrong."""
    error = seed_error(response)
    if error is None:
        return f"{fault.fault}: status {response.status_code}, no error"
    if not fault.matches(str(error.get("message"))):
        return f"{fault.fault}: message {str(error.get('message'))[:80]!r}"
    return None


def v1_outcome(fault: V1Fault, response: httpx.Response, *, stream: bool) -> str | None:
    """``None`` when the answer is the documented one, else what was wrong."""
    outcome = v1_error(response)
    if outcome is None:
        return f"{fault.fault}: status {response.status_code}, no error"
    status, error = outcome
    if error.get("code") != fault.code or status != fault.expected_status(stream):
        return f"{fault.fault}: {status} {error.get('code')}"
    if fault.retry_after is not None and response.headers.get("retry-after") != fault.retry_after:
        return f"{fault.fault}: Retry-After {response.headers.get('retry-after')}"
    return None
