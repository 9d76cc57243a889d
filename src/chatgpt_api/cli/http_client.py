"""The CLI's client for a running service: ``/v1`` over HTTP with httpx, answers streamed (SSE).

The API key goes as ``Authorization: Bearer``. Transport failures and API error bodies become
one-line :class:`~chatgpt_api.cli.client.CliError` messages, e.g.
``cannot reach http://127.0.0.1:3000: connection refused``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from chatgpt_api.cli.client import (
    CliError,
    CompletionBuilder,
    Reply,
    TextSink,
    TurnRequest,
    completion_body,
)

TIMEOUT = httpx.Timeout(connect=10.0, read=600.0, write=30.0, pool=10.0)


def normalize_url(url: str) -> str:
    """``http://host:port`` from what a user may type (a trailing ``/`` or ``/v1``)."""
    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    if not re.match(r"^https?://[^/]", url):
        raise CliError(f"invalid service URL {url!r}: expected http://host[:port]")
    return url


def _reason(exc: Exception) -> str:
    """``connection refused`` from ``[Errno 111] Connection refused``."""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc).strip()) or type(exc).__name__
    text = text.splitlines()[0]
    return text[:1].lower() + text[1:]


def _api_error(response: httpx.Response, body: bytes) -> CliError:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return CliError(error["message"])
        if isinstance(error, str):
            return CliError(error)
    return CliError(f"HTTP {response.status_code} from {response.request.url}")


def path_segment(value: str) -> str:
    """``value`` as one URL path segment."""
    return quote(value, safe="")


def decode_json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a (read) response, or the API's error message as a CliError."""
    if response.status_code >= 400:
        raise _api_error(response, response.content)
    try:
        data = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise CliError(f"{response.request.url} did not answer with JSON") from None
    if not isinstance(data, dict):
        raise CliError(f"{response.request.url} did not answer with a JSON object")
    return data


class HttpClient:
    """A :class:`~chatgpt_api.cli.client.ChatClient` for the service at ``url``."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = normalize_url(url)
        self.target = self.url
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=TIMEOUT)

    def close(self) -> None:
        self._http.close()

    @contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.ConnectTimeout:
            raise CliError(f"cannot reach {self.url}: timed out") from None
        except httpx.ConnectError as exc:
            raise CliError(f"cannot reach {self.url}: {_reason(exc)}") from None
        except httpx.TimeoutException:
            raise CliError(f"{self.url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise CliError(f"the connection to {self.url} failed: {_reason(exc)}") from None

    def _json(self, method: str, path: str) -> dict[str, Any]:
        with self._transport_errors():
            response = self._http.request(method, path)
        return decode_json(response)

    def check(self) -> None:
        """The service answers and takes the key (``GET /v1/models``)."""
        self._json("GET", "/v1/models")

    def list_conversations(self, limit: int, offset: int) -> dict[str, Any]:
        return self._json("GET", f"/v1/conversations?limit={limit}&offset={offset}")

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/conversations/{path_segment(conversation_id)}")

    def export_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/conversations/{path_segment(conversation_id)}/export")

    def delete_conversation(self, conversation_id: str) -> dict[str, Any]:
        return self._json("DELETE", f"/v1/conversations/{path_segment(conversation_id)}")

    def ask(self, turn: TurnRequest, on_text: TextSink | None) -> Reply:
        body = completion_body(turn)
        builder = CompletionBuilder(model=turn.model or "")
        with (
            self._transport_errors(),
            self._http.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
            if response.status_code >= 400:
                raise _api_error(response, response.read())
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return builder.reply()
                _apply_chunk(builder, data, on_text)
        raise CliError(f"the answer from {self.url} ended early (no [DONE])")


def _apply_chunk(builder: CompletionBuilder, data: str, on_text: TextSink | None) -> None:
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise CliError("the service sent an event that is not JSON") from None
    if not isinstance(chunk, dict):
        raise CliError("the service sent an event that is not a JSON object")
    error = chunk.get("error")
    if isinstance(error, dict):
        raise CliError(str(error.get("message") or "the answer failed"))
    builder.id = chunk.get("id") or builder.id
    builder.created = chunk.get("created") or builder.created
    builder.model = chunk.get("model") or builder.model
    if isinstance(chunk.get("usage"), dict):
        builder.usage = chunk["usage"]
    if "conversation_id" in chunk:
        builder.conversation_id = chunk.get("conversation_id")
        builder.message_id = chunk.get("message_id")
    for choice in chunk.get("choices") or ():
        content = (choice.get("delta") or {}).get("content")
        if content:
            builder.text += content
            if on_text is not None:
                on_text(content)
        if choice.get("finish_reason"):
            builder.finish_reason = choice["finish_reason"]
