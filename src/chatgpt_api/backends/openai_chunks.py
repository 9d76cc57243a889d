"""Assembling OpenAI ``chat.completion.chunk`` streams into whole choices, losing nothing.

The chunks are forwarded as they came; this builds the parsed view the store and the other
surfaces need: per choice index, the assistant message (every field, tool-call fragments merged
by ``index``), its ``finish_reason`` and ``logprobs``. Strings are concatenated, lists extended,
objects merged, identity fields set once; pieces are joined once at the end, so a long answer
costs linear time.
"""

from __future__ import annotations

from typing import Any

from chatgpt_api.messages import Choice, Usage

#: Fields that identify rather than accumulate: the first value is kept.
_SET_ONCE = frozenset({"id", "type", "name", "index", "expires_at", "role"})


class _Pieces(list[str]):
    """A string being gathered from fragments (joined by :func:`_settled`)."""

    __slots__ = ()


def merge_fragment(target: dict[str, Any], fragment: dict[str, Any]) -> None:
    """Merge one delta (or part of one) into ``target`` in place."""
    for key, value in fragment.items():
        if value is None:
            target.setdefault(key, None)
            continue
        current = target.get(key)
        if isinstance(current, _Pieces) and isinstance(value, str):
            if key not in _SET_ONCE:
                current.append(value)
        elif key == "tool_calls" and isinstance(value, list):
            _merge_tool_calls(target.setdefault("_calls", {}), value)
        elif current is None:
            target[key] = _fresh(key, value)
        elif key in _SET_ONCE:
            continue
        elif isinstance(current, list) and isinstance(value, list):
            current.extend(value)
        elif isinstance(current, dict) and isinstance(value, dict):
            merge_fragment(current, value)
        else:
            target[key] = _fresh(key, value)


def _fresh(key: str, value: Any) -> Any:
    """A copy of ``value`` that later merges may extend without touching the chunk."""
    if isinstance(value, str):
        return value if key in _SET_ONCE else _Pieces((value,))
    if isinstance(value, dict):
        copy: dict[str, Any] = {}
        merge_fragment(copy, value)
        return copy
    if isinstance(value, list):
        return list(value)
    return value


def _settled(value: Any) -> Any:
    """``value`` with its gathered pieces joined into strings."""
    if isinstance(value, _Pieces):
        return "".join(value)
    if isinstance(value, dict):
        return {k: _settled(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_settled(v) for v in value]
    return value


def _merge_tool_calls(calls: dict[int, dict[str, Any]], fragments: list[Any]) -> None:
    for position, fragment in enumerate(fragments):
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index", position)
        key = index if isinstance(index, int) else position
        merge_fragment(calls.setdefault(key, {}), fragment)


def _message(accumulated: dict[str, Any]) -> dict[str, Any]:
    message = {k: _settled(v) for k, v in accumulated.items() if k != "_calls"}
    message["role"] = "assistant"
    calls = accumulated.get("_calls")
    if calls:
        message["tool_calls"] = [
            {k: _settled(v) for k, v in call.items() if k != "index"}
            for _, call in sorted(calls.items())
        ]
    message.setdefault("content", None if calls else "")
    return message


class ChoiceAssembler:
    """Accumulates the choices of a chunk stream (or takes a whole ``chat.completion``)."""

    __slots__ = ("_choices", "_finish", "_logprobs", "id", "usage")

    def __init__(self) -> None:
        self._choices: dict[int, dict[str, Any]] = {}
        self._finish: dict[int, str] = {}
        self._logprobs: dict[int, dict[str, Any]] = {}
        self.usage: Usage | None = None
        self.id: str | None = None

    def feed_chunk(self, chunk: dict[str, Any]) -> str:
        """Take one chunk; return choice 0's new ``content`` text."""
        if self.id is None and isinstance(chunk.get("id"), str) and chunk["id"]:
            self.id = chunk["id"]
        self.usage = usage_of(chunk.get("usage")) or self.usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return ""
        text = ""
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", position)
            index = index if isinstance(index, int) else position
            delta = choice.get("delta")
            if isinstance(delta, dict):
                merge_fragment(self._choices.setdefault(index, {}), delta)
                content = delta.get("content")
                if index == 0 and isinstance(content, str):
                    text += content
            else:
                self._choices.setdefault(index, {})
            if isinstance(choice.get("logprobs"), dict):
                merge_fragment(self._logprobs.setdefault(index, {}), choice["logprobs"])
            if choice.get("finish_reason"):
                self._finish[index] = str(choice["finish_reason"])
        return text

    def take_completion(self, completion: dict[str, Any]) -> None:
        """Take a whole ``chat.completion`` object."""
        self.id = completion.get("id") if isinstance(completion.get("id"), str) else None
        self.usage = usage_of(completion.get("usage"))
        for position, choice in enumerate(completion.get("choices") or ()):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", position)
            index = index if isinstance(index, int) else position
            message = choice.get("message")
            self._choices[index] = dict(message) if isinstance(message, dict) else {}
            if isinstance(choice.get("logprobs"), dict):
                self._logprobs[index] = choice["logprobs"]
            if choice.get("finish_reason"):
                self._finish[index] = str(choice["finish_reason"])

    @property
    def answered(self) -> bool:
        return bool(self._choices) or bool(self._finish)

    def text(self) -> str:
        """Choice 0's text so far."""
        content = self._choices.get(0, {}).get("content")
        return _settled(content) if isinstance(content, str | _Pieces) else ""

    def choices(self) -> tuple[Choice, ...]:
        return tuple(
            Choice(
                index,
                _message(accumulated),
                self._finish.get(index),
                _settled(self._logprobs[index]) if index in self._logprobs else None,
            )
            for index, accumulated in sorted(self._choices.items())
        )


def usage_of(value: Any) -> Usage | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return Usage(prompt, completion)
    return None
