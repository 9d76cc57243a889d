"""Chat completions answers → Responses API output items and semantic stream events.

:class:`OutputBuilder` takes an answer as it arrives — chunk deltas, plain text (ChatGPT web) or
a whole message — and opens, extends and closes output items (``reasoning``, ``message`` with
``output_text`` / ``refusal`` parts, ``function_call``), returning the stream events of each
step. A whole answer goes through the same builder, so both forms have the same items. A call to
a tool outside ``tool_choice.allowed_tools`` fails the response (``tool_not_allowed``).
"""

from __future__ import annotations

from typing import Any

from chatgpt_api.api.responses_input import item_id
from chatgpt_api.errors import UpstreamError
from chatgpt_api.messages import JSONObject

Event = dict[str, Any]


class ToolNotAllowed(UpstreamError):
    """The model called a tool that ``tool_choice.allowed_tools`` does not allow."""

    code = "tool_not_allowed"


class OutputBuilder:
    def __init__(self, allowed_tools: frozenset[str] | None = None) -> None:
        #: ``tool_choice.allowed_tools``: a call to any other tool fails the response (the
        #: Open Responses rule: the server enforces it, whatever the upstream did).
        self._allowed = allowed_tools
        self._items: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        #: Text fragments not yet joined into their part or item (``_flush``): a long answer
        #: costs linear time, not a copy of everything so far per fragment.
        self._pending: dict[tuple[int, str], tuple[dict[str, Any], str, list[str]]] = {}
        #: Tool-call index upstream → the function_call item.
        self._calls: dict[int, dict[str, Any]] = {}
        self.usage: JSONObject | None = None

    @property
    def started(self) -> bool:
        return bool(self._items)

    @property
    def items(self) -> list[dict[str, Any]]:
        """The output items so far, every fragment in place."""
        self._flush()
        return self._items

    def _append(self, target: dict[str, Any], key: str, fragment: str) -> None:
        """``target[key] += fragment``, deferred to :meth:`_flush`."""
        entry = self._pending.get((id(target), key))
        if entry is None:
            self._pending[(id(target), key)] = (target, key, [fragment])
        else:
            entry[2].append(fragment)

    def _flush(self) -> None:
        for target, key, fragments in self._pending.values():
            target[key] += "".join(fragments)
        self._pending.clear()

    # --- items ---------------------------------------------------------------------------

    def _add(self, item: dict[str, Any]) -> list[Event]:
        events = self._close()
        self._items.append(item)
        self._open = item
        added = {**item, "content": []} if "content" in item and item["type"] == "message" else item
        events.append(
            _event(
                "response.output_item.added", output_index=len(self._items) - 1, item=_copy(added)
            )
        )
        return events

    def _index(self, item: dict[str, Any]) -> int:
        return next(i for i, it in enumerate(self._items) if it is item)

    def _close(self, status: str = "completed") -> list[Event]:
        self._flush()
        item, self._open = self._open, None
        if item is None:
            return []
        index = self._index(item)
        events: list[Event] = []
        if item["type"] == "function_call":
            events.append(
                _event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        for content_index, part in enumerate(item.get("content", [])):
            events.extend(_part_done(item, index, content_index, part))
        item["status"] = status
        events.append(_event("response.output_item.done", output_index=index, item=_copy(item)))
        return events

    def _part(
        self, item_type: str, part_type: str
    ) -> tuple[list[Event], dict[str, Any], dict[str, Any]]:
        """The open item of ``item_type`` and its last part of ``part_type``, opened if needed."""
        events: list[Event] = []
        item = self._open
        if item is None or item["type"] != item_type:
            new: dict[str, Any]
            if item_type == "message":
                new = {
                    "id": item_id("msg"),
                    "type": "message",
                    "status": "in_progress",
                    "role": "assistant",
                    "content": [],
                }
            else:
                new = {
                    "id": item_id("rs"),
                    "type": "reasoning",
                    "status": "in_progress",
                    "summary": [],
                    "content": [],
                }
            events += self._add(new)
            item = new
        parts: list[dict[str, Any]] = item["content"]
        if not parts or parts[-1]["type"] != part_type:
            part = _empty_part(part_type)
            parts.append(part)
            events.append(
                _event(
                    "response.content_part.added",
                    item_id=item["id"],
                    output_index=self._index(item),
                    content_index=len(parts) - 1,
                    part=_copy(part),
                )
            )
        return events, item, parts[-1]

    # --- fragments -----------------------------------------------------------------------

    def text(self, delta: str, logprobs: list[Any] | None = None) -> list[Event]:
        if not delta and not logprobs:
            return []
        return self._fragment(
            "message", "output_text", "text", "response.output_text.delta", delta, logprobs or []
        )

    def refusal(self, delta: str) -> list[Event]:
        if not delta:
            return []
        return self._fragment("message", "refusal", "refusal", "response.refusal.delta", delta)

    def reasoning(self, delta: str) -> list[Event]:
        if not delta:
            return []
        return self._fragment(
            "reasoning", "reasoning_text", "text", "response.reasoning.delta", delta
        )

    def _fragment(
        self,
        item_type: str,
        part_type: str,
        key: str,
        kind: str,
        delta: str,
        logprobs: list[Any] | None = None,
    ) -> list[Event]:
        """``delta`` added to the open part of ``part_type`` (opened if needed), and its event;
        ``logprobs`` (output text only) go on the part and the event too."""
        events, item, part = self._part(item_type, part_type)
        if delta:
            self._append(part, key, delta)
        extra: dict[str, Any] = {}
        if logprobs is not None:
            part["logprobs"].extend(logprobs)
            extra["logprobs"] = list(logprobs)
        events.append(
            _event(
                kind,
                item_id=item["id"],
                output_index=self._index(item),
                content_index=len(item["content"]) - 1,
                delta=delta,
                **extra,
            )
        )
        return events

    def tool_call(self, fragment: JSONObject) -> list[Event]:
        index = fragment.get("index", len(self._calls))
        function = fragment.get("function") or {}
        events: list[Event] = []
        item = self._calls.get(index)
        if item is None:
            name = function.get("name") or ""
            if self._allowed is not None and name not in self._allowed:
                raise ToolNotAllowed(
                    f"The model called the tool '{name}', which tool_choice.allowed_tools "
                    "does not allow."
                )
            item = {
                "id": item_id("fc"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": fragment.get("id") or item_id("call"),
                "name": function.get("name") or "",
                "arguments": "",
            }
            self._calls[index] = item
            events += self._add(item)
        arguments = function.get("arguments") or ""
        if arguments:
            self._append(item, "arguments", arguments)
            events.append(
                _event(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=self._index(item),
                    delta=arguments,
                )
            )
        return events

    def chunk(self, chunk: JSONObject) -> list[Event]:
        """One ``chat.completion.chunk`` (choice 0; usage kept for the final object)."""
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        events: list[Event] = []
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            events += self.reasoning(_str(delta.get("reasoning_content") or delta.get("reasoning")))
            logprobs = (choice.get("logprobs") or {}).get("content")
            events += self.text(_str(delta.get("content")), logprobs)
            events += self.refusal(_str(delta.get("refusal")))
            for fragment in delta.get("tool_calls") or ():
                if isinstance(fragment, dict):
                    events += self.tool_call(fragment)
        return events

    def message(self, message: JSONObject, logprobs: Any = None) -> list[Event]:
        """A whole assistant message (a non-streamed answer)."""
        events = self.reasoning(_str(message.get("reasoning_content") or message.get("reasoning")))
        content_logprobs = (logprobs or {}).get("content") if isinstance(logprobs, dict) else None
        events += self.text(_str(message.get("content")), content_logprobs)
        events += self.refusal(_str(message.get("refusal")))
        for index, call in enumerate(message.get("tool_calls") or ()):
            if isinstance(call, dict):
                events += self.tool_call({**call, "index": index})
        return events

    def finish(self, message: JSONObject | None, *, incomplete: bool = False) -> list[Event]:
        """Close the last item (``incomplete`` when the answer was cut off); annotations of the
        assembled ``message`` go on its text part."""
        annotations = (message or {}).get("annotations")
        if isinstance(annotations, list):
            for item in self.items:
                for part in item.get("content", []) if item["type"] == "message" else []:
                    if part["type"] == "output_text":
                        part["annotations"] = [_annotation(a) for a in annotations]
        return self._close("incomplete" if incomplete else "completed")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    copied = dict(obj)
    if "content" in copied:
        copied["content"] = [dict(p) for p in copied["content"]]
    return copied


def _empty_part(part_type: str) -> dict[str, Any]:
    if part_type == "output_text":
        return {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    if part_type == "refusal":
        return {"type": "refusal", "refusal": ""}
    return {"type": part_type, "text": ""}


def _part_done(
    item: dict[str, Any], index: int, content_index: int, part: dict[str, Any]
) -> list[Event]:
    where = {"item_id": item["id"], "output_index": index, "content_index": content_index}
    if part["type"] == "output_text":
        first = _event(
            "response.output_text.done", **where, text=part["text"], logprobs=list(part["logprobs"])
        )
    elif part["type"] == "refusal":
        first = _event("response.refusal.done", **where, refusal=part["refusal"])
    else:
        first = _event("response.reasoning.done", **where, text=part["text"])
    return [first, _event("response.content_part.done", **where, part=dict(part))]


def _annotation(annotation: Any) -> Any:
    """A chat ``url_citation`` annotation in the Responses shape (others as they are)."""
    if isinstance(annotation, dict) and isinstance(annotation.get("url_citation"), dict):
        return {"type": "url_citation", **annotation["url_citation"]}
    return annotation


def _event(kind: str, **fields: Any) -> Event:
    return {"type": kind, **fields}
