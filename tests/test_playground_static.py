"""The playground's page and assets as served (no browser): local assets only, safe headers."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from chatgpt_api.playground import STATIC_DIR
from tests.servers import ServiceThread

ASSETS = {"app.js": "javascript", "markdown.js": "javascript", "style.css": "text/css"}


def test_page_and_assets_are_served_from_the_package(tmp_path: Path) -> None:
    assert {p.name for p in STATIC_DIR.iterdir()} >= {*ASSETS, "index.html"}
    with ServiceThread(home=tmp_path) as svc:
        page = httpx.get(f"{svc.url}/playground")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "{{v}}" not in page.text
        # Everything the page loads is ours: no CDN, no inline script.
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert url.startswith("/playground/static/") or url == "/favicon.ico", url
        assert "<script>" not in page.text
        for name, kind in ASSETS.items():
            asset = httpx.get(f"{svc.url}/playground/static/{name}")
            assert asset.status_code == 200, name
            assert kind in asset.headers["content-type"], name
        assert httpx.get(f"{svc.url}/playground/static/nope.js").status_code == 404


def test_the_page_uses_only_the_public_api() -> None:
    source = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    paths = set(re.findall(r'"(v1/[a-z/]*)', source)) | set(re.findall(r"`(v1/[a-z/]*)", source))
    assert paths == {"v1/models", "v1/conversations", "v1/conversations/", "v1/chat/completions"}
    assert "innerHTML = renderMarkdown(" in source
    assert source.count("innerHTML") == 1  # the only one, and it is escaped markdown
