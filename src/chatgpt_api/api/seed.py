"""The seed's routes: ``POST /send_message`` and ``POST /get_access_token``.

Fields, defaults, validation order and messages are the original's (docs/seed-api.md lists what
changed on purpose). Every failure is HTTP 500 ``{"message": ...}``, except the gateway's own
refusals: a missing or invalid API key (401, checked right after the body is read), a rate limit
(429 with ``Retry-After``, :func:`~chatgpt_api.api.admission.admit`) and a busy pool (503).
``/send_message`` also checks the request limits
(:func:`~chatgpt_api.api.request_limits.check_request_size`).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from chatgpt_api.api.admission import admit
from chatgpt_api.api.bodies import Fields, FileField, FormFile, read_fields, read_form
from chatgpt_api.api.coerce import is_message_id, js_number, js_number_text, parse_flag
from chatgpt_api.api.disconnect import cancel_on_disconnect
from chatgpt_api.api.graceful_shutdown import seed_shutdown_frame
from chatgpt_api.api.state import AppState
from chatgpt_api.api.streaming import EventStreamResponse, seed_answer_object, seed_frames
from chatgpt_api.api.turns import run_turn
from chatgpt_api.config import require
from chatgpt_api.errors import RequestError
from chatgpt_api.http_responses import JSONResponse
from chatgpt_api.image_size import sniff_image
from chatgpt_api.keys.gate import authenticate
from chatgpt_api.messages import Message
from chatgpt_api.service import TurnInput, deadline_after
from chatgpt_api.upstream_login import client as login_client
from chatgpt_api.upstream_login.token_cache import TokenCache

_API = "ChatGPTUnofficialProxyAPI.sendMessage"
MISSING_TOKEN_OR_PROMPT = "invalid [access_token] or [prompt]"
IDS_NOT_PAIRED = f"{_API}: conversationId and parentMessageId must both be set or both be undefined"
BAD_CONVERSATION_ID = f"{_API}: conversationId is not a valid v4 UUID"
BAD_PARENT_ID = f"{_API}: parentMessageId is not a valid v4 UUID"
MISSING_CREDENTIALS = "invalid [email] or [password]"


@dataclass(frozen=True, slots=True)
class SendMessageInput:
    turn: TurnInput
    timeout_seconds: float | None
    stream: bool


def text_field(fields: Fields, name: str) -> str | None:
    """A field that must be a string (absent → ``None``)."""
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise RequestError(f"invalid [{name}]: expected a string")


def timeout_field(fields: Fields) -> float | None:
    """``timeout`` in seconds, or ``None`` for "no timeout"."""
    value = fields.get("timeout")
    if value is None:
        return None
    if isinstance(value, str):
        number = js_number(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise RequestError("invalid [timeout]: expected a number of milliseconds")
    if number < 0:
        raise RequestError(
            f"Expected `milliseconds` to be a positive number, got `{js_number_text(number)}`"
        )
    if math.isnan(number) or math.isinf(number) or number == 0:
        return None
    return number / 1000


def flag_field(fields: Fields, name: str) -> bool:
    value = fields.get(name)
    if value is None:
        return False
    flag = (
        value if isinstance(value, bool) else parse_flag(value) if isinstance(value, str) else None
    )
    if flag is None:
        raise RequestError(f"invalid [{name}]: expected true or false")
    return flag


def parse_send_message(
    fields: Fields,
    default_model: str,
    *,
    token_optional: bool = False,
    owner: str | None = None,
    files: Sequence[FormFile] = (),
) -> SendMessageInput:
    """Validate ``/send_message`` fields in the seed's order.

    ``token_optional``: the account pool can supply the access token. ``files`` (multipart
    ``file`` fields) ride along with the prompt as chat image / file parts.
    """
    access_token = text_field(fields, "access_token")
    prompt = text_field(fields, "prompt")
    if not prompt or not (access_token or token_optional):
        raise RequestError(MISSING_TOKEN_OR_PROMPT)
    conversation_id = text_field(fields, "conversation_id") or None
    parent_id = text_field(fields, "parent_message_id") or None
    if (conversation_id is None) != (parent_id is None):
        raise RequestError(IDS_NOT_PAIRED)
    if conversation_id is not None and not is_message_id(conversation_id):
        raise RequestError(BAD_CONVERSATION_ID)
    if parent_id is not None and not is_message_id(parent_id):
        raise RequestError(BAD_PARENT_ID)
    reverse_proxy = text_field(fields, "reverse_proxy")
    turn = TurnInput(
        model=text_field(fields, "model") or default_model,
        messages=(prompt_message(prompt, files),),
        credential=access_token or None,
        conversation_id=conversation_id,
        parent_message_id=parent_id,
        upstream_url=reverse_proxy,
        owner=owner,
    )
    return SendMessageInput(turn, timeout_field(fields), flag_field(fields, "stream"))


def prompt_message(prompt: str, files: Sequence[FormFile]) -> Message:
    """The user message: the prompt, and each file as a chat part (an ``image_url`` data URL
    for a PNG, JPEG, GIF or WebP image, a ``file`` part with its name otherwise)."""
    if not files:
        return Message("user", prompt)
    parts: list[dict[str, object]] = [{"type": "text", "text": prompt}]
    for file in files:
        encoded = base64.b64encode(file.data).decode("ascii")
        image = sniff_image(file.data)
        if image is not None:
            url = f"data:{image.mime_type};base64,{encoded}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
            continue
        mime_type = (file.content_type or "application/octet-stream").split(";")[0].strip()
        data = f"data:{mime_type or 'application/octet-stream'};base64,{encoded}"
        parts.append({"type": "file", "file": {"filename": file.filename, "file_data": data}})
    return Message("user", prompt, {"role": "user", "content": parts})


#: ``/send_message`` takes files in multipart ``file`` fields (issue 12 item 1).
def _file_field(state: AppState) -> FileField:
    limit = state.settings.web_upload_max_file_size
    return FileField("file", limit, "web_upload_max_file_size")


async def send_message(request: Request) -> Response:
    state: AppState = request.app.state.chatgpt
    fields, files = await read_form(request, state.settings.max_body_size, _file_field(state))
    caller = await authenticate(request, field_value=text_field(fields, "api_key"))
    pool = state.pool
    token_optional = (
        not fields.get("access_token") and pool is not None and await pool.has_accounts()
    )
    params = parse_send_message(
        fields,
        state.settings.model,
        token_optional=token_optional,
        owner=caller.owner,
        files=files,
    )
    deadline = deadline_after(params.timeout_seconds)
    turn = await run_turn(
        state,
        params.turn,
        stream=params.stream,
        deadline=deadline,
        request=request,
        caller=caller,
    )
    if turn.answer is None:
        assert turn.first is not None
        frames = seed_frames(turn.first, turn.events, deadline)
        return EventStreamResponse(frames, seed_shutdown_frame())
    return JSONResponse(seed_answer_object(turn.answer))


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """What ``/get_access_token`` asks the login service for: a session or a password login."""

    session_token: str | None
    email: str = ""
    password: str = ""
    proxy: str = ""


def parse_token_request(fields: Fields) -> TokenRequest:
    """``/get_access_token`` fields in the seed's order: a session token, else email + password."""
    session_token = text_field(fields, "session_token")
    if session_token:
        return TokenRequest(session_token)
    email = text_field(fields, "email")
    password = text_field(fields, "password")
    if not email or not password:
        raise RequestError(MISSING_CREDENTIALS)
    return TokenRequest(None, email, password, text_field(fields, "proxy") or "")


