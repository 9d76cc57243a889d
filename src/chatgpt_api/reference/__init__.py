"""``GET /docs`` (the API reference), ``GET /redoc`` (a redirect to it) and ``/favicon.ico``.

The reference is rendered on the server from the OpenAPI document (:mod:`.render`) with one
stylesheet shipped in this package: no CDN, no script, and the same strict
Content-Security-Policy as the playground.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chatgpt_api.http_responses import HTML_TYPE
from chatgpt_api.playground import CONTENT_SECURITY_POLICY
from chatgpt_api.reference.render import render_reference

STATIC_DIR = Path(__file__).parent / "static"

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _page() -> str:
    from chatgpt_api.api.openapi import openapi_document  # built at the first request only

    return render_reference(openapi_document())


@cache
def _favicon() -> bytes:
    return (STATIC_DIR / "favicon.ico").read_bytes()


async def docs_page(request: Request) -> Response:
    return Response(_page(), media_type=HTML_TYPE, headers=_HEADERS)


async def redoc_redirect(request: Request) -> Response:
    return RedirectResponse("/docs", status_code=307)


async def favicon(request: Request) -> Response:
    return Response(
        _favicon(),
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def routes() -> list[BaseRoute]:
    """The reference page, its stylesheet, the redirect and the icon, for the route table."""
    return [
        Route("/docs", docs_page, methods=["GET"]),
        Route("/redoc", redoc_redirect, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Mount("/docs/static", app=StaticFiles(directory=STATIC_DIR), name="docs-static"),
    ]
