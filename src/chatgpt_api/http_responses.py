"""Small, fast response builders shared by the routes, the health checks and the static pages."""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class JSONResponse(Response):
    """Compact UTF-8 JSON (orjson), ``application/json; charset=utf-8``."""

    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def not_found_page(method: str, path: str) -> Response:
    """Express's final-handler 404 page, as the seed answered unknown routes."""
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Error</title>\n</head>\n<body>\n"
        f"<pre>Cannot {html.escape(method)} {html.escape(path)}</pre>\n"
        "</body>\n</html>\n"
    )
    return Response(
        body,
        status_code=404,
        media_type=HTML_TYPE,
        headers={
            "Content-Security-Policy": "default-src 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )
