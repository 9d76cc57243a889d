"""Anthropic message content as chat completions messages, and the prompt's size estimate.

``system`` becomes a system message; text, image and document blocks become content parts;
``tool_result`` blocks become ``tool`` messages and ``tool_use`` blocks ``tool_calls`` (our
``toolu_<id>`` is the upstream's ``<id>``); handed-back thinking is accepted and not sent. On
the ChatGPT web backend base64 images and PDFs are uploaded, tool blocks and url sources are a
400. A final assistant message (prefill) is refused. :func:`estimate_input_tokens` counts about
four characters a token plus fixed costs per message and attachment (no tokenizer).
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from chatgpt_api.api.anthropic_models import (
    Base64Source,
    CountTokensBody,
    DocumentBlock,
    ImageBlock,
    InputMessage,
    PlainTextSource,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    URLSource,
)
from chatgpt_api.capabilities import web_not_emulated, web_unsupported
from chatgpt_api.errors import RequestError
from chatgpt_api.messages import JSONObject, Message

#: Tokens counted for one image or document by the estimates (Anthropic's figure for an
#: image of about 1092×1092 pixels, the largest it takes without resizing).
ATTACHMENT_TOKENS = 1600
#: Tokens added per message by the estimates (role and separators).
MESSAGE_OVERHEAD_TOKENS = 4
TOOL_ID_PREFIX = "toolu_"


def anthropic_tool_id(upstream_id: str) -> str:
    """The ``tool_use`` id we show for an upstream tool call id."""
    return upstream_id if upstream_id.startswith(TOOL_ID_PREFIX) else TOOL_ID_PREFIX + upstream_id


def upstream_tool_id(tool_use_id: str) -> str:
    """The upstream's tool call id for a ``tool_use`` id (the inverse of the above)."""
    if tool_use_id.startswith(TOOL_ID_PREFIX) and len(tool_use_id) > len(TOOL_ID_PREFIX):
        return tool_use_id[len(TOOL_ID_PREFIX) :]
    return tool_use_id


def chat_messages(
    request: CountTokensBody, *, web: bool, model: str, prefill_ok: bool = False
) -> tuple[Message, ...]:
    """The conversation in chat completions form (``web``: refuse what is not text)."""
    out: list[Message] = []
    system = _system_text(request.system)
    if system:
        out.append(Message("system", system, {"role": "system", "content": system}))
    last = len(request.messages) - 1
    for index, message in enumerate(request.messages):
        if message.role == "assistant":
            if index == last and not prefill_ok:
                raise RequestError(
                    f"messages[{index}]: a final assistant message (prefill) is not supported "
                    "by this gateway: the upstream would start a new message instead of "
                    "continuing it.",
                    param=f"messages[{index}]",
                )
            out.append(_assistant(message, index, web, model))
        else:
            out.extend(_user(message, index, web, model))
    return tuple(out)


def _system_text(system: str | list[TextBlock] | None) -> str:
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    return "\n\n".join(block.text for block in system)


def _user(message: InputMessage, index: int, web: bool, model: str) -> list[Message]:
    content = message.content
    if isinstance(content, str):
        return [Message("user", content, {"role": "user", "content": content})]
    if not content:
        param = f"messages[{index}].content"
        raise RequestError(f"{param}: a message needs at least one content block.", param=param)
    tools: list[Message] = []
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for block_index, block in enumerate(content):
        param = f"messages[{index}].content[{block_index}]"
        if isinstance(block, ToolResultBlock):
            if web:
                raise web_not_emulated("'tool_result' blocks", param, model)
            tools.append(_tool_message(block, param))
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
            texts.append(block.text)
        elif isinstance(block, ImageBlock | DocumentBlock):
            if web and isinstance(block.source, URLSource):  # base64 ones are uploaded
                raise web_unsupported(f"'{block.type}' blocks with a url source", param, model)
            part = _attachment_part(block, param)
            parts.append(part)
            if part["type"] == "text":
                texts.append(part["text"])
        else:
            raise RequestError(
                f"{param}: a user message cannot hold a '{block.type}' block.", param=param
            )
    if not parts:
        return tools
    return [*tools, Message("user", "\n".join(texts), {"role": "user", "content": parts})]


