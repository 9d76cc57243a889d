"""API fuzzing: schemathesis against the service's own ``/openapi.json``, every route.

A real service on 127.0.0.1 (upstreams: the emulator, also on 127.0.0.1) is fuzzed operation by
operation with schema-valid and schema-invalid requests (schemathesis' examples, coverage and
fuzzing phases), over HTTP. Every response must:

* have a status the document lists for the operation — the seed routes' contract is encoded
  there: every failure is 500 ``{"message": ...}``, gateway refusals are 401/429/503;
* match the documented content type and body schema for that status (each event of a stream);
* not be a crash: no 5xx the operation does not document, and no answer built from an
  unexpected exception (the service's fixed ``internal server error`` message);
* carry no Python traceback or internal exception text, whatever its status (an ``after_call``
  hook asserts this on every response, probes included).

Bounded and repeatable: a fixed seed, derandomized generation and a per-operation example
budget (``FUZZ_EXAMPLES``: 60 keeps this file near a minute on 2 cores; 120 took 100 s;
``FUZZ_EXAMPLES=500`` for a deeper run). Client-given
upstream URLs (``reverse_proxy``) are turned off, so nothing the fuzzer writes leaves loopback.

The document is known at collection time (``openapi_document()``), so every operation is its
own test; ``test_the_fuzzed_document_is_the_served_one`` checks it is exactly what the service
serves at ``/openapi.json``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chatgpt_api.api.errors import INTERNAL_ERROR_MESSAGE
from chatgpt_api.api.openapi import openapi_document
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
FUZZ_SEED = 20240601

MODELS_TOML = """
default_backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai-compatible"
base_url = "{emu}/v1"
api_key = "sk-fuzz"

[models."compat"]
backend = "openai-compatible"
base_url = "{emu}/v1"
upstream_model = "gpt-4o"
api_key = "sk-fuzz"

