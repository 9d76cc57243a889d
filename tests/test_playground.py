"""The web playground end to end: real servers on 127.0.0.1, driven in headless Chromium.

Two emulators play the upstreams: a quick one (answers in ten chunks, 30 ms apart, so that
streaming is observable and tests stay fast) and a slow one (ten seconds per answer, so that
Stop always lands mid-stream). Nothing here asserts on time: the tests wait for states.

Screenshots go to ``test-output/playground/`` (gitignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.browser import CHROMIUM_ARGS, ensure_chromium, in_ci
from tests.servers import ServiceThread

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    if in_ci():
        raise
    pytest.skip("playwright is not installed: pip install -e '.[dev]'", allow_module_level=True)

# Installing Chromium on a fresh machine can take minutes; every browser step has its own
# Playwright timeout below, so a hang still fails fast.
pytestmark = pytest.mark.timeout(900)

SHOTS = Path(__file__).resolve().parent.parent / "test-output" / "playground"
KEY = "client-token"  # passed through as the upstream credential (keys are not required here)
STEP_MS = 15_000
expect.set_options(timeout=STEP_MS)

MODELS_TOML = """
default_backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai"
base_url = "{quick}/v1"
api_key = "sk-configured"

[models."slow"]
backend = "openai-compatible"
base_url = "{slow}/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"

[models."broken"]
backend = "openai-compatible"
base_url = "{quick}/openai-faults/500/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"

