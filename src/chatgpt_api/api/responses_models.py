"""The ``POST /v1/responses`` request body as a pydantic model (fields of the OpenAI API and
the Open Responses specification).

Types and ranges are checked here; what each value means for a backend is the bridge's
(:mod:`chatgpt_api.api.responses_bridge`). Unknown fields are kept (``extra="allow"``) and
relayed to the upstream like the chat completions surface's, so nothing is dropped silently.
A validation failure is a 400 naming the first offending field (:func:`parse_responses_request`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatgpt_api.errors import RequestError

MAX_METADATA_KEYS = 16


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TextConfig(_Open):
    format: dict[str, Any] | None = None
    verbosity: Literal["low", "medium", "high"] | None = None


class ReasoningConfig(_Open):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class StreamOptions(_Open):
    include_obfuscation: bool | None = None


class ResponsesRequest(_Open):
    model: str | None = Field(default=None, min_length=1)
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_tool_calls: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    metadata: dict[str, str] | None = None
    store: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    truncation: Literal["auto", "disabled"] | None = None
    reasoning: ReasoningConfig | None = None
    include: list[str] | None = None
    previous_response_id: str | None = Field(default=None, min_length=1)
    conversation: str | dict[str, Any] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    background: bool | None = None
    prompt: dict[str, Any] | None = None

    def extras(self) -> dict[str, Any]:
        """Fields this model does not know, as the client sent them."""
        return dict(self.model_extra or {})


def parse_responses_request(body: dict[str, Any]) -> ResponsesRequest:
    """The validated request; a 400 naming the first bad field otherwise."""
    try:
        request = ResponsesRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = _param(first["loc"])
        raise RequestError(f"Invalid '{param}': {first['msg']}.", param=param) from None
    if request.metadata is not None:
        check_metadata(request.metadata)
    return request


def _param(loc: tuple[int | str, ...]) -> str:
    """The field path of a pydantic error location, without the union branch labels."""
    names = [
        f"[{part}]" if isinstance(part, int) else part
        for part in loc
        if isinstance(part, int) or ("[" not in part and part not in _TYPE_LABELS)
    ]
    return "".join(n if n.startswith("[") or i == 0 else f".{n}" for i, n in enumerate(names))


_TYPE_LABELS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def check_metadata(metadata: dict[str, str]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise RequestError(
            f"Invalid 'metadata': at most {MAX_METADATA_KEYS} keys.", param="metadata"
        )
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise RequestError(
                "Invalid 'metadata': keys are at most 64 characters, values at most 512.",
                param=f"metadata.{key}",
            )
