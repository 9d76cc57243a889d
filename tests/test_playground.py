"""The web playground end to end: real servers on 127.0.0.1, driven in headless Chromium.

Two emulators play the upstreams: a quick one (answers in ten chunks, 30 ms apart, so that
streaming is observable and tests stay fast) and a slow one (ten seconds per answer, so that
Stop always lands mid-stream). Nothing here asserts on time: the tests wait for states.

Screenshots go to ``test-output/playground/`` (gitignored).
"""

from __future__ import annotations

import base64
import os
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatgpt_api.testing import EmulatorOptions, EmulatorThread
from tests.browser import CHROMIUM_ARGS, ensure_chromium
from tests.servers import ServiceThread
from tests.services import unavailable

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    unavailable(
        "Chromium", "playwright is not installed: pip install -e '.[dev]'", allow_module_level=True
    )

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
    # What was stored is what the service had forwarded when the stop reached it: at least what
    # the page showed (a chunk may still have been on its way), and never more than the answer.
    stored = assistants(page).first.locator(".content")
    expect(stored).to_have_text(re.compile("^" + re.escape(partial)))
    assert full.startswith(stored.inner_text())


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


# ---------------------------------------------------------------- structured turns

#: The docs' picture is rewritten only on request (UPDATE_DOCS_PICTURES=1): a test run leaves
#: the working tree as it found it; otherwise the picture goes with the other screenshots.
DOCS = (
    Path(__file__).resolve().parent.parent / "docs"
    if os.environ.get("UPDATE_DOCS_PICTURES") == "1"
    else SHOTS
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def png(width: int, height: int) -> bytes:
    """A real RGB PNG (a colour gradient), big enough to be stored as an attachment."""

    def part(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes(((x * 255) // width, (y * 255) // height, 255 - (x * 255) // width))
            for x in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + part(b"IHDR", header)
        + part(b"IDAT", zlib.compress(rows))
        + part(b"IEND", b"")
    )


def gateway(service: ServiceThread) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def tool_conversation(service: ServiceThread) -> str:
    """Through the gateway and the emulator: a tool call, its result, the answer quoting it,
    then a question with an image, an audio clip and a file. Returns the conversation id."""
    with gateway(service) as http:
        asked = {"role": "user", "content": 'What is the weather in "Paris"? Use get_weather.'}
        first = http.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "tools": [WEATHER_TOOL], "messages": [asked]},
        )
        assert first.status_code == 200, first.text
        conversation_id: str = first.json()["conversation_id"]
        call = first.json()["choices"][0]["message"]["tool_calls"][0]
        assert call["function"]["name"] == "get_weather"
        result = {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": '{"temp_c": 18, "sky": "clear"}',
        }
        second = http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "tools": [WEATHER_TOOL],
                "conversation_id": conversation_id,
                "messages": [result],
            },
        )
        assert second.status_code == 200, second.text
        picture = {
            "type": "image_url",
            "image_url": {"url": data_url("image/png", png(120, 80)), "detail": "low"},
        }
        wav = b"RIFF" + bytes(2000)
        audio = {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
        }
        notes = {
            "type": "file",
            "file": {"filename": "notes.txt", "file_data": data_url("text/plain", b"n" * 900)},
        }
        question = {
            "role": "user",
            "content": [
                {"type": "text", "text": "And what is in this picture?"},
                picture,
                audio,
                notes,
                {"type": "image_url", "image_url": {"url": "https://images.example/cat.png"}},
            ],
        }
        third = http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "conversation_id": conversation_id,
                "messages": [question],
            },
        )
        assert third.status_code == 200, third.text
    return conversation_id


def open_listed(page: Page, title: str) -> None:
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.locator("#conversations li .open").filter(has_text=title).first.click()