async def fetch_token(
    state: AppState, request: Request, ask: TokenRequest
) -> dict[str, str | None]:
    """The answer body: from the token cache, else from the login or session service."""
    settings = state.settings
    if ask.session_token:
        url = require(settings.session_url, "SESSION_URL", "--session-url")
        cache_key = TokenCache.key("session", url, ask.session_token)
        token = state.token_cache.get(cache_key)
        if token is None:
            token = await cancel_on_disconnect(
                request.receive,
                login_client.token_from_session(state.http, url, ask.session_token),
            )
            state.token_cache.put(cache_key, token)
        return {"access_token": token.access_token, "expires": token.expires}
    url = require(settings.auth_url, "AUTH_URL", "--auth-url")
    cache_key = TokenCache.key("login", url, ask.email, ask.password, ask.proxy)
    token = state.token_cache.get(cache_key)
    if token is None:
        token = await cancel_on_disconnect(
            request.receive,
            login_client.login_with_password(state.http, url, ask.email, ask.password, ask.proxy),
        )
        state.token_cache.put(cache_key, token)
    return {"access_token": token.access_token}


async def get_access_token(request: Request) -> Response:
    """Like ``/send_message``, every login passes the caller's key check and rate limits
    (requests per minute, answers in progress) before the login service is reached, so the
    route cannot relay a password-guessing run."""
    state: AppState = request.app.state.chatgpt
    fields = await read_fields(request, state.settings.max_body_size)
    caller = await authenticate(request, field_value=text_field(fields, "api_key"))
    ask = parse_token_request(fields)
    admission = await admit(state, request, caller, 0)
    try:
        body = await fetch_token(state, request, ask)
    finally:
        if admission is not None:
            await admission.release()
    return JSONResponse(body)
