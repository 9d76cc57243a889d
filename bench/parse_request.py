"""CPU per ``/v1/chat/completions`` body parse: the typed parser (and the hand parser it
replaces, while it exists), in one run: ``python -m bench.parse_request``.

Bodies: a small one (one user message), 20 messages with tool calls and 3 tools, and a 4 MB
image data URL. Each figure is the best of interleaved rounds (the machine may be shared).
"""

from __future__ import annotations

import base64
import os
import timeit
from collections.abc import Callable
from typing import Any

import orjson

from chatgpt_api.api.chat_models import ChatCompletionRequest, parse_chat_request, request_dict

Parser = Callable[[bytes], Any]


def bodies() -> dict[str, tuple[bytes, int]]:
    small = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
    parameters = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tools = [
        {
            "type": "function",
            "function": {"name": f"tool_{i}", "description": "Look up", "parameters": parameters},
        }
        for i in range(3)
    ]
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are helpful."}]
    for i in range(6):
        function = {"name": "tool_0", "arguments": '{"q": "weather Paris"}'}
        call = {"id": f"call_{i}", "type": "function", "function": function}
        messages += [
            {"role": "user", "content": f"Question {i}: what is the weather in Paris today?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": "Sunny, 21 degrees."},
        ]
    messages.append({"role": "user", "content": "Thanks, and tomorrow?"})
    many = {"model": "m", "messages": messages, "tools": tools, "tool_choice": "auto"}
    url = "data:image/png;base64," + base64.b64encode(os.urandom(3_000_000)).decode()
    image = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        ]
    }
    return {
        "small": (orjson.dumps({**small, "stream": True, "temperature": 0.7}), 2000),
        "20 messages + tools": (orjson.dumps(many), 300),
        "4 MB image": (orjson.dumps(image), 3),
    }


def parsers() -> dict[str, Parser]:
    found: dict[str, Parser] = {}
    try:
        from chatgpt_api.api.openai_request import parse_completion_request
    except ImportError:
        pass
    else:

        def hand(body: bytes) -> Any:
            return parse_completion_request(orjson.loads(body), default_model="m", credential=None)

        found["orjson + hand parser"] = hand
    found["model_validate_json"] = ChatCompletionRequest.model_validate_json
    found["parse_chat_request"] = parse_chat_request
    found["+ request_dict"] = lambda body: request_dict(parse_chat_request(body))
    return found


def accepts(parse: Parser, body: bytes) -> bool:
    try:
        parse(body)
    except Exception:  # the hand parser refuses image parts
        return False
    return True


def main(rounds: int = 30) -> None:
    for name, (body, number) in bodies().items():
        chosen = {label: parse for label, parse in parsers().items() if accepts(parse, body)}
        best = dict.fromkeys(chosen, float("inf"))
        for _ in range(rounds if number > 10 else 3):  # interleaved: the load hits all alike
            for label, parse in chosen.items():
                seconds = timeit.timeit(lambda: parse(body), number=number) / number  # noqa: B023
                best[label] = min(best[label], seconds)
        figures = "  ".join(f"{label} {seconds * 1e6:.2f} µs" for label, seconds in best.items())
        print(f"{name} ({len(body)} B): {figures}")


if __name__ == "__main__":
    main()
