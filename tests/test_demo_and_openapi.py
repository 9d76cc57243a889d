"""Demo mode serves every surface offline; /openapi.json documents every route."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
from starlette.routing import Route

from chatgpt_api.app import create_app
from chatgpt_api.config import Settings
from tests.servers import ServiceThread


def test_demo_mode_with_the_openai_sdk(tmp_path: Path) -> None:
    with ServiceThread(demo=True, home=tmp_path) as svc:
        client = openai.OpenAI(base_url=f"{svc.url}/v1", api_key="anything", max_retries=0)
        models = {m.id for m in client.models.list()}
        assert {"gpt-3.5-turbo", "gpt-4o-mini", "gpt-4o", "text-embedding-3-small"} <= models
        vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert [len(item.embedding) for item in vectors.data] == [1536, 1536]
        for model in sorted(models - {"text-embedding-3-small"}):
            stream = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hello"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert 'You said: "hello"' in text, model
        seed = httpx.post(f"{svc.url}/send_message", data={"access_token": "x", "prompt": "hi"})
        assert seed.status_code == 200
        token = httpx.post(
            f"{svc.url}/get_access_token", data={"email": "me@example.com", "password": "pw"}
        )
        assert token.json()["access_token"].startswith("eyJ")


def test_openapi_documents_every_route(tmp_path: Path) -> None:
    app = create_app(Settings(home=tmp_path))
    routes = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    with ServiceThread(home=tmp_path) as svc:
        document = httpx.get(f"{svc.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    documented = {
        (path.replace("{model}", "{model:path}"), method)
        for path, item in document["paths"].items()
        for method in item
    }
    assert routes == documented
