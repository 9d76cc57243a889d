"""``GET /`` lists every surface with working links, and ``/docs`` (the API reference generated
from the OpenAPI document) renders under the strict CSP — checked in headless Chromium.

Screenshots go to ``test-output/docs/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.api.openapi import openapi_document
from chatgpt_api.reference.render import operation_anchor
from tests.browser import CHROMIUM_ARGS, ensure_chromium
from tests.servers import ServiceThread
from tests.services import unavailable

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    unavailable(
        "Chromium", "playwright is not installed: pip install -e '.[dev]'", allow_module_level=True
    )

pytestmark = pytest.mark.timeout(900)

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "docs"
STEP_MS = 15_000


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    with ServiceThread(demo=True, home=tmp_path_factory.mktemp("docs")) as svc:
        yield svc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = ensure_chromium()
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture()
def page(browser: Browser, service: ServiceThread) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, base_url=service.url)
    context.set_default_timeout(STEP_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_home_lists_every_surface_with_working_links(page: Page, service: ServiceThread) -> None:
    page.goto("/")
    shot(page, "home")
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    paths = {href.removeprefix(service.url) for href in hrefs}
    document = openapi_document()
    for path, item in document["paths"].items():
        if path == "/favicon.ico":
            continue
        for method in item:
            assert f"/docs#{operation_anchor(method, path)}" in paths, (method, path)
            if method == "get" and "{" not in path:
                assert path in paths, f"GET {path} has no link on /"
    anchors: dict[str, set[str]] = {}
    for href in sorted(set(hrefs)):
        base, _, anchor = href.partition("#")
        if base not in anchors:
            response = page.goto(base)
            assert response is not None and response.ok, f"{base}: {response and response.status}"
            anchors[base] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        assert not anchor or anchor in anchors[base], f"{href}: no such anchor"
    assert page.problems == []  # type: ignore[attr-defined]


def test_docs_render_the_openapi_document_under_the_strict_csp(
    page: Page, service: ServiceThread
) -> None:
    response = page.goto("/docs")
    assert response is not None and response.ok
    assert "script-src 'self'" in response.headers["content-security-policy"]
    shot(page, "docs")
    document = openapi_document()
    operations = sum(len(item) for item in document["paths"].values())
    assert page.locator("section.operation").count() == operations
    schemas = document["components"]["schemas"]
    assert page.locator("section.schema").count() == len(schemas)
    # The shipped stylesheet applied (no CDN, nothing inline): the two-column layout.
    assert page.eval_on_selector("body", "b => getComputedStyle(b).display") == "grid"
    # Every link inside the page lands on an element of the page.
    targets: list[str] = page.eval_on_selector_all(
        "main a[href^='#'], nav a[href^='#']", "els => els.map(e => e.getAttribute('href'))"
    )
    assert targets
    for target in set(targets):
        assert page.locator(f"[id='{target[1:]}']").count() == 1, target
    page.click(f"a[href='#{operation_anchor('post', '/v1/chat/completions')}']")
    shot(page, "docs-chat-completions")
    assert page.problems == []  # type: ignore[attr-defined]


def test_redoc_and_favicon(service: ServiceThread) -> None:
    redoc = httpx.get(f"{service.url}/redoc")
    assert (redoc.status_code, redoc.headers["location"]) == (307, "/docs")
    icon = httpx.get(f"{service.url}/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
