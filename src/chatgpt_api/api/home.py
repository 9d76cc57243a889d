"""``GET /``: a small HTML status page, and the Express-style 404 for everything unknown."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api import __version__
from chatgpt_api.api.errors import openai_error_response
from chatgpt_api.api.responses import HTML_TYPE, not_found_page
from chatgpt_api.errors import NotFound

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chatgpt-api</title>
</head>
<body>
<h3>chatgpt-api {__version__} is running</h3>
<p>A drop-in replacement for zhuweiyou/chatgpt-api. See the README's
<a href="#api">API section</a> for every field, default and example.</p>
<h4 id="api">API</h4>
<ul>
<li><code>POST /send_message</code> — access_token, prompt, model, timeout, conversation_id,
parent_message_id, reverse_proxy, stream</li>
<li><code>POST /get_access_token</code> — email + password (+ proxy), or session_token</li>
</ul>
</body>
</html>
"""


async def home_page(request: Request) -> Response:
    return Response(_PAGE, media_type=HTML_TYPE)


async def not_found(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, as Express's final handler answered them."""
    if isinstance(exc, HTTPException) and exc.status_code not in (404, 405):
        return Response(exc.detail, status_code=exc.status_code)
    path = request.url.path
    if path.startswith("/v1/") or path == "/v1":
        return openai_error_response(NotFound(f"Unknown request URL: {request.method} {path}."))
    return not_found_page(request.method, path)