[models."dropping"]
backend = "openai-compatible"
base_url = "{quick}/openai-faults/drop/v1"
api_key = "sk-configured"
upstream_model = "gpt-4o"
"""


def answer(prompt: str, turn: int = 1) -> str:
    return f'You said: "{prompt}". This is turn {turn} of this conversation.'


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("playground")
    quick = EmulatorThread(EmulatorOptions(chunks=10, chunk_delay_ms=30))
    slow = EmulatorThread(EmulatorOptions(chunks=40, chunk_delay_ms=250))
    with quick, slow:
        models = home / "models.toml"
        models.write_text(MODELS_TOML.format(quick=quick.url, slow=slow.url))
        with ServiceThread(
            reverse_proxy=f"{quick.url}/backend-api/conversation",
            models_file=models,
            home=home,
        ) as svc:
            yield svc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = ensure_chromium()
    with sync_playwright() as pw:
        # Playwright gives every launch a fresh, empty profile (user data dir) of its own.
        launched = pw.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def open_page(
    browser: Browser, service: ServiceThread, *, key: str | None = KEY, scheme: str = "light"
) -> Page:
    context = browser.new_context(
        viewport={"width": 1200, "height": 760},
        color_scheme=scheme,  # type: ignore[arg-type]
        base_url=service.url,
    )
    context.set_default_timeout(STEP_MS)
    if key is not None:
        context.add_init_script(f"localStorage.setItem('chatgpt-api.playground.apiKey', {key!r});")
    page = context.new_page()
    page.goto("/playground")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


@pytest.fixture()
def page(browser: Browser, service: ServiceThread) -> Iterator[Page]:
    page = open_page(browser, service)
    yield page
    page.context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def assistants(page: Page) -> Locator:
    return page.locator("#messages article[data-role=assistant]")


def users(page: Page) -> Locator:
    return page.locator("#messages article[data-role=user]")


def send(page: Page, text: str, model: str | None = None) -> None:
    if model is not None:
        page.select_option("#model", model)
    page.fill("#input", text)
    page.press("#input", "Enter")


def wait_idle(page: Page) -> None:
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#stop")).to_be_hidden()


def ask(page: Page, text: str, expected: str, model: str | None = None) -> None:
    send(page, text, model)
    wait_idle(page)
    expect(assistants(page).last.locator(".content")).to_have_text(expected)


def test_page_loads_with_models_and_remembers_the_key(
    browser: Browser, service: ServiceThread
) -> None:
    page = open_page(browser, service, key=None)
    try:
        options = page.locator("#model option")
        expect(options).to_have_count(5)
        values = set(options.evaluate_all("os => os.map(o => o.value)"))
        assert values == {"gpt-3.5-turbo", "gpt-4o-mini", "slow", "broken", "dropping"}
        expect(page.locator("#empty")).to_be_visible()
        response = httpx.get(f"{service.url}/playground")
        assert "default-src 'none'" in response.headers["content-security-policy"]
        shot(page, "01-empty")

        page.click("#key-summary")
        page.fill("#api-key", KEY)
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-summary")).to_have_text("API key ✓")
        page.reload()
        expect(page.locator("#api-key")).to_have_value(KEY)
        # The key goes out as a Bearer token: the web backend needs it as its credential.
        ask(page, "hello from the key", answer("hello from the key"), "gpt-3.5-turbo")
    finally:
        page.context.close()


def test_tokens_stream_in_and_markdown_renders(page: Page) -> None:
    page.evaluate(
        """() => {
          window.seen = [];
          new MutationObserver(() => {
            const live = document.querySelector('article.streaming .content');
            if (live) window.seen.push(live.textContent);
          }).observe(document.getElementById('messages'),
                     {subtree: true, childList: true, characterData: true});
        }"""
    )
    prompt = "hello, stream"
    ask(page, prompt, answer(prompt), "gpt-3.5-turbo")
    final = answer(prompt)
    seen: list[str] = page.evaluate("window.seen")
    growing = [text for text in seen if text and len(text) < len(final) and final.startswith(text)]
    assert growing, f"no partial answer was ever shown: {seen!r}"

    prompt = "Show **bold**, *italic*, `code`, <b>no tags</b> and [a link](https://example.com/x)"
    send(page, prompt)
    wait_idle(page)
    content = assistants(page).last.locator(".content")
    expect(content.locator("strong")).to_have_text("bold")
    expect(content.locator("em")).to_have_text("italic")
    expect(content.locator("code")).to_have_text("code")
    expect(content.locator("a")).to_have_attribute("href", "https://example.com/x")
    assert content.locator("b").count() == 0  # typed HTML stays text
    assert "<b>no tags</b>" in content.inner_text()

    fenced = "Here is code:\n```python\nprint('hi')\n```\n# A heading\n- one\n- two"
    send(page, fenced)
    wait_idle(page)
    content = assistants(page).last.locator(".content")
    expect(content.locator("pre code.language-python")).to_have_text("print('hi')")
    expect(content.locator("h1")).to_have_text("A heading")
    expect(content.locator("ul li")).to_have_count(2)
    expect(page.locator("#conversations li").first.locator(".open")).to_have_text("hello, stream")
    shot(page, "02-markdown-and-code")


def test_markdown_renderer_escapes_everything(page: Page) -> None:
    rendered: str = page.evaluate(
        """() => import('/playground/static/markdown.js').then(m => m.renderMarkdown(
            '<img src=x onerror=alert(1)> [x](javascript:alert(1)) ' +
            '[ok](https://a.example/?q=1&r=2) \\n```\\n<script>alert(1)</script>\\n```'))"""
    )
    assert "<img" not in rendered and "<script>" not in rendered
    assert "&lt;img src=x onerror=alert(1)&gt;" in rendered
    assert 'href="javascript' not in rendered
    assert 'href="https://a.example/?q=1&amp;r=2"' in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered


def test_stop_keeps_the_partial_answer_and_the_next_turn_follows_it(page: Page) -> None:
    send(page, "stop me", "slow")
    live = assistants(page).last.locator(".content")
    expect(live).not_to_be_empty()  # the first tokens arrived; the rest takes seconds
    expect(page.locator("#stop")).to_be_visible()
    page.click("#stop")
    wait_idle(page)
    partial = live.inner_text()
    full = answer("stop me")
    assert partial and len(partial) < len(full) and full.startswith(partial)
    expect(assistants(page).last).to_have_attribute("data-status", "stopped")
    expect(assistants(page).last.locator(".error-note")).to_have_text("Stopped.")
    shot(page, "03-stopped")

    # The stopped turn was stored as partial; the next turn continues from it.
    ask(page, "go on", answer("go on", 2), "gpt-4o-mini")
    expect(assistants(page)).to_have_count(2)
    expect(assistants(page).first).to_have_attribute("data-status", "partial")
    expect(assistants(page).first.locator(".content")).to_have_text(partial)


def test_regenerate_makes_a_branch_and_the_navigator_switches(page: Page) -> None:
    ask(page, "first", answer("first"), "gpt-4o-mini")
    ask(page, "second", answer("second", 2))
    original = assistants(page).last.get_attribute("data-id")
    assistants(page).last.locator("button.regenerate").click()
    wait_idle(page)
    last = assistants(page).last
    expect(last.locator(".branch-label")).to_have_text("2/2")
    regenerated = last.get_attribute("data-id")
    assert regenerated and regenerated != original
    expect(last.locator(".content")).to_have_text(answer("second", 2))
    expect(users(page)).to_have_count(2)
    shot(page, "04-regenerated")

    last.locator("button.prev").click()
    expect(assistants(page).last).to_have_attribute("data-id", original or "")
    expect(assistants(page).last.locator(".branch-label")).to_have_text("1/2")
    assistants(page).last.locator("button.next").click()
    expect(assistants(page).last).to_have_attribute("data-id", regenerated)

    # A turn after switching continues the branch shown.
    assistants(page).last.locator("button.prev").click()
    ask(page, "third", answer("third", 3))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("#conversations li").first.locator(".open").click()
    expect(users(page)).to_have_count(3)
    expect(assistants(page).nth(1)).to_have_attribute("data-id", original or "")


@pytest.mark.parametrize("model", ["gpt-3.5-turbo", "gpt-4o-mini"])
def test_regenerate_on_the_first_answer_makes_a_branch(page: Page, model: str) -> None:
    ask(page, f"only {model}", answer(f"only {model}"), model)
    conversations = page.locator("#conversations li")
    listed = conversations.count()
    original = assistants(page).first.get_attribute("data-id")
    assistants(page).first.locator("button.regenerate").click()
    wait_idle(page)
    first = assistants(page).first
    expect(first.locator(".branch-label")).to_have_text("2/2")
    assert first.get_attribute("data-id") != original
    expect(first.locator(".content")).to_have_text(answer(f"only {model}"))
    expect(users(page)).to_have_count(1)
    expect(conversations).to_have_count(listed)  # a branch, not a duplicate conversation
    expect(page.locator("#banner")).to_be_hidden()
    shot(page, f"04b-first-answer-regenerated-{model}")
    first.locator("button.prev").click()
    expect(assistants(page).first).to_have_attribute("data-id", original or "")


def test_without_a_credential_the_error_points_at_the_key_box(
    browser: Browser, service: ServiceThread
) -> None:
    page = open_page(browser, service, key=None)
    try:
        send(page, "no key yet", "gpt-3.5-turbo")
        wait_idle(page)
        note = assistants(page).last.locator(".error-note")
        expect(note).to_contain_text("API key box")
        expect(page.locator("details.key-box")).to_have_attribute("open", "")
        expect(page.locator("#api-key")).to_be_focused()
        shot(page, "06b-no-credential")
    finally:
        page.context.close()


def test_the_site_icon_is_served(page: Page) -> None:
    icon = page.request.get("/favicon.ico")
    assert icon.ok and icon.headers["content-type"] == "image/x-icon"
    assert page.locator("link[rel=icon]").get_attribute("href") == "/favicon.ico"


def test_edit_makes_a_branch_with_its_own_answer(page: Page) -> None:
    ask(page, "one", answer("one"), "gpt-4o-mini")
    ask(page, "two", answer("two", 2))
    second = users(page).nth(1)
    second.locator("button.edit").click()
    second.locator("textarea.editor").fill("two, edited")
    second.locator("button.save").click()
    wait_idle(page)
    expect(users(page).nth(1).locator(".content")).to_have_text("two, edited")
    expect(users(page).nth(1).locator(".branch-label")).to_have_text("2/2")
    expect(assistants(page).last.locator(".content")).to_have_text(answer("two, edited", 2))
    shot(page, "05-edited")

    users(page).nth(1).locator("button.prev").click()
    expect(users(page).nth(1).locator(".content")).to_have_text("two")
    expect(assistants(page).last.locator(".content")).to_have_text(answer("two", 2))
    expect(users(page).nth(1).locator(".branch-label")).to_have_text("1/2")


def test_conversation_list_is_newest_first_and_switches(page: Page) -> None:
    ask(page, "alpha", answer("alpha"), "gpt-4o-mini")
    page.click("#new-chat")
    expect(users(page)).to_have_count(0)
    ask(page, "beta", answer("beta"))
    items = page.locator("#conversations li .open")
    expect(items.nth(0)).to_have_text("beta")
    expect(items.nth(1)).to_have_text("alpha")

    items.nth(1).click()
    expect(page.locator("#title")).to_have_text("alpha")
    expect(users(page).first.locator(".content")).to_have_text("alpha")
    expect(page.locator("#conversations li.active .open")).to_have_text("alpha")
    # A follow-up in the reopened conversation counts its turns.
    ask(page, "alpha again", answer("alpha again", 2))
    items.filter(has_text="beta").click()
    expect(users(page)).to_have_count(1)
    expect(users(page).first.locator(".content")).to_have_text("beta")


def test_upstream_errors_show_in_the_chat_and_keep_the_typed_text(page: Page) -> None:
    send(page, "please keep me", "broken")
    wait_idle(page)
    note = assistants(page).last.locator(".error-note")
    expect(note).to_be_visible()
    expect(note).not_to_be_empty()
    expect(assistants(page).last).to_have_attribute("data-status", "error")
    expect(page.locator("#input")).to_have_value("please keep me")
    shot(page, "06-upstream-error")

    # An error in the middle of a stream (the upstream drops the connection): the partial
    # answer and the error both show, and the text is kept too.
    page.fill("#input", "")
    send(page, "dropped midway", "dropping")
    wait_idle(page)
    expect(assistants(page).last.locator(".error-note")).not_to_be_empty()
    expect(page.locator("#input")).to_have_value("dropped midway")

    # Resending the kept text with a working model succeeds.
    page.select_option("#model", "gpt-4o-mini")
    page.press("#input", "Enter")
    wait_idle(page)
    expect(assistants(page).last.locator(".content")).to_have_text(answer("dropped midway"))
    expect(page.locator("#input")).to_have_value("")


def test_theme_follows_the_system_then_the_toggle_and_persists(
    browser: Browser, service: ServiceThread
) -> None:
    page = open_page(browser, service, scheme="dark")
    try:
        html = page.locator("html")
        expect(html).to_have_attribute("data-theme", "dark")
        ask(page, "Dark mode, with a [link](/x)", answer("Dark mode, with a link"), "gpt-4o-mini")
        shot(page, "07-dark")
        dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.click("#theme-toggle")
        expect(html).to_have_attribute("data-theme", "light")
        light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert dark_bg != light_bg
        page.reload()
        expect(html).to_have_attribute("data-theme", "light")  # the choice beats the system
        page.click("#theme-toggle")
        expect(html).to_have_attribute("data-theme", "dark")
    finally:
        page.context.close()


def test_without_a_conversation_store_answers_still_show(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("playground-nostore")
    with EmulatorThread(EmulatorOptions(chunks=4)) as quick:
        models = home / "models.toml"
        models.write_text(MODELS_TOML.format(quick=quick.url, slow=quick.url))
        with ServiceThread(models_file=models, home=home, store=False) as svc:
            page = open_page(browser, svc)
            try:
                ask(page, "no store", answer("no store"), "gpt-4o-mini")
                expect(page.locator("#banner")).to_contain_text("keeps no conversations")
                expect(page.locator("#conversations li")).to_have_count(0)
            finally:
                page.context.close()