[models."text-embedding-3-small"]
backend = "openai-compatible"
base_url = "{emu}/v1"
api_key = "sk-fuzz"
kind = "embedding"
"""

#: What a Python traceback or a leaked exception looks like in a response.
LEAK = re.compile(
    r"Traceback \(most recent call last\)"
    r'|File "[^"]*", line \d+'
    r"|site-packages|\.py\b"
    r"|chatgpt_api[./]"
    r"|\b(?:Type|Key|Attribute|Index|Value|Assertion|Recursion|Runtime|Unicode\w*|ZeroDivision"
    r"|Overflow|Lookup|Name|NotImplemented|OS|Connection|Timeout|Memory)Error\b"
    r"|\b(?:StopIteration|StopAsyncIteration|CancelledError|Exception)\b"
    r"|object has no attribute|NoneType|not subscriptable|unhashable type|takes \d+ positional"
    r"|<[\w.]+ object at 0x[0-9a-f]+>"
    r"|\b(?:sqlalchemy|aiohttp|asyncpg|aiosqlite|starlette|uvicorn|orjson|pydantic)\.",
)
#: Bodies that are ours and may legitimately contain such words.
NOT_ERROR_TEXT = {"/openapi.json", "/metrics", "/playground", "/", "/docs", "/favicon.ico"}


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "generation": {"mode": "all", "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
        }
    )


Case = schemathesis.Case[Any]

#: The document the service serves at /openapi.json.
schema = schemathesis.openapi.from_dict(openapi_document(), config=fuzz_config())


def leaked(case: Case, response: schemathesis.Response) -> str | None:
    """Traceback-like or exception-like text in a response, if any."""
    if case.path in NOT_ERROR_TEXT and response.status_code < 400:
        return None
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    found = LEAK.search(response.text + "\n" + headers)
    if found is None:
        return None
    # A value the fuzzer sent, echoed in an error ("The model `uvicorn.` does not exist"), is
    # not a leak: only text the request did not carry counts.
    sent = repr((case.path_parameters, case.query, case.body))
    return None if found.group(0) in sent else found.group(0)


@schema.hook
def after_call(
    context: schemathesis.HookContext, case: Case, response: schemathesis.Response
) -> None:
    """Every response the fuzzer gets, probes included: no traceback, no exception text."""
    found = leaked(case, response)
    assert found is None, (
        f"{case.method} {case.path} leaked {found!r} ({response.status_code}): "
        f"{response.text[:300]}"
    )


def no_crash(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """No 5xx the operation does not document, and no answer from an unexpected exception."""
    status = response.status_code
    documented = {str(code) for code in case.operation.definition.raw.get("responses", {})}
    if status >= 500 and str(status) not in documented:
        raise AssertionError(f"undocumented {status}: {response.text[:300]}")
    if status >= 400 and INTERNAL_ERROR_MESSAGE in response.text:
        raise AssertionError(f"crash ({status}): {response.text[:300]}")
    return None


def no_leak(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    found = leaked(case, response)
    if found is not None:
        raise AssertionError(f"leaked {found!r} ({response.status_code}): {response.text[:300]}")
    return None


CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_crash,
    no_leak,
]


@pytest.fixture(scope="module")
def fuzz_service(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("fuzz")
    models = home / "models.toml"
    models.write_text(MODELS_TOML.format(emu=emulator.url))
    with ServiceThread(
        home=Path(home),
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        auth_url=f"{emulator.url}/api",
        session_url=f"{emulator.url}/api/auth/session",
        models_file=models,
        allow_request_upstreams=False,
        max_body_size=64 * 1024,
    ) as svc:
        yield svc


def new_conversation(service: ServiceThread) -> str:
    body = {"model": "compat", "messages": [{"role": "user", "content": "fuzz"}]}
    response = httpx.post(f"{service.url}/v1/chat/completions", json=body, timeout=15)
    response.raise_for_status()
    conversation_id = response.json()["conversation_id"]
    assert isinstance(conversation_id, str)
    return conversation_id


@pytest.fixture(scope="module")
def kept_conversation(fuzz_service: ServiceThread) -> str:
    """A conversation the GET and PATCH cases can find (random ids only ever get 404s)."""
    return new_conversation(fuzz_service)


def use_an_existing_conversation(case: Case, service: ServiceThread, kept: str) -> None:
    """Point about half of the ``{id}`` cases at a real conversation (chosen from the generated
    id, so the run stays repeatable); DELETE gets a fresh one each time."""
    generated = case.path_parameters.get("id")
    if not isinstance(generated, str) or hashlib.sha256(generated.encode()).digest()[0] % 2:
        return
    case.path_parameters["id"] = new_conversation(service) if case.method == "DELETE" else kept


@schema.parametrize()
@settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_keeps_its_contract(
    case: Case, fuzz_service: ServiceThread, kept_conversation: str
) -> None:
    use_an_existing_conversation(case, fuzz_service, kept_conversation)
    case.call_and_validate(base_url=fuzz_service.url, checks=CHECKS, timeout=15)


def test_the_fuzzed_document_is_the_served_one(fuzz_service: ServiceThread) -> None:
    served = schemathesis.openapi.from_url(
        f"{fuzz_service.url}/openapi.json", config=fuzz_config(), timeout=10
    )
    assert served.raw_schema == schema.raw_schema
    labels = {result.ok().label for result in schema.get_all_operations() if isinstance(result, Ok)}
    assert len(labels) == sum(len(item) for item in schema.raw_schema["paths"].values()) == 34


# --- what the fuzzing found, kept as plain regression requests --------------------------------

DEEP = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        # Unicode digits pass str.isdigit() but not int(): was an unexpected 500.
        ("GET", "/v1/conversations?limit=%C2%B2", None, 400, "Invalid 'limit'"),
        ("GET", "/v1/conversations?offset=%D9%A3", None, 400, "Invalid 'offset'"),
        # Over 4,300 digits: int() refuses them: was an unexpected 500.
        ("GET", "/v1/conversations?offset=" + "9" * 5000, None, 400, "Invalid 'offset'"),
        ("GET", "/v1/conversations?offset=" + "0" * 5000 + "7", None, 200, None),
        # Deep nesting that orjson takes and the duplicate-key check's json module did not.
        (
            "POST",
            "/send_message",
            b'{"prompt":"x","access_token":"t","a":' + DEEP + b',"b":{"c":1}}',
            500,
            "invalid JSON body: nested too deeply",
        ),
        # An unhashable role was looked up in a frozenset: was an unexpected 500.
        ("POST", "/v1/chat/completions", b'{"messages":[{"role":{}}]}', 400, "Invalid 'role'"),
        ("POST", "/v1/chat/completions", b'{"messages":[{"role":["user"]}]}', 400, "'role'"),
    ],
)
def test_fuzz_findings_stay_fixed(
    fuzz_service: ServiceThread,
    method: str,
    path: str,
    body: bytes | None,
    status: int,
    message: str | None,
) -> None:
    headers = {"content-type": "application/json"}
    response = httpx.request(
        method, fuzz_service.url + path, content=body, headers=headers, timeout=15
    )
    assert response.status_code == status, response.text
    if message is not None:
        assert message in response.text
    assert INTERNAL_ERROR_MESSAGE not in response.text
