"""The request bodies of the Anthropic Messages API, as pydantic models.

``POST /v1/messages`` (:class:`MessagesBody`) and ``POST /v1/messages/count_tokens``
(:class:`CountTokensBody`). Every model allows extra fields (``extra="allow"``) so that the
bridge can refuse an unknown one with a 400 naming it (:func:`unknown_field`) instead of
pydantic's generic message — nothing a client asked for is dropped silently.

Fields accepted with no effect (documented in docs/compatibility.md): ``cache_control`` (on
the request and on blocks: prompt caching is an optimisation the upstreams here do not
offer; the usage's cache counters are 0), ``citations`` on text blocks handed back,
``service_tier``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CacheControlled(_Open):
    #: Prompt-caching hint: accepted, no effect (the upstreams here have no such cache).
    cache_control: dict[str, Any] | None = None


class TextBlock(CacheControlled):
    type: Literal["text"]
    text: str
    #: Citations of an answer handed back: metadata, not sent upstream.
    citations: list[Any] | None = None


class Base64Source(_Open):
    type: Literal["base64"]
    media_type: str
    data: str


class URLSource(_Open):
    type: Literal["url"]
    url: str


class PlainTextSource(_Open):
    type: Literal["text"]
    media_type: str = "text/plain"
    data: str


ImageSource = Annotated[Base64Source | URLSource, Field(discriminator="type")]
DocumentSource = Annotated[Base64Source | URLSource | PlainTextSource, Field(discriminator="type")]


class ImageBlock(CacheControlled):
    type: Literal["image"]
    source: ImageSource


class DocumentBlock(CacheControlled):
    type: Literal["document"]
    source: DocumentSource
    title: str | None = None
    context: str | None = None


class ToolUseBlock(CacheControlled):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]
    #: Who called the tool, as an answer shows it: only the model itself ("direct") here.
    caller: dict[str, Any] | None = None


ToolResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(CacheControlled):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[ToolResultPart] | None = None
    is_error: bool | None = None


class ThinkingBlock(_Open):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Open):
    type: Literal["redacted_thinking"]
    data: str


ContentBlock = Annotated[
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class InputMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class Tool(CacheControlled):
    #: Client tools only ("custom", or no type); server tools are refused by the bridge.
    type: str | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    strict: bool | None = None


class ToolChoiceAuto(_Open):
    type: Literal["auto"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(_Open):
    type: Literal["any"]
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_Open):
    type: Literal["tool"]
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_Open):
    type: Literal["none"]


ToolChoice = Annotated[
    ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone,
    Field(discriminator="type"),
]


class ThinkingEnabled(_Open):
    type: Literal["enabled"]
    budget_tokens: int = Field(ge=1)
    display: Literal["summarized", "omitted"] | None = None


class ThinkingDisabled(_Open):
    type: Literal["disabled"]


class ThinkingAdaptive(_Open):
    type: Literal["adaptive"]
    display: Literal["summarized", "omitted"] | None = None


Thinking = Annotated[
    ThinkingEnabled | ThinkingDisabled | ThinkingAdaptive, Field(discriminator="type")
]


class JSONOutputFormat(_Open):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Open):
    effort: str | None = None
    format: JSONOutputFormat | None = None


class Metadata(_Open):
    user_id: str | None = None


class CountTokensBody(_Open):
    """``POST /v1/messages/count_tokens``: what the prompt is made of."""

    model: str = Field(min_length=1)
    messages: list[InputMessage] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    cache_control: dict[str, Any] | None = None


class MessagesBody(CountTokensBody):
    """``POST /v1/messages``; ``conversation_id`` / ``parent_message_id`` are the gateway's
    extensions (continue a stored conversation), as on chat completions."""

    max_tokens: int = Field(ge=1)
    stream: bool = False
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    metadata: Metadata | None = None
    #: Accepted, no effect: the upstreams here have one tier.
    service_tier: Literal["auto", "standard_only"] | None = None
    conversation_id: str | None = None
    parent_message_id: str | None = None


def unknown_field(model: BaseModel, path: str) -> str | None:
    """The path of the first field of ``model`` (or of a nested model) that it does not
    know, if any; a ``null`` one asks for nothing (SDKs hand back answers' optional fields
    that way) and is not counted."""
    for name, value in (model.model_extra or {}).items():
        if value is not None:
            return f"{path}.{name}" if path else name
    for name in type(model).model_fields:
        found = _unknown_in(getattr(model, name), f"{path}.{name}" if path else name)
        if found is not None:
            return found
    return None


def _unknown_in(value: Any, path: str) -> str | None:
    if isinstance(value, BaseModel):
        return unknown_field(value, path)
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unknown_in(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
