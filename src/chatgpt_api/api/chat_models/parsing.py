"""Body bytes to a typed request, and back, with OpenAI-shaped errors naming the parameter.

:func:`parse_chat_request` validates straight from the bytes (``model_validate_json``); every
problem becomes a :class:`~chatgpt_api.errors.RequestError` (400) whose ``param`` is the path of
the offending value in the client's JSON, as OpenAI writes it:
``messages[2].content[0].image_url.url``. :func:`request_dict` gives the request back exactly as
sent: the same names and values, unknown fields included, nothing added.

Pydantic's error locations also name union members and tagged-union tags (``user``,
``list[...]``); they are dropped by walking the location through the client's JSON, which is
parsed again only when there is an error to report.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic_core
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from chatgpt_api.api.chat_models.base import INVALID_VALUE, WireModel
from chatgpt_api.api.chat_models.embeddings import EmbeddingRequest
from chatgpt_api.api.chat_models.request import ChatCompletionRequest
from chatgpt_api.errors import RequestError

Parsed = TypeVar("Parsed", bound=WireModel)

#: What a type error says is expected, by pydantic error type.
_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}
_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})
_MESSAGES_PROBLEMS = frozenset({"missing", "list_type", "too_short"})
_TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
#: Bodies larger than this are checked for NaN / Infinity by reading them, not searching.
_SEARCH_LIMIT = 64 * 1024


def parse_chat_request(body: bytes) -> ChatCompletionRequest:
    """Validate a ``/v1/chat/completions`` body; a :class:`RequestError` for any problem."""
    return parse_body(ChatCompletionRequest, body)


def parse_embedding_request(body: bytes) -> EmbeddingRequest:
    """Validate a ``/v1/embeddings`` body; a :class:`RequestError` for any problem."""
    return parse_body(EmbeddingRequest, body)


def parse_body(model: type[Parsed], body: bytes) -> Parsed:
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise request_error(exc, body) from None
    # Pydantic's JSON reader takes NaN and Infinity, which are not JSON (unknown fields would
    # silently turn them into null): refuse them as a JSON parser does. A small body is
    # searched for them first (a one-byte search is a memchr, much cheaper than a longer
    # one); a large one, mostly long strings, is read again faster than it is searched.
    if len(body) > _SEARCH_LIMIT or (b"N" in body and b"NaN" in body) or b"Infinity" in body:
        try:
            pydantic_core.from_json(body, allow_inf_nan=False)
        except ValueError as exc:
            raise _unparsable(str(exc)) from None
    return parsed


def request_dict(request: ChatCompletionRequest | EmbeddingRequest) -> dict[str, Any]:
    """The request as the client sent it, ready for JSON: same names and values, unknown
    fields included, no default added (fields in declaration order, then unknown fields).

    Nested values are the request's own (validated typed dicts and lists, already plain JSON
    values): change the returned dict, not what it holds.
    """
    values = request.__dict__
    data = {name: values[name] for name in _field_order(type(request), request.model_fields_set)}
    if request.__pydantic_extra__:
        data.update(request.__pydantic_extra__)
    return data


def _field_order(model: type[WireModel], names: set[str]) -> list[str]:
    order = _FIELD_ORDER.get(model)
    if order is None:
        order = _FIELD_ORDER[model] = {name: i for i, name in enumerate(model.model_fields)}
    return sorted(names.intersection(order), key=order.__getitem__)  # unknown ones: extras


_FIELD_ORDER: dict[type[WireModel], dict[str, int]] = {}


def request_json(
    request: ChatCompletionRequest | EmbeddingRequest, *, exclude: set[str] | None = None
) -> bytes:
    """The request as JSON bytes (``exclude`` drops top-level fields, for example the
    gateway's own extensions). Unlike ``orjson.dumps``, integers beyond 64 bits are kept."""
    return request.__pydantic_serializer__.to_json(
        request, by_alias=True, exclude_unset=True, exclude=exclude
    )


def _unparsable(detail: str) -> RequestError:
    return RequestError(f"We could not parse the JSON body of your request: {detail}")


def request_error(exc: ValidationError, body: bytes) -> RequestError:
    """The one error to show for a failed validation: the most specific of pydantic's."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return _unparsable(str(first.get("ctx", {}).get("error", "invalid JSON")))
    if not first["loc"] and first["type"] in _NOT_AN_OBJECT:
        return RequestError("The request body must be a JSON object.")
    try:
        data = pydantic_core.from_json(body)  # the same reader: it took the body once already
    except ValueError:
        data = None
    located = [(_param_path(data, error), error) for error in errors]
    # The first error's field (or message) decides; within it, a union's members each fail:
    # the deepest of their errors says the most (messages[0].content[1].image_url.url beats
    # "content is not a string").
    field = located[0][0][:2]
    located = [(path, error) for path, error in located if path[: len(field)] == field]
    depth = max(len(path) for path, _ in located)
    path = next(path for path, _ in located if len(path) == depth)
    same_place = [error for where, error in located if where == path]
    param = _param_text(path)
    return RequestError(_message(param, same_place), param=param or None)


def _param_path(data: Any, error: ErrorDetails) -> list[str | int]:
    """The error's location in the client's JSON, without union labels and tags."""
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("param"), str):
        return [ctx["param"]]
    path = _LocationWalk(error["loc"], missing=error["type"] == "missing").walk(data, 0)
    if error["type"] in _TAG_ERRORS:
        path.append(str(ctx.get("discriminator", "type")).strip("'"))
    return path


class _LocationWalk:
    """Follows a pydantic location through the JSON it was found in.

    A location item is a key or an index of the JSON, or a union's label (a tag such as
    ``text``, a member such as ``list[...]``), which is not. A tag can also be a key (the text
    part ``{"type": "text", "text": ...}``), so both readings are tried: the one that follows
    more of the location through the JSON wins. With ``missing``, the last item is the name
    of a field that is not there.
    """

    def __init__(self, loc: tuple[str | int, ...], *, missing: bool) -> None:
        self.loc = loc
        self.missing = missing
        self.seen: dict[tuple[int, int], list[str | int]] = {}

    def walk(self, node: Any, position: int) -> list[str | int]:
        if position == len(self.loc):
            return []
        key = (id(node), position)
        if key not in self.seen:
            self.seen[key] = self._walk(node, position)
        return list(self.seen[key])

    def _walk(self, node: Any, position: int) -> list[str | int]:
        item = self.loc[position]
        in_object = isinstance(node, dict) and isinstance(item, str) and item in node
        in_array = isinstance(node, list) and isinstance(item, int) and 0 <= item < len(node)
        skipped = self.walk(node, position + 1)  # the item as a label
        if in_object or in_array:
            followed = [item, *self.walk(node[item], position + 1)]
            return followed if len(followed) >= len(skipped) else skipped
        if self.missing and position == len(self.loc) - 1 and isinstance(item, str):
            return [item]
        return skipped


def _param_text(path: list[str | int]) -> str:
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else f".{item}" if text else item
    return text


def _message(param: str, errors: list[ErrorDetails]) -> str:
    """One sentence for the errors found at one place (several when a union failed)."""
    error = errors[0]
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if param == "messages" and kind in _MESSAGES_PROBLEMS:
        return "'messages' must be a non-empty array of messages."
    if kind in ("missing", "union_tag_not_found"):
        return f"Missing required parameter: '{param}'."
    if kind == "union_tag_invalid":
        field = param.rsplit(".", 1)[-1]
        return f"Invalid '{field}': expected one of {ctx.get('expected_tags', '')}."
    if kind == INVALID_VALUE:
        return f"Invalid '{param}': {error['msg']}."
    if kind == "missing_dependency":
        return f"{error['msg']}."
    expected = [_expectation(e) for e in errors]
    if all(expected):
        alternatives = " or ".join(dict.fromkeys(e for e in expected if e))
        if any(e["type"] == "literal_error" for e in errors):
            return f"Invalid '{param}': expected {alternatives}."
        return f"Invalid type for '{param}': expected {alternatives}."
    if not param:
        return f"Invalid request: {error['msg']}."
    message = error["msg"]
    return f"Invalid '{param}': {message[:1].lower()}{message[1:]}."


def _expectation(error: ErrorDetails) -> str | None:
    if error["type"] == "literal_error":
        return str((error.get("ctx") or {}).get("expected", ""))
    return _EXPECTED.get(error["type"])
