"""Rebuilding documents from the ChatGPT web "v1" delta encoding.

Each ``delta`` event patches one of several JSON documents (numbered by ``c``) at a JSON-pointer
path ``p`` with an operation ``o`` (both defaulting to the previous event's): a ``message`` at
``""`` starts a document; ``append``, ``replace`` / ``add``, ``remove``, ``truncate`` and
``patch`` (a list of operations) edit it. A patch that does not fit the document is ignored: a
malformed delta never crashes the reader, and the text so far stays intact.
"""

from __future__ import annotations

from typing import Any

JSONDoc = dict[str, Any]


class DeltaDocuments:
    """The documents of one delta-encoded stream, and the carried-over path and operation."""

    __slots__ = ("_current", "_documents", "_last_op", "_last_path")

    def __init__(self) -> None:
        self._documents: dict[int, JSONDoc] = {}
        self._current = 0
        self._last_path: str | None = None
        self._last_op: str | None = None

    def apply(self, delta: JSONDoc) -> JSONDoc | None:
        """Apply one delta event; return the document it touched (``None`` if none)."""
        counter = delta.get("c")
        if isinstance(counter, int):
            self._current = counter
        path = delta.get("p", self._last_path)
        op = delta.get("o", self._last_op)
        self._last_path, self._last_op = path, op
        value = delta.get("v")
        if path in ("", None) and op in ("add", None) and isinstance(value, dict):
            self._documents[self._current] = value
            return value
        document = self._documents.get(self._current)
        if document is None or not isinstance(path, str) or not isinstance(op, str):
            return None
        _apply_op(document, path, op, value)
        return document


def _apply_op(document: JSONDoc, path: Any, op: Any, value: Any) -> None:
    if not isinstance(path, str) or not isinstance(op, str):
        return
    if op == "patch":
        if isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    _apply_op(document, item.get("p", ""), item.get("o", ""), item.get("v"))
        return
    tokens = _pointer_tokens(path)
    if tokens is None or not tokens:
        return
    parent = _resolve(document, tokens[:-1])
    if parent is None:
        return
    key = tokens[-1]
    if op == "append":
        _append(parent, key, value)
    elif op in ("replace", "add"):
        _set(parent, key, value, insert=op == "add")
    elif op == "remove":
        _remove(parent, key)
    elif op == "truncate":
        _truncate(parent, key, value)


def _pointer_tokens(path: str) -> list[str] | None:
    if path == "":
        return []
    if not path.startswith("/"):
        return None
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _resolve(node: Any, tokens: list[str]) -> Any:
    for token in tokens:
        if isinstance(node, dict):
            node = node.get(token)
        elif isinstance(node, list):
            index = _index(node, token)
            if index is None:
                return None
            node = node[index]
        else:
            return None
    return node if isinstance(node, dict | list) else None


def _is_index(token: str) -> bool:
    # No list is 10**20 long; the bound also keeps int() from refusing a 4,301-digit token.
    return token.isascii() and token.isdigit() and len(token) <= 20


def _index(items: list[Any], token: str) -> int | None:
    if _is_index(token) and int(token) < len(items):
        return int(token)
    return None


def _get(parent: Any, key: str) -> Any:
    if isinstance(parent, dict):
        return parent.get(key)
    index = _index(parent, key)
    return None if index is None else parent[index]


def _append(parent: Any, key: str, value: Any) -> None:
    current = _get(parent, key)
    if isinstance(current, str) and isinstance(value, str):
        _set(parent, key, current + value, insert=False)
    elif isinstance(current, list):
        current.extend(value if isinstance(value, list) else [value])
    elif isinstance(current, dict) and isinstance(value, dict):
        current.update(value)
    elif current is None:
        _set(parent, key, value, insert=True)


def _set(parent: Any, key: str, value: Any, *, insert: bool) -> None:
    if isinstance(parent, dict):
        parent[key] = value
        return
    if key == "-":
        parent.append(value)
    elif _is_index(key) and int(key) <= len(parent):
        index = int(key)
        if insert or index == len(parent):
            parent.insert(index, value)
        else:
            parent[index] = value


def _remove(parent: Any, key: str) -> None:
    if isinstance(parent, dict):
        parent.pop(key, None)
    else:
        index = _index(parent, key)
        if index is not None:
            del parent[index]


def _truncate(parent: Any, key: str, length: Any) -> None:
    current = _get(parent, key)
    if isinstance(length, int) and length >= 0 and isinstance(current, str | list):
        _set(parent, key, current[:length], insert=False)
