"""The ``POST /v1/chat/completions`` request body: every field OpenAI documents, plus the
gateway's ``conversation_id`` / ``parent_message_id``.

Optional fields may be null (as absent). Fields whose set of values OpenAI keeps growing
(``reasoning_effort``, ``service_tier``, ``verbosity``, audio voices and formats) are strings,
their known values given as examples, so that a new value still reaches the upstream.
``max_completion_tokens`` and ``max_tokens`` are separate fields, never renamed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, Self, TypeAlias

from pydantic import ConfigDict, Field, model_validator, with_config
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypedDict

from chatgpt_api.api.chat_models.base import (
    WIRE,
    Checked,
    Int64,
    MessageId,
    NonEmptyString,
    Penalty,
    Probability,
    Temperature,
    TokenCount,
    WireModel,
    integer,
    text,
)
from chatgpt_api.api.chat_models.messages import ChatMessage, TextPart

MAX_STOP = 4
MAX_METADATA_PAIRS = 16
MAX_CHOICES = 128
MAX_TOP_LOGPROBS = 20
LOGIT_BIAS_LIMIT = 100
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")

#: ``stop``: one string or up to four.
StopSequences: TypeAlias = Annotated[
    str | list[str],
    Checked(
        core_schema.union_schema(
            [
                core_schema.str_schema(strict=True),
                core_schema.list_schema(
                    core_schema.str_schema(strict=True), max_length=MAX_STOP, strict=True
                ),
            ]
        ),
        f"a string or an array of at most {MAX_STOP} strings",
    ),
]
TOKEN_ID_PATTERN = r"^[0-9]+$"
TokenId: TypeAlias = Annotated[str, text(pattern=TOKEN_ID_PATTERN, expected="a token id (digits)")]
LogitBias: TypeAlias = Annotated[int | float, integer(-LOGIT_BIAS_LIMIT, LOGIT_BIAS_LIMIT)]
MetadataKey: TypeAlias = Annotated[str, Field(max_length=64)]
MetadataValue: TypeAlias = Annotated[str, Field(max_length=512)]


@with_config(WIRE)
class StreamOptions(TypedDict):
    include_usage: NotRequired[
        Annotated[bool | None, Field(description="Send a last chunk with usage.")]
    ]
    include_obfuscation: NotRequired[bool | None]


@with_config(WIRE)
class FunctionDefinition(TypedDict):
    name: str
    description: NotRequired[str | None]
    parameters: NotRequired[
        Annotated[dict[str, Any] | None, Field(description="A JSON Schema object.")]
    ]
    strict: NotRequired[bool | None]


@with_config(WIRE)
class FunctionTool(TypedDict):
    type: Literal["function"]
    function: FunctionDefinition


@with_config(WIRE)
class TextFormat(TypedDict):
    type: Literal["text"]


@with_config(WIRE)
class Grammar(TypedDict):
    definition: str
    syntax: Literal["lark", "regex"]


@with_config(WIRE)
class GrammarFormat(TypedDict):
    type: Literal["grammar"]
    grammar: Grammar


@with_config(WIRE)
class CustomToolDefinition(TypedDict):
    name: str
    description: NotRequired[str | None]
    format: NotRequired[Annotated[TextFormat | GrammarFormat, Field(discriminator="type")] | None]


@with_config(WIRE)
class CustomTool(TypedDict):
    type: Literal["custom"]
    custom: CustomToolDefinition


Tool: TypeAlias = Annotated[FunctionTool | CustomTool, Field(discriminator="type")]


@with_config(WIRE)
class FunctionName(TypedDict):
    name: str


@with_config(WIRE)
class NamedFunctionChoice(TypedDict):
    type: Literal["function"]
    function: FunctionName


@with_config(WIRE)
class CustomName(TypedDict):
    name: str


@with_config(WIRE)
class NamedCustomChoice(TypedDict):
    type: Literal["custom"]
    custom: CustomName


@with_config(WIRE)
class AllowedTools(TypedDict):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]


@with_config(WIRE)
class AllowedToolsChoice(TypedDict):
    type: Literal["allowed_tools"]
    allowed_tools: AllowedTools


ToolChoice: TypeAlias = (
    Literal["none", "auto", "required"]
    | Annotated[
        NamedFunctionChoice | AllowedToolsChoice | NamedCustomChoice,
        Field(discriminator="type"),
    ]
)


@with_config(WIRE)
class TextResponseFormat(TypedDict):
    type: Literal["text"]


@with_config(WIRE)
class JSONObjectResponseFormat(TypedDict):
    type: Literal["json_object"]


@with_config(WIRE)
class JSONSchemaFormat(TypedDict):
    name: str
    description: NotRequired[str | None]
    schema: NotRequired[dict[str, Any] | None]
    strict: NotRequired[bool | None]


@with_config(WIRE)
class JSONSchemaResponseFormat(TypedDict):
    type: Literal["json_schema"]
    json_schema: JSONSchemaFormat


ResponseFormat: TypeAlias = Annotated[
    TextResponseFormat | JSONObjectResponseFormat | JSONSchemaResponseFormat,
    Field(discriminator="type"),
]


@with_config(WIRE)
class VoiceId(TypedDict):
    id: str


@with_config(WIRE)
class AudioOutput(TypedDict):
    voice: Annotated[
        str | VoiceId,
        Field(examples=[*VOICES, {"id": "voice_1234"}]),
    ]
    format: Annotated[str, Field(examples=["wav", "aac", "mp3", "flac", "opus", "pcm16"])]


@with_config(WIRE)
class Prediction(TypedDict):
    type: Literal["content"]
    content: str | list[TextPart]


@with_config(WIRE)
class ApproximateLocation(TypedDict):
    city: NotRequired[str | None]
    country: NotRequired[str | None]
    region: NotRequired[str | None]
    timezone: NotRequired[str | None]


@with_config(WIRE)
class UserLocation(TypedDict):
    type: Literal["approximate"]
    approximate: ApproximateLocation


@with_config(WIRE)
class ModerationMode(TypedDict):
    mode: Literal["score", "block"]


@with_config(WIRE)
class ModerationPolicy(TypedDict):
    input: NotRequired[ModerationMode | None]
    output: NotRequired[ModerationMode | None]


@with_config(WIRE)
class Moderation(TypedDict):
    model: Annotated[str, Field(examples=["omni-moderation-latest"])]
    policy: NotRequired[ModerationPolicy | None]


@with_config(WIRE)
class PromptCacheOptions(TypedDict):
    mode: NotRequired[Literal["implicit", "explicit"]]
    ttl: NotRequired[Annotated[str, Field(examples=["30m"])]]


@with_config(WIRE)
class WebSearchOptions(TypedDict):
    search_context_size: NotRequired[Literal["low", "medium", "high"] | None]
    user_location: NotRequired[UserLocation | None]


class ChatCompletionRequest(WireModel):
    """A chat completion request, kept exactly as sent (unknown fields included)."""

    model_config = ConfigDict(  # merged with WireModel's
        json_schema_extra={
            # parent_message_id (an id, not null) needs conversation_id (an id, not null).
            "if": {
                "properties": {"parent_message_id": {"type": "string"}},
                "required": ["parent_message_id"],
            },
            "then": {
                "properties": {"conversation_id": {"type": "string"}},
                "required": ["conversation_id"],
            },
            "examples": [
                {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
            ],
        }
    )

    model: NonEmptyString | None = Field(
        None, description="Absent or null: the gateway's default model."
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: Temperature | None = None
    top_p: Probability | None = None
    n: Annotated[int | float, integer(1, MAX_CHOICES)] | None = None
    max_tokens: TokenCount | None = Field(None, description="Deprecated: max_completion_tokens.")
    max_completion_tokens: TokenCount | None = None
    stop: StopSequences | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[TokenId, LogitBias] | None = Field(
        None, json_schema_extra={"propertyNames": {"pattern": TOKEN_ID_PATTERN}}
    )
    logprobs: bool | None = None
    top_logprobs: Annotated[int | float, integer(0, MAX_TOP_LOGPROBS)] | None = None
    seed: Int64 | None = None
    user: str | None = Field(None, description="Deprecated: safety_identifier.")
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDefinition] | None = Field(None, description="Deprecated: tools.")
    function_call: Literal["none", "auto"] | FunctionName | None = Field(
        None, description="Deprecated: tool_choice."
    )
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = Field(
        None, examples=["none", "minimal", "low", "medium", "high", "xhigh", "max"]
    )
    verbosity: str | None = Field(None, examples=["low", "medium", "high"])
    metadata: (
        Annotated[dict[MetadataKey, MetadataValue], Field(max_length=MAX_METADATA_PAIRS)] | None
    ) = None
    store: bool | None = None
    service_tier: str | None = Field(
        None, examples=["auto", "default", "flex", "scale", "priority", "fast"]
    )
    modalities: list[Literal["text", "audio"]] | None = None
    audio: AudioOutput | None = None
    prediction: Prediction | None = None
    web_search_options: WebSearchOptions | None = None
    prompt_cache_key: str | None = None
    prompt_cache_options: PromptCacheOptions | None = None
    prompt_cache_retention: str | None = Field(
        None, description="Deprecated: prompt_cache_options.ttl.", examples=["in_memory", "24h"]
    )
    moderation: Moderation | None = Field(
        None, description="Moderate the input and the generated output."
    )
    safety_identifier: str | None = None
    conversation_id: MessageId | None = Field(
        None, description="Gateway extension: the conversation to continue."
    )
    parent_message_id: MessageId | None = Field(
        None,
        description="Gateway extension: the message to answer (a branch point); needs "
        "conversation_id.",
    )

    @model_validator(mode="after")
    def _parent_needs_conversation(self) -> Self:
        if self.parent_message_id is not None and self.conversation_id is None:
            raise PydanticCustomError(
                "missing_dependency",
                "'parent_message_id' needs 'conversation_id'",
                {"param": "parent_message_id"},
            )
        return self
