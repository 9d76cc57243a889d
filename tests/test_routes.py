"""GET /, unknown routes and methods (Express-style 404 pages)."""

from __future__ import annotations

import httpx
import pytest

from chatgpt_api import __version__


def test_home_page(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"chatgpt-api {__version__}" in response.text
    assert "/send_message" in response.text
    head = client.head("/")
    assert head.status_code == 200
    assert head.content == b""


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/send_message"),
        ("PUT", "/get_access_token"),
        ("POST", "/"),
        ("GET", "/<script>"),
    ],
)
def test_unknown_routes_are_express_404_pages(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == "default-src 'none'"
    shown = path.replace("<", "&lt;").replace(">", "&gt;")
    assert f"<pre>Cannot {method} {shown}</pre>" in response.text
    assert "<script>" not in response.text