def _attachment_part(block: ImageBlock | DocumentBlock, param: str) -> dict[str, Any]:
    source = block.source
    if isinstance(block, ImageBlock):
        if isinstance(source, Base64Source):
            url = f"data:{source.media_type};base64,{source.data}"
        elif isinstance(source, URLSource):
            url = source.url
        else:
            raise RequestError(f"{param}.source: an image needs a base64 or url source.")
        return {"type": "image_url", "image_url": {"url": url}}
    if isinstance(source, PlainTextSource):
        title = f"{block.title}\n\n" if block.title else ""
        return {"type": "text", "text": title + source.data}
    if isinstance(source, Base64Source) and source.media_type == "application/pdf":
        data_url = f"data:application/pdf;base64,{source.data}"
        filename = block.title or "document.pdf"
        return {"type": "file", "file": {"filename": filename, "file_data": data_url}}
    raise RequestError(
        f"{param}.source: only base64 PDF and plain-text documents are supported "
        "(a chat completions upstream cannot fetch a document URL).",
        param=f"{param}.source",
    )


def _tool_message(block: ToolResultBlock, param: str) -> Message:
    content = block.content
    marker = "[tool error] " if block.is_error else ""
    wire: str | list[dict[str, Any]]
    if content is None or isinstance(content, str):
        text = marker + (content or "")
        wire = text
    else:
        texts = []
        for part_index, part in enumerate(content):
            if not isinstance(part, TextBlock):
                where = f"{param}.content[{part_index}]"
                raise RequestError(
                    f"{where}: images in a tool_result are not supported (a chat completions "
                    "tool message holds text only).",
                    param=where,
                )
            texts.append(part.text)
        text = marker + "\n".join(texts)
        wire = [{"type": "text", "text": t} for t in texts]
        if marker:
            wire.insert(0, {"type": "text", "text": marker.strip()})
    raw = {"role": "tool", "tool_call_id": upstream_tool_id(block.tool_use_id), "content": wire}
    return Message("tool", text, raw)


def _assistant(message: InputMessage, index: int, web: bool, model: str) -> Message:
    content = message.content
    if isinstance(content, str):
        return Message("assistant", content, {"role": "assistant", "content": content})
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block_index, block in enumerate(content):
        param = f"messages[{index}].content[{block_index}]"
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            if web:
                raise web_not_emulated("'tool_use' blocks", param, model)
            if block.caller is not None and block.caller.get("type") != "direct":
                raise RequestError(
                    f"{param}.caller: only tool calls made by the model ('direct') are "
                    "supported by this gateway.",
                    param=f"{param}.caller",
                )
            arguments = orjson.dumps(block.input).decode()
            calls.append(
                {
                    "id": upstream_tool_id(block.id),
                    "type": "function",
                    "function": {"name": block.name, "arguments": arguments},
                }
            )
        elif not isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            raise RequestError(
                f"{param}: an assistant message cannot hold a '{block.type}' block.", param=param
            )
    text = "".join(texts)
    raw: dict[str, Any] = {"role": "assistant", "content": text if texts or not calls else None}
    if calls:
        raw["tool_calls"] = calls
    return Message("assistant", text, raw)


def estimate_tokens(text: str) -> int:
    """About four characters per token (no tokenizer: the upstreams' differ anyway)."""
    return math.ceil(len(text) / 4)


def estimate_input_tokens(request: CountTokensBody, messages: tuple[Message, ...]) -> int:
    """The prompt's estimated size: text at four characters per token, each image or
    document :data:`ATTACHMENT_TOKENS`, tool definitions and calls as their JSON."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(message.content)
        total += _attachments(message.raw) * ATTACHMENT_TOKENS
        calls = (message.raw or {}).get("tool_calls")
        if calls:
            total += estimate_tokens(orjson.dumps(calls).decode())
    for tool in request.tools or []:
        total += estimate_tokens(orjson.dumps(tool.model_dump(exclude_none=True)).decode())
    return total


def _attachments(raw: JSONObject | None) -> int:
    content = (raw or {}).get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if part.get("type") in ("image_url", "file"))


def count_tokens(request: CountTokensBody) -> int:
    """``POST /v1/messages/count_tokens``: the estimate for any backend."""
    messages = chat_messages(request, web=False, model=request.model, prefill_ok=True)
    return estimate_input_tokens(request, messages)