def test_tool_calls_results_and_images_render(page: Page, service: ServiceThread) -> None:
    tool_conversation(service)
    open_listed(page, "What is the weather")
    messages = page.locator("#messages article")
    expect(messages).to_have_count(6)
    roles = messages.evaluate_all("articles => articles.map(a => a.dataset.role)")
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant"]

    # The call: collapsed, named, its arguments pretty-printed once opened.
    call = page.locator("details.tool-call")
    expect(call).to_have_count(1)
    expect(call).not_to_have_attribute("open", "")
    expect(call.locator("summary .tool-name")).to_have_text("get_weather")
    call_id = call.locator("summary .tool-id").inner_text()
    assert call_id.startswith("call_")
    expect(call.locator(".tool-body")).to_be_hidden()
    call.locator("summary").click()
    expect(call).to_have_attribute("open", "")
    expect(call.locator(".tool-body")).to_have_text('{\n  "city": "Paris"\n}')

    # The result: labelled with the tool's name and the call id; opens from the keyboard.
    result = page.locator("details.tool-result")
    expect(result).to_have_count(1)
    expect(result.locator("summary .tool-name")).to_have_text("get_weather")
    expect(result.locator("summary .tool-id")).to_have_text(call_id)
    expect(result).not_to_have_attribute("open", "")
    result.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(result).to_have_attribute("open", "")
    expect(result.locator(".tool-body")).to_have_text('{\n  "temp_c": 18,\n  "sky": "clear"\n}')
    expect(assistants(page).nth(1).locator(".content")).to_contain_text(
        'The tool get_weather returned: {"temp_c": 18, "sky": "clear"}.'
    )

    # The image: fetched with the key (an attachment), shown as a thumbnail of at most 160 px.
    question = users(page).last
    expect(question.locator(".content")).to_contain_text("And what is in this picture?")
    thumb = question.locator("button.thumb img")
    expect(thumb).to_have_attribute("alt", "Attached image 1 (detail low)")
    expect(thumb).to_have_attribute("src", re.compile(r"^blob:"))
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    assert thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [120, 80]
    box = thumb.bounding_box()
    assert box is not None and box["width"] <= 160 and box["height"] <= 160
    # An image on another site is linked, never loaded (the CSP allows no other origin).
    linked = question.locator("a.chip[data-kind=image]")
    expect(linked).to_have_attribute("href", "https://images.example/cat.png")
    expect(linked).to_have_attribute("rel", "noopener noreferrer")
    # Audio and file: chips with what the gateway says of them (HEAD: type and size).
    expect(question.locator(".chip[data-kind=audio]")).to_have_text("audioaudio/wav · 2.0 KB")
    expect(question.locator(".chip[data-kind=file]")).to_have_text(
        "filenotes.txt · text/plain · 900 B"
    )
    # Edit and Regenerate resend text only: not offered where an image would be lost.
    expect(question.locator("button.edit")).to_have_count(0)
    expect(assistants(page).last.locator("button.regenerate")).to_have_count(0)
    expect(assistants(page).last.locator(".content")).to_contain_text("I see 2 images: image/png")
    shot(page, "08-tools-and-images")
    # The picture for the docs: every turn in view, the call and the result opened.
    page.evaluate("document.activeElement.blur()")
    page.set_viewport_size({"width": 1200, "height": 1200})
    page.locator("#messages").evaluate("m => { m.scrollTop = 0; }")
    DOCS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS / "playground-tools.png"))
    page.set_viewport_size({"width": 1200, "height": 760})

    # Full size in an overlay; Escape closes it.
    question.locator("button.thumb").click()
    viewer = page.locator("#viewer")
    expect(viewer).to_be_visible()
    full = page.locator("#viewer-image")
    page.wait_for_function("img => img.naturalWidth === 120", arg=full.element_handle())
    shot(page, "09-image-overlay")
    with page.context.expect_page() as opened:
        page.click("#viewer-open")
    tab = opened.value
    expect(tab.locator("img")).to_have_count(1)
    tab.wait_for_function("document.images[0].naturalWidth === 120")
    tab.close()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # A file chip downloads the attachment (fetched with the key) under its file name.
    with page.expect_download() as downloading:
        question.locator(".chip[data-kind=file]").click()
    download = downloading.value
    assert download.suggested_filename == "notes.txt"
    assert Path(download.path()).read_bytes() == b"n" * 900

    # The dark theme (checked by eye in the screenshot).
    page.click("#theme-toggle")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    shot(page, "10-tools-dark")


def test_n_choices_show_as_sibling_branches(page: Page, service: ServiceThread) -> None:
    with gateway(service) as http:
        got = http.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "n": 2,
                "messages": [{"role": "user", "content": "two choices please"}],
            },
        )
        assert got.status_code == 200, got.text
        first, second = got.json()["message_ids"]
    open_listed(page, "two choices please")
    answer_bubble = assistants(page).last
    expect(answer_bubble).to_have_attribute("data-id", first)
    expect(answer_bubble.locator(".branch-label")).to_have_text("1/2")
    expect(answer_bubble.locator(".content")).to_contain_text("(choice 1 of 2)")
    answer_bubble.locator("button.next").click()
    answer_bubble = assistants(page).last
    expect(answer_bubble).to_have_attribute("data-id", second)
    expect(answer_bubble.locator(".branch-label")).to_have_text("2/2")
    expect(answer_bubble.locator(".content")).to_contain_text("(choice 2 of 2)")
    # A turn sent from the second choice continues that branch.
    ask(page, "and then?", answer("and then?", 2))
    expect(assistants(page).first).to_have_attribute("data-id", second)
    expect(assistants(page).first.locator(".branch-label")).to_have_text("2/2")
