"""Chat completions in OpenAI's shapes: the ``chat.completion`` object and the chunk stream.

Relayed answers (OpenAI-style upstreams) go out as they came, chunk by chunk, with two changes:
the extension fields ``conversation_id`` / ``message_id`` (``message_ids`` for several choices)
are added to the object or the last chunk, and an aliased upstream model name is shown as the
public one; the closing chunks are held until the answer is stored. Other backends' answers
(ChatGPT web) are rendered here: role chunk, content deltas, finish chunk, usage when asked
(estimated at about four characters a token when the backend reports none).
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from chatgpt_api.api.errors import openai_error_body
from chatgpt_api.api.streaming import DONE_FRAME
from chatgpt_api.messages import ChatEvent, Finished, JSONObject, Message, TextDelta, Usage
from chatgpt_api.service import next_event


@dataclass(frozen=True, slots=True)
class CompletionMeta:
    id: str
    created: int
    model: str
    prompt: tuple[Message, ...]
    #: The upstream's name for ``model`` when the registry maps it (an alias), else None.
    upstream_model: str | None = None

    def public(self, obj: JSONObject) -> JSONObject:
        """``obj`` with an alias's upstream model name shown as the public one."""
        if self.upstream_model is not None and obj.get("model") == self.upstream_model:
            return {**obj, "model": self.model}
        return obj


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def usage_object(answer: Finished, meta: CompletionMeta) -> dict[str, int]:
    usage = answer.usage or Usage(
        sum(estimate_tokens(m.content) + 4 for m in meta.prompt), estimate_tokens(answer.text)
    )
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def id_fields(answer: Finished) -> dict[str, Any]:
    """The extension fields that let a client continue the stored conversation."""
    fields: dict[str, Any] = {
        "conversation_id": answer.conversation_id,
        "message_id": answer.message_id,
    }
    if len(answer.message_ids) > 1:
        fields["message_ids"] = list(answer.message_ids)
    return fields


def completion_object(answer: Finished, meta: CompletionMeta) -> dict[str, Any]:
    if answer.raw is not None:
        return {**meta.public(answer.raw), **id_fields(answer)}
    choices = []
    for choice in answer.all_choices():
        message = dict(choice.message)
        message.setdefault("refusal", None)
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": choice.logprobs,
                "finish_reason": choice.finish_reason or answer.finish_reason,
            }
        )
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": choices,
        "usage": usage_object(answer, meta),
        "system_fingerprint": None,
        **id_fields(answer),
    }


def _frame(obj: JSONObject) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _chunk(meta: CompletionMeta, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": None,
        "choices": choices,
    }


def _delta(meta: CompletionMeta, delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _frame(_chunk(meta, [choice]))


def _ends_answer(chunk: JSONObject) -> bool:
    """A chunk that closes the answer: it carries usage or a finish reason."""
    if chunk.get("usage"):
        return True
    choices = chunk.get("choices")
    return isinstance(choices, list) and any(
        isinstance(c, dict) and c.get("finish_reason") for c in choices
    )


def _closing_frames(
    held: Sequence[JSONObject], answer: Finished, meta: CompletionMeta, include_usage: bool
) -> list[bytes]:
    """The held terminal chunks, the last one carrying the ids; synthesized if none came."""
    if held:
        *before, last = (meta.public(chunk) for chunk in held)
        return [*map(_frame, before), _frame({**last, **id_fields(answer)})]
    frames = []
    for choice in answer.all_choices():
        delta = {k: v for k, v in choice.message.items() if k != "role"}
        item = {
            "index": choice.index,
            "delta": delta if answer.raw is not None else {},
            "logprobs": choice.logprobs,
            "finish_reason": choice.finish_reason or answer.finish_reason,
        }
        frames.append(_chunk(meta, [item]))
    frames[-1] |= id_fields(answer)
    out = [_frame(f) for f in frames]
    if include_usage:
        out.append(_frame({**_chunk(meta, []), "usage": usage_object(answer, meta)}))
    return out


async def completion_frames(
    first: ChatEvent,
    events: AsyncGenerator[ChatEvent, None],
    meta: CompletionMeta,
    include_usage: bool,
    deadline: float | None = None,
) -> AsyncGenerator[bytes, None]:
    # What was sent, as pieces (joined only to compare a rewrite: linear in the answer).
    sent: list[str] = []
    sent_length = 0
    held: list[JSONObject] = []
    event = first
    relayed = isinstance(first, TextDelta) and first.raw is not None
    if not relayed and not (isinstance(first, Finished) and first.raw is not None):
        yield _delta(meta, {"role": "assistant", "content": "", "refusal": None})
    try:
        while not isinstance(event, Finished):
            if isinstance(event, TextDelta) and event.raw is not None:
                if held or _ends_answer(event.raw):
                    held.append(event.raw)
                else:
                    yield _frame(meta.public(event.raw))
            else:
                if isinstance(event, TextDelta):
                    if event.text:
                        yield _delta(meta, {"content": event.text})
                        sent.append(event.text)
                        sent_length += len(event.text)
                elif len(event.text) > sent_length and event.text.startswith("".join(sent)):
                    yield _delta(meta, {"content": event.text[sent_length:]})
                    sent, sent_length = [event.text], len(event.text)
            event = await next_event(events, deadline)
    except Exception as exc:
        for chunk in held:
            yield _frame(meta.public(chunk))
        _, body, _ = openai_error_body(exc)
        yield _frame(body)
        return
    finally:
        await events.aclose()
    for frame in _closing_frames(held, event, meta, include_usage and not relayed):
        yield frame
    yield DONE_FRAME
