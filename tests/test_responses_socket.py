"""WebSocket mode of the Responses API (``ws://…/v1/responses``), against the emulator: the
official openai SDK's ``responses.connect()`` running sequential responses with ``store: false``
continuation, reconnecting (``previous_response_not_found``), and the documented errors —
``response_already_in_flight``, ``invalid_event``, transport fields, the connection limit — plus
keys and ownership as on HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chatgpt_api.api import responses_socket
from chatgpt_api.keys.keystore import KeyStore
from chatgpt_api.store import open_store
from chatgpt_api.testing import EmulatorThread
from tests.servers import ServiceThread

MODELS = """
[models."gpt-4o-mini"]
backend = "openai"
base_url = "{emu}/v1"
api_key = "sk-configured"

[models."gpt-slow"]
backend = "openai"
upstream_model = "gpt-4o-mini"
base_url = "{emu}/openai-faults/slow/v1"
api_key = "sk-configured"
"""
# The SDK's WebSocket helper calls websockets in a way websockets 16 deprecates (its realtime
# extra asks for websockets < 16; openai-agents needs >= 15, the pin is 16.1.1).
pytestmark = pytest.mark.filterwarnings(
    "ignore:connect\\(\\) must be used as a context manager:DeprecationWarning"
)
FINAL = ("response.completed", "response.incomplete", "response.failed", "error")


def _gateway(emulator: EmulatorThread, home: Path, **settings: Any) -> ServiceThread:
    (home / "models.toml").write_text(MODELS.format(emu=emulator.url))
    return ServiceThread(
        reverse_proxy=f"{emulator.url}/backend-api/conversation",
        models_file=home / "models.toml",
        database_url=f"sqlite+aiosqlite:///{home}/store.db",
        **settings,
    )


@pytest.fixture(scope="module")
def gateway(
    emulator: EmulatorThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceThread]:
    with _gateway(emulator, tmp_path_factory.mktemp("socket")) as svc:
        yield svc


@pytest.fixture()
def sdk(gateway: ServiceThread) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="tok", max_retries=0) as client:
        yield client


def _socket(gateway: ServiceThread, token: str = "tok") -> ClientConnection:
    url = gateway.url.replace("http://", "ws://") + "/v1/responses"
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10)


def _until_final(ws: ClientConnection, final: tuple[str, ...] = FINAL) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(ws.recv(timeout=30))
        events.append(event)
        if event["type"] in final:
            return events


def test_sequential_responses_and_store_false_continuation(sdk: openai.OpenAI) -> None:
    with sdk.responses.connect() as connection:
        connection.response.create(model="gpt-4o-mini", input="Hello socket", store=False)
        first = [event for event in _events(connection)]
        assert [e.sequence_number for e in first] == list(range(len(first)))
        assert first[0].type == "response.created" and first[-1].type == "response.completed"
        rid = first[-1].response.id  # type: ignore[union-attr]
        connection.response.create(
            model="gpt-4o-mini", input="Again", previous_response_id=rid, store=False
        )
        second = list(_events(connection))[-1]
        assert second.type == "response.completed"
        assert "turn 2" in second.response.output_text  # type: ignore[union-attr]
        stored = second.response.id  # type: ignore[union-attr]
        connection.response.create(model="gpt-4o-mini", input="Kept", store=True)
        kept = list(_events(connection))[-1].response.id  # type: ignore[union-attr]
        # Only the latest response is kept in memory: the store: false one is gone now.
        connection.response.create(
            model="gpt-4o-mini", input="Old one", previous_response_id=stored, store=False
        )
        [error] = list(_events(connection))
        assert error.type == "error"
        assert error.error.code == "previous_response_not_found"  # type: ignore[union-attr]
    with sdk.responses.connect() as reconnected:
        reconnected.response.create(model="gpt-4o-mini", input="Go on", previous_response_id=kept)
        final = list(_events(reconnected))[-1]
        assert final.type == "response.completed"
        assert "turn 2" in final.response.output_text  # type: ignore[union-attr]
        assert sdk.responses.retrieve(kept).id == kept


def _events(connection: Any) -> Iterator[Any]:
    for event in connection:
        yield event
        if event.type in FINAL:
            return


def test_one_response_at_a_time_and_bad_messages(gateway: ServiceThread) -> None:
    with _socket(gateway) as ws:
        ws.send(json.dumps({"type": "response.create", "model": "gpt-slow", "input": "Slowly"}))
        ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "input": "Now"}))
        events = _until_final(ws, ("response.completed", "response.failed"))
        refused = next(e for e in events if e["type"] == "error")
        assert refused["status"] == 409 and refused["code"] == "response_already_in_flight"
        assert refused["error"]["code"] == "response_already_in_flight"
        assert events[-1]["type"] == "response.completed"
        assert "Slowly" in events[-1]["response"]["output"][0]["content"][0]["text"]

        ws.send("not json")
        assert json.loads(ws.recv(timeout=10))["code"] == "invalid_event"
        ws.send(json.dumps({"type": "response.cancel"}))
        assert json.loads(ws.recv(timeout=10))["error"]["param"] == "type"
        ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "stream": True}))
        stream = json.loads(ws.recv(timeout=10))
        assert stream["status"] == 400 and stream["param"] == "stream"
        ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "input": "Ok"}))
        assert _until_final(ws)[-1]["type"] == "response.completed"  # still usable


def test_the_connection_limit_closes_the_socket(
    gateway: ServiceThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(responses_socket, "CONNECTION_SECONDS", 0.5)
    with _socket(gateway) as ws:
        event = json.loads(ws.recv(timeout=10))
        assert event["code"] == "websocket_connection_limit_reached"
        with pytest.raises(Exception):  # noqa: B017 - the server closed the connection
            ws.recv(timeout=10)


def _key(url: str, name: str) -> str:
    async def create() -> str:
        store = await open_store(url)
        try:
            return (await KeyStore(store).create(name))[1]
        finally:
            await store.close()

    return asyncio.run(create())


def test_keys_and_ownership(emulator: EmulatorThread, tmp_path: Path) -> None:
    alice, bob = (_key(f"sqlite+aiosqlite:///{tmp_path}/store.db", n) for n in ("alice", "bob"))
    with _gateway(emulator, tmp_path) as svc:
        with pytest.raises(InvalidStatus) as refused:
            _socket(svc, "sk-not-a-key-of-ours")
        assert refused.value.response.status_code == 401
        with _socket(svc, alice) as ws:
            ws.send(json.dumps({"type": "response.create", "model": "gpt-4o-mini", "input": "A"}))
            mine = _until_final(ws)[-1]["response"]["id"]
        with _socket(svc, bob) as ws:
            body = {"model": "gpt-4o-mini", "input": "B", "previous_response_id": mine}
            ws.send(json.dumps({"type": "response.create", **body}))
            assert json.loads(ws.recv(timeout=10))["code"] == "previous_response_not_found"


def test_store_false_continuation_on_chatgpt_web(gateway: ServiceThread) -> None:
    with _socket(gateway) as ws:
        first = {"model": "gpt-3.5-turbo", "input": "Web one", "store": False}
        ws.send(json.dumps({"type": "response.create", **first}))
        done = _until_final(ws)[-1]
        assert done["type"] == "response.completed" and done["response"]["store"] is False
        follow = {
            "model": "gpt-3.5-turbo",
            "input": "Web two",
            "store": False,
            "previous_response_id": done["response"]["id"],
        }
        ws.send(json.dumps({"type": "response.create", **follow}))
        text = _until_final(ws)[-1]["response"]["output"][0]["content"][0]["text"]
        assert "turn 2" in text


def test_closed_websockets_give_their_per_address_slot_back(
    emulator: EmulatorThread, tmp_path: Path
) -> None:
    # Three connections per address: five WebSockets opened and closed one after another (a
    # close the server has not seen yet may still count once), then an HTTP request — none
    # refused, so every closed one was released (without release the fourth is refused).
    with _gateway(emulator, tmp_path, max_connections_per_client=3) as svc:
        url = svc.url.replace("http://", "ws://") + "/v1/responses"
        for _ in range(5):
            with connect(url) as socket:
                socket.send(json.dumps({"type": "nonsense"}))
                assert json.loads(socket.recv(timeout=10))["type"] == "error"
        assert httpx.get(f"{svc.url}/healthz", timeout=10).status_code == 200
