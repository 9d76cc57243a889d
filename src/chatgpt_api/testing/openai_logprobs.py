"""Plausible, deterministic ``logprobs`` for the emulator's answers.

A token is a word with the whitespace before it (the emulator counts tokens as words). Each
token's log probability comes from a hash of the token and its position, between -2.5 and 0;
``top_logprobs`` lists the token itself first, then ``k - 1`` other words of the answer (or
``<|alt N|>``) with lower log probabilities.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

__all__ = ["logprobs_object", "split_tokens", "token_logprobs"]

_TOKEN = re.compile(r"\s*\S+|\s+$")


def split_tokens(text: str) -> list[str]:
    """``text`` cut into tokens that join back to it."""
    return _TOKEN.findall(text)


def _logprob(token: str, position: int) -> float:
    digest = hashlib.sha256(f"{position}:{token}".encode()).digest()
    return -round(int.from_bytes(digest[:4], "big") / 2**32 * 2.5, 6)


def _entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode())}


def token_logprobs(
    tokens: list[str], top: int, start: int = 0, stop: int | None = None
) -> list[dict[str, Any]]:
    """The ``logprobs.content`` entries of ``tokens[start:stop]`` (alternatives are drawn from
    the whole answer, so a streamed piece gets the same entries as the whole answer)."""
    vocabulary = list(dict.fromkeys(t.strip() for t in tokens if t.strip()))
    out = []
    for position in range(start, len(tokens) if stop is None else stop):
        token = tokens[position]
        logprob = _logprob(token, position)
        entry = _entry(token, logprob)
        alternatives = [" " + w for w in vocabulary if " " + w != token and w != token]
        alternatives += [f"<|alt {i}|>" for i in range(top)]
        top_list = [_entry(token, logprob)] if top else []
        for rank in range(1, top):
            top_list.append(_entry(alternatives[rank - 1], round(logprob - 1.5 * rank, 6)))
        entry["top_logprobs"] = top_list
        out.append(entry)
    return out


def logprobs_object(content: list[dict[str, Any]] | None) -> dict[str, Any]:
    """A choice's ``logprobs`` object."""
    return {"content": content, "refusal": None}
