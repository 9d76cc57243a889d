"""The web playground: ``GET /playground`` and its static files under ``/playground/static``.

One HTML page with plain ES modules and a stylesheet, shipped as package data (no build step,
no CDN). The page talks to the service through the public ``/v1`` API only, exactly as any
other client would: it holds no server-side state and needs no route of its own beyond these.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from chatgpt_api import __version__
from chatgpt_api.http_responses import HTML_TYPE

STATIC_DIR = Path(__file__).parent / "static"

#: Everything the page loads comes from this origin; nothing inline, no eval. ``blob:`` images
#: are the conversation's attachments, fetched with the API key by the page itself.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data: blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _page() -> str:
    # The version in the asset URLs makes browsers fetch new assets after an upgrade.
    return (STATIC_DIR / "index.html").read_text(encoding="utf-8").replace("{{v}}", __version__)


async def playground_page(request: Request) -> Response:
    return Response(_page(), media_type=HTML_TYPE, headers=_HEADERS)


def static_files() -> StaticFiles:
    """The app mounted at ``/playground/static``."""
    return StaticFiles(directory=STATIC_DIR)


def routes() -> list[BaseRoute]:
    """``GET /playground`` and the static files, for the app's route table."""
    return [
        Route("/playground", playground_page, methods=["GET"]),
        Mount("/playground/static", app=static_files(), name="playground-static"),
    ]
