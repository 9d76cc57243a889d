"""Request ids (``X-Request-ID``) and log lines: JSON lines, the id on every record, no secret."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatgpt_api.api.lifecycle import RequestLifecycle
from chatgpt_api.observability.context import accept_request_id
from chatgpt_api.observability.metrics import Metrics
from tests.cli import run_cli
from tests.servers import ServiceThread

CLI = [sys.executable, "-m", "chatgpt_api.cli"]
GENERATED = re.compile(r"[0-9a-f]{32}")
SECRETS = ["tok-SECRET-1234", "sk-SECRETSECRET5678", "pw-SECRET-9012"]


def test_accept_request_id() -> None:
    assert accept_request_id(b"abc-DEF_1.2") == "abc-DEF_1.2"
    assert accept_request_id(b"x" * 128) == "x" * 128
    for bad in [b"", b"x" * 129, b"has space", b"semi;colon", b"\xc3\xa9", b"a\nb", b"a/b"]:
        assert GENERATED.fullmatch(accept_request_id(bad)), bad
    assert GENERATED.fullmatch(accept_request_id(None))
    assert accept_request_id(None) != accept_request_id(None)


def test_request_id_on_every_response(client: httpx.Client) -> None:
    ok = client.post("/send_message", data={"access_token": "t", "prompt": "hi"})
    assert GENERATED.fullmatch(ok.headers["x-request-id"])
    again = client.post("/send_message", data={"access_token": "t", "prompt": "hi"})
    assert again.headers["x-request-id"] != ok.headers["x-request-id"]

    mine = {"X-Request-ID": "trace-42.a_b"}
    stream = client.post(
        "/send_message", data={"access_token": "t", "prompt": "hi", "stream": "true"}, headers=mine
    )
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.headers["x-request-id"] == "trace-42.a_b"
    assert client.get("/nowhere", headers=mine).headers["x-request-id"] == "trace-42.a_b"
    refused = client.post("/send_message", data={"prompt": "hi"}, headers=mine)
    assert refused.status_code == 500
    assert refused.headers["x-request-id"] == "trace-42.a_b"
    assert client.get("/healthz", headers=mine).headers["x-request-id"] == "trace-42.a_b"

    for insane in ["x" * 129, "no spaces please", 'quote"d']:
        replaced = client.get("/healthz", headers={"X-Request-ID": insane})
        assert GENERATED.fullmatch(replaced.headers["x-request-id"])
    assert len(ok.headers.get_list("x-request-id")) == 1


def test_unhandled_exception_still_answers_with_the_id() -> None:
    sent: list[dict[str, Any]] = []

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    metrics = Metrics()
    app = RequestLifecycle(broken, metrics)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"r1")]}
    with pytest.raises(RuntimeError):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 500
    assert (b"x-request-id", b"r1") in sent[0]["headers"]
    assert sent[1]["body"] == b"Internal Server Error"
    text = metrics.render().decode()
    assert (
        'chatgpt_api_errors_total{backend="none",error="InternalError",model="none",'
        'route="unmatched",status="500"} 1.0' in text
    )


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, first_line: str) -> None:
        self.proc, self.url, self.first_line = proc, url, first_line

    def stop(self) -> tuple[str, str]:
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=15)
        return self.first_line + out, err


def serve(tmp_path: Path, *args: str) -> Served:
    env = {**os.environ, "CHATGPT_API_HOME": str(tmp_path), "CHATGPT_API_HOST": "127.0.0.1"}
    proc = subprocess.Popen(
        [*CLI, "serve", "--demo", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"Listening on http://localhost:(\d+)", first)
    if match is None:
        proc.kill()
        pytest.fail(f"no announcement: {first!r} {proc.communicate()}")
    return Served(proc, f"http://127.0.0.1:{match.group(1)}", first)


@pytest.fixture()
def json_service(tmp_path: Path) -> Iterator[Served]:
    served = serve(tmp_path, "--log-format", "json")
    try:
        yield served
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.communicate()


def traffic(url: str) -> dict[str, str]:
    """Requests that log (with secrets in every place a client can put one); their ids."""
    ids: dict[str, str] = {}
    ok = httpx.post(
        f"{url}/send_message",
        data={"access_token": SECRETS[0], "prompt": "hi"},
        headers={"X-Request-ID": "ok-request.1", "User-Agent": f"agent Bearer {SECRETS[1]}"},
    )
    assert ok.status_code == 200
    ids["ok"] = ok.headers["x-request-id"]
    failed = httpx.post(
        f"{url}/send_message?api_key={SECRETS[1]}",
        data={"access_token": SECRETS[0], "prompt": "hi", "timeout": "-1"},
        headers={"Referer": f"https://user:{SECRETS[2]}@example.com/"},
    )
    assert failed.status_code == 500
    ids["failed"] = failed.headers["x-request-id"]
    stream = httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert stream.status_code == 200
    ids["stream"] = stream.headers["x-request-id"]
    vectors = httpx.post(
        f"{url}/v1/embeddings",
        json={"model": "text-embedding-3-small", "input": "x"},
        headers={"Authorization": f"Bearer {SECRETS[1]}"},
    )
    assert vectors.status_code == 200
    ids["embeddings"] = vectors.headers["x-request-id"]
    assert ids["ok"] == "ok-request.1"
    return ids


def test_json_logs(json_service: Served) -> None:
    ids = traffic(json_service.url)
    out, err = json_service.stop()
    records = [json.loads(line) for line in (out + err).splitlines() if line.strip()]
    assert all(set(r) >= {"ts", "level", "logger", "message", "request_id"} for r in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in records)
    announcement = json.loads(json_service.first_line)
    assert announcement["message"].startswith("Listening on http://localhost:")

    access = {r["request_id"]: r for r in records if r["logger"] == "chatgpt_api.access"}
    ok = access[ids["ok"]]
    assert ok["method"] == "POST"
    assert ok["path"] == "/send_message"
    assert ok["status"] == 200
    assert ok["bytes"] > 0
    assert isinstance(ok["duration_ms"], float) and ok["duration_ms"] > 0
    assert ok["client"] == "127.0.0.1"
    assert ok["level"] == "info"
    assert ok["user_agent"] == "agent Bearer [REDACTED]"
    failed = access[ids["failed"]]
    assert failed["status"] == 500
    assert failed["path"] == "/send_message?api_key=[REDACTED]"
    assert failed["referer"] == "https://[REDACTED]@example.com/"
    assert access[ids["stream"]]["path"] == "/v1/chat/completions"
    assert (access[ids["embeddings"]]["path"], access[ids["embeddings"]]["status"]) == (
        "/v1/embeddings",
        200,
    )

    # A record emitted while answering carries the id of the request it belongs to.
    warning = [r for r in records if r["logger"] == "chatgpt_api.errors"]
    assert [r["request_id"] for r in warning] == [ids["failed"]]
    assert warning[0]["level"] == "warning"
    assert any(r["request_id"] is None for r in records)  # start-up lines belong to no request

    for secret in SECRETS:
        assert secret not in out
        assert secret not in err


def test_text_logs_keep_the_combined_access_line(tmp_path: Path) -> None:
    served = serve(tmp_path)
    try:
        assert served.first_line.startswith("Listening on http://localhost:")
        ids = traffic(served.url)
    finally:
        out, err = served.stop()
    access = [line for line in out.splitlines() if '"POST /send_message' in line]
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[[^]]+\] "POST /send_message HTTP/1\.1" 200 \d+ "-" '
        r'"agent Bearer \[REDACTED\]"',
        access[0],
    )
    warning = [line for line in err.splitlines() if " chatgpt_api.errors " in line]
    assert len(warning) == 1
    assert f"WARNING chatgpt_api.errors [{ids['failed']}]: RequestError" in warning[0]
    for secret in SECRETS:
        assert secret not in out
        assert secret not in err


def test_log_format_is_a_setting(tmp_path: Path) -> None:
    result = run_cli("serve", "--log-format", "xml")
    assert result.returncode != 0
    assert "xml" in result.stderr
    with ServiceThread(home=tmp_path, log_format="json") as svc:
        assert svc.settings.log_format == "json"
        assert httpx.get(f"{svc.url}/healthz").status_code == 200
