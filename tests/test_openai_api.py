"""The /v1 API with the official openai SDK as the client, through every kind of backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread, registry_service

MODELS_TOML = """
default_backend = "chatgpt-web"

[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."compat"]
backend = "openai-compatible"
base_url = "{emu}/v1"
upstream_model = "gpt-4o"

[models."limited"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/429/v1"
upstream_model = "gpt-4o"

[models."broken"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/500/v1"
upstream_model = "gpt-4o"

[models."dropping"]
backend = "openai-compatible"
base_url = "{emu}/openai-faults/drop/v1"
upstream_model = "gpt-4o"
"""

BACKENDS = ["gpt-4o-mini", "compat", "gpt-3.5-turbo"]


@pytest.fixture(scope="module")
def v1_service(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    home = tmp_path_factory.mktemp("v1")
    with registry_service(home, MODELS_TOML.format(emu=emulator.url), emulator.url) as svc:
        yield svc


@pytest.fixture()
def sdk(v1_service: ServiceThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{v1_service.url}/v1", api_key="client-token", max_retries=0)


def test_models_list(sdk: openai.OpenAI) -> None:
    ids = {model.id for model in sdk.models.list()}
    assert {"gpt-4o-mini", "compat", "gpt-3.5-turbo"} <= ids
    assert sdk.models.retrieve("compat").owned_by == "openai-compatible"
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("nope")


@pytest.mark.parametrize("model", BACKENDS)
def test_completion_through_each_backend(sdk: openai.OpenAI, model: str) -> None:
    completion = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hi"}]
    )
    assert completion.object == "chat.completion"
    assert completion.model == model
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert 'You said: "Say hi"' in (choice.message.content or "")
    assert completion.usage is not None and completion.usage.total_tokens > 0


@pytest.mark.parametrize("model", BACKENDS)
def test_stream_through_each_backend(sdk: openai.OpenAI, model: str) -> None:
    stream = sdk.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert 'You said: "Stream please"' in text
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert len({c.id for c in chunks}) == 1


def test_configured_key_is_used_and_client_key_passes_through(
    sdk: openai.OpenAI, emulator: EmulatorThread
) -> None:
    emulator.clear()
    sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "a"}])
    sdk.chat.completions.create(model="compat", messages=[{"role": "user", "content": "b"}])
    first, second = emulator.requests
    assert first.headers["authorization"] == "Bearer sk-configured"
    assert first.json["model"] == "gpt-4o-mini"
    assert second.headers["authorization"] == "Bearer client-token"
    assert second.json["model"] == "gpt-4o"


def test_generation_params_are_forwarded(sdk: openai.OpenAI, emulator: EmulatorThread) -> None:
    emulator.clear()
    completion = sdk.chat.completions.create(
        model="compat",
        messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "x"}],
        temperature=0.5,
        top_p=0.9,
        max_tokens=3,
        stop=["zzz"],
        user="u-1",
    )
    assert completion.choices[0].finish_reason == "length"
    body = emulator.requests[0].json
    assert body["temperature"] == 0.5
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 3
    assert body["stop"] == ["zzz"]
    assert body["user"] == "u-1"
    assert body["messages"][0] == {"role": "system", "content": "Be brief"}


def test_errors_have_openai_shapes(sdk: openai.OpenAI, v1_service: ServiceThread) -> None:
    # An n outside OpenAI's range is refused, naming the param.
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(
            model="compat", messages=[{"role": "user", "content": "x"}], n=200
        )
    assert bad.value.body["param"] == "n"  # type: ignore[index]
    with pytest.raises(openai.RateLimitError) as limited:
        sdk.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "7"
    with pytest.raises(openai.InternalServerError) as broken:
        sdk.chat.completions.create(model="broken", messages=[{"role": "user", "content": "x"}])
    assert broken.value.status_code == 502
    with pytest.raises(openai.APIError):
        list(
            sdk.chat.completions.create(
                model="dropping", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    raw = httpx.post(f"{v1_service.url}/v1/chat/completions", content=b"{nope")
    assert raw.status_code == 400
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}
    missing = httpx.post(f"{v1_service.url}/v1/chat/completions", json={"model": "compat"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "messages"
    unknown = httpx.get(f"{v1_service.url}/v1/nothing-here")
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_web_backend_needs_a_token(v1_service: ServiceThread) -> None:
    response = httpx.post(
        f"{v1_service.url}/v1/chat/completions",
        json={"model": "gpt-3.5-turbo", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_model_when_unlisted_models_are_refused(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    models = tmp_path / "models.toml"
    models.write_text('default_backend = "none"\n')
    with ServiceThread(models_file=models, store=False) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(
                model="ghost", messages=[{"role": "user", "content": "x"}]
            )
        assert missing.value.code == "model_not_found"
