"""The Responses and Conversations API's OpenAPI part (``api/responses_openapi.py``): merged
into the service's document it describes every route of these APIs, and its references resolve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

from chatgpt_api.api.openapi import openapi_document
from chatgpt_api.api.responses_openapi import responses_schemas, with_responses_paths
from chatgpt_api.app import create_app
from chatgpt_api.config import Settings


def _merged() -> dict[str, Any]:
    document = openapi_document()
    if "/v1/responses" not in document["paths"]:  # not merged into api/openapi.py yet
        document["paths"] = with_responses_paths(document["paths"])
        document["components"]["schemas"].update(responses_schemas())
    return document


def test_every_route_is_described_and_references_resolve(tmp_path: Path) -> None:
    document = _merged()
    app = create_app(Settings(home=tmp_path))
    routes = {
        (route.path.replace("{model:path}", "{model}"), method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    schemas = document["components"]["schemas"]

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "Responses.ResponsesRequest" in schemas


def test_a_method_described_twice_is_refused() -> None:
    with pytest.raises(RuntimeError, match="defined twice"):
        with_responses_paths({"/v1/responses": {"post": {}}})
