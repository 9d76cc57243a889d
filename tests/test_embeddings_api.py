"""``POST /v1/embeddings`` through the gateway, with the official openai SDK, against the
emulator: routing, exact passthrough both ways, keys, limits, metrics and mapped errors."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS_TOML = """
default_backend = "chatgpt-web"

[models."embed"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"
upstream_model = "text-embedding-3-small"
kind = "embedding"

[models."text-embedding-3-large"]
backend = "openai-compatible"
base_url = "{emu}/v1"
kind = "embedding"

[models."chat-as-embed"]
backend = "openai-compatible"
base_url = "{emu}/v1"
upstream_model = "gpt-4o"
api_key = "sk-x"

[models."web"]
backend = "chatgpt-web"

[models."embed-limited"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/429/v1"
upstream_model = "text-embedding-3-small"
api_key = "sk-x"

[models."embed-broken"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/500/v1"
upstream_model = "text-embedding-3-small"
api_key = "sk-x"

[models."embed-garbage"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/garbage/v1"
upstream_model = "text-embedding-3-small"
api_key = "sk-x"

[models."embed-dropping"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/drop/v1"
upstream_model = "text-embedding-3-small"
api_key = "sk-x"
"""


def write_models(home: Path, emulator: EmulatorThread) -> Path:
    models = home / "models.toml"
    models.write_text(MODELS_TOML.format(emu=emulator.url))
    return models


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("embeddings")
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=write_models(home, emulator),
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
    ) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="client-token", max_retries=0)


def last_upstream(emulator: EmulatorThread) -> Any:
    record = emulator.requests[-1]
    assert record.path.endswith("/embeddings")
    return record


def test_sdk_embeddings_through_the_gateway(emulator: EmulatorThread, sdk: openai.OpenAI) -> None:
    emulator.clear()
    answer = sdk.embeddings.create(
        model="embed",
        input=["first text", "second text"],
        dimensions=64,
        user="u-1",
        extra_body={"x_vendor_option": {"keep": [1, 2]}},
    )
    assert answer.model == "embed"
    assert [d.index for d in answer.data] == [0, 1]
    assert [len(d.embedding) for d in answer.data] == [64, 64]
    assert answer.usage.prompt_tokens == 4
    record = last_upstream(emulator)
    assert record.path == "/v1/embeddings"
    assert record.headers["authorization"] == "Bearer sk-configured"
    assert record.json == {
        "model": "text-embedding-3-small",
        "input": ["first text", "second text"],
        "dimensions": 64,
        "user": "u-1",
        "encoding_format": "base64",
        "x_vendor_option": {"keep": [1, 2]},
    }


def test_answer_is_the_upstreams(emulator: EmulatorThread, gateway: ServiceThread) -> None:
    for encoding in ("float", "base64"):
        body = {"input": ["a b c", [1, 2, 3]], "encoding_format": encoding}
        auth = {"Authorization": "Bearer client-token"}
        through = httpx.post(
            f"{gateway.url}/v1/embeddings", json={"model": "embed", **body}, headers=auth
        )
        direct = httpx.post(
            f"{emulator.url}/v1/embeddings",
            json={"model": "text-embedding-3-small", **body},
            headers=auth,
        )
        assert through.status_code == 200, through.text
        assert through.headers["content-type"] == "application/json"
        expected = {**direct.json(), "model": "embed"}
        assert through.json() == expected
        if encoding == "base64":
            assert isinstance(through.json()["data"][0]["embedding"], str)
            assert len(base64.b64decode(through.json()["data"][0]["embedding"])) == 1536 * 4


def test_same_upstream_name_is_relayed_byte_for_byte(
    emulator: EmulatorThread, gateway: ServiceThread
) -> None:
    body = {"model": "text-embedding-3-large", "input": "hello", "encoding_format": "base64"}
    auth = {"Authorization": "Bearer client-token"}
    through = httpx.post(f"{gateway.url}/v1/embeddings", json=body, headers=auth)
    assert last_upstream(emulator).headers["authorization"] == "Bearer client-token"
    direct = httpx.post(f"{emulator.url}/v1/embeddings", json=body, headers=auth)
    assert through.content == direct.content


def test_models_lists_embedding_models(sdk: openai.OpenAI) -> None:
    ids = {model.id for model in sdk.models.list()}
    assert {"embed", "text-embedding-3-large", "chat-as-embed", "web"} <= ids


@pytest.mark.parametrize("model", ["web", "gpt-3.5-turbo"])
def test_chatgpt_web_models_are_refused(sdk: openai.OpenAI, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model=model, input="x")
    assert caught.value.param == "model"
    assert f"`{model}`" in caught.value.message and "chatgpt-web" in caught.value.message


def test_bad_bodies(gateway: ServiceThread) -> None:
    url = f"{gateway.url}/v1/embeddings"
    for body, param in (({"input": "x"}, "model"), ({"model": "embed"}, "input")):
        r = httpx.post(url, json=body)
        assert r.status_code == 400 and r.json()["error"]["param"] == param
    r = httpx.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_upstream_errors_are_mapped(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.embeddings.create(model="embed-limited", input="x")
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.InternalServerError) as broken:
        sdk.embeddings.create(model="embed-broken", input="x")
    assert broken.value.status_code == 502
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.embeddings.create(model="chat-as-embed", input="x")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.embeddings.create(model="embed", input="x", dimensions=99_999)
    assert "dimensions" in bad.value.message
    with pytest.raises(openai.InternalServerError) as dropped:
        sdk.embeddings.create(model="embed-dropping", input="x", encoding_format="float")
    assert dropped.value.status_code == 502 and dropped.value.code == "upstream_terminated"
    with pytest.raises(openai.InternalServerError) as garbled:
        sdk.embeddings.create(model="embed-garbage", input="x")
    assert garbled.value.status_code == 502 and garbled.value.code == "upstream_protocol_error"


def test_metrics_label_the_route(sdk: openai.OpenAI, gateway: ServiceThread) -> None:
    sdk.embeddings.create(model="embed", input="counted")
    text = httpx.get(f"{gateway.url}/metrics").text
    line = re.search(r'chatgpt_api_requests_total\{[^}]*route="/v1/embeddings"[^}]*\}', text)
    assert line is not None, text[:2000]
    assert 'backend="openai"' in line.group(0) and 'model="embed"' in line.group(0)


def make_key(url: str) -> str:
    async def create() -> str:
        store = await open_store(url)
        try:
            _, key = await KeyStore(store).create("embeddings-test")
            return key
        finally:
            await store.close()

    return asyncio.run(create())


def test_keys_and_limits(emulator: EmulatorThread, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/keys.db"
    with ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=write_models(tmp_path, emulator),
        database_url=database,
        require_api_key=True,
        api_key_cache_ttl=0,
        rate_limit_rpm=2,
        max_body_size=4096,
    ) as svc:
        key = make_key(database)
        base = f"{svc.url}/v1"
        with (
            openai.OpenAI(base_url=base, api_key="not-a-key", max_retries=0) as anonymous,
            pytest.raises(openai.AuthenticationError),
        ):
            anonymous.embeddings.create(model="embed", input="x")
        with openai.OpenAI(base_url=base, api_key=key, max_retries=0) as client:
            emulator.clear()
            assert len(client.embeddings.create(model="embed", input="x").data) == 1
            # The gateway key never goes upstream; the route's key does.
            assert last_upstream(emulator).headers["authorization"] == "Bearer sk-configured"
            with pytest.raises(openai.APIStatusError) as too_large:
                client.embeddings.create(model="embed", input="y" * 5000)
            assert too_large.value.status_code == 413
            assert "max_body_size" in too_large.value.message
            client.embeddings.create(model="embed", input="y")  # a refused body was not charged
            with pytest.raises(openai.RateLimitError) as limited:
                client.embeddings.create(model="embed", input="z")
            assert int(limited.value.response.headers["retry-after"]) >= 1
