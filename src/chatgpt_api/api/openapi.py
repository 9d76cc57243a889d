"""The OpenAPI 3.1 description of every route, served at ``GET /openapi.json``.

Paths and the other routes' schemas are written out by hand (:mod:`.openapi_paths`,
:mod:`.openapi_components`); the ``/v1`` bodies are generated from the typed wire models.
tests/test_fuzz_api.py fuzzes every operation against this document.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api import __version__
from chatgpt_api.api.anthropic_models import CountTokensBody, MessagesBody
from chatgpt_api.api.chat_models import openapi_schemas
from chatgpt_api.api.openapi_components import SCHEMAS, SECURITY_SCHEMES
from chatgpt_api.api.openapi_paths import PATHS
from chatgpt_api.api.responses_openapi import responses_schemas, with_responses_paths
from chatgpt_api.http_responses import JSONResponse


def _schemas() -> dict[str, Any]:
    """The hand-written schemas of the other routes, and the ``/v1`` wire models' generated
    ones (request and answer bodies of chat completions and embeddings)."""
    generated = {**openapi_schemas(), **_anthropic_schemas(), **responses_schemas()}
    clash = generated.keys() & SCHEMAS.keys()
    if clash:
        raise RuntimeError(f"schema names defined twice: {sorted(clash)}")
    return {**SCHEMAS, **generated}


def _anthropic_schemas() -> dict[str, Any]:
    """The Anthropic request models' schemas, each name prefixed with ``Anthropic``."""
    _, document = models_json_schema(
        [(MessagesBody, "validation"), (CountTokensBody, "validation")],
        ref_template="#/components/schemas/Anthropic{model}",
    )
    return {f"Anthropic{name}": schema for name, schema in document["$defs"].items()}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatgpt-api",
            "version": __version__,
            "description": "A drop-in replacement for zhuweiyou/chatgpt-api, plus an "
            "OpenAI-compatible API with server-side conversations.",
        },
        "paths": with_responses_paths(PATHS),
        "components": {"schemas": _schemas(), "securitySchemes": SECURITY_SCHEMES},
        # A key is needed once one exists (or with CHATGPT_API_REQUIRE_API_KEY); GET / and
        # /openapi.json never need one.
        "security": [{}, {"gatewayKey": []}],
    }


async def openapi_route(request: Request) -> Response:
    return JSONResponse(openapi_document())
