"""``GET /``: a small HTML status page, and the Express-style 404 for everything unknown.

Both the page and ``GET /openapi.json`` are built from the OpenAPI document, whose module (and
its generated JSON schemas) is imported at the first request that needs it, not at start-up.
"""

from __future__ import annotations

import html
from functools import cache

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api import __version__
from chatgpt_api.api.errors import openai_error_response
from chatgpt_api.errors import NotFound
from chatgpt_api.http_responses import HTML_TYPE, not_found_page
from chatgpt_api.reference.render import operation_anchor

#: The groups of the status page, by path prefix (first match wins).
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("The seed API (zhuweiyou/chatgpt-api)", ("/send_message", "/get_access_token")),
    ("The OpenAI-compatible API", ("/v1/chat", "/v1/models")),
    ("Conversations", ("/v1/conversations",)),
    ("Pages", ("/playground", "/docs", "/redoc", "/openapi.json", "/")),
    ("Operations", ("/healthz", "/readyz", "/metrics")),
)


def _surface(method: str, path: str, summary: str) -> str:
    docs = f'<a href="/docs#{operation_anchor(method, path)}">reference</a>'
    shown = f"{method.upper()} {path}"
    if method == "get" and "{" not in path:
        shown = f'GET <a href="{html.escape(path)}">{html.escape(path)}</a>'
    return f"<li><code>{shown}</code> — {html.escape(summary)} ({docs})</li>"


@cache
def _page() -> str:
    """The status page: every route of the OpenAPI document, grouped, with working links."""
    from chatgpt_api.api.openapi import openapi_document

    operations = [
        (method, path, str(operation.get("summary", "")))
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if path != "/favicon.ico"
    ]
    sections: list[str] = []
    for title, _ in _GROUPS:
        items = [
            _surface(method, path, summary)
            for method, path, summary in operations
            if _group_of(path) == title
        ]
        sections.append(f"<h4>{html.escape(title)}</h4>\n<ul>\n" + "\n".join(items) + "\n</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<title>chatgpt-api</title>\n<link rel="icon" href="/favicon.ico">\n</head>\n<body>\n'
        f"<h3>chatgpt-api {__version__} is running</h3>\n"
        "<p>A drop-in replacement for zhuweiyou/chatgpt-api, with an OpenAI-compatible API. "
        'Try it in the <a href="/playground">playground</a>; every route, field and status is '
        'in the <a href="/docs">API reference</a>.</p>\n'
        "<p><code>POST /send_message</code> takes access_token, prompt, model, timeout, "
        "conversation_id, parent_message_id, reverse_proxy and stream; "
        "<code>POST /get_access_token</code> takes email + password (+ proxy), or "
        "session_token.</p>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def _group_of(path: str) -> str:
    for title, prefixes in _GROUPS:
        if any(path == p or (p != "/" and path.startswith(p)) for p in prefixes):
            return title
    return _GROUPS[-1][0]


async def home_page(request: Request) -> Response:
    return Response(_page(), media_type=HTML_TYPE)


async def openapi_json(request: Request) -> Response:
    """``GET /openapi.json`` (see :mod:`chatgpt_api.api.openapi`)."""
    from chatgpt_api.api.openapi import openapi_route

    return await openapi_route(request)


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, as Express's final handler answered them."""
    if isinstance(exc, HTTPException) and exc.status_code not in (404, 405):
        return Response(exc.detail, status_code=exc.status_code)
    path = request.url.path
    if path.startswith("/v1/") or path == "/v1":
        return openai_error_response(NotFound(f"Unknown request URL: {request.method} {path}."))
    return not_found_page(request.method, path)
