"""Chat Completions messages: every role and every content part, as OpenAI documents them.

Roles: ``system``, ``developer``, ``user``, ``assistant`` (with ``tool_calls``, ``refusal``,
``audio``), ``tool`` (with ``tool_call_id``) and the legacy ``function``. Content is a string or
an array of parts: ``text``, ``image_url``, ``input_audio`` and ``file`` for users, ``text`` and
``refusal`` for assistants, ``text`` for the others. An assistant's content may be null (with
``tool_calls``). Messages and parts are tagged unions (by ``role``, by ``type``).

Every object below a request is a typed dict that pydantic validates: once parsed it is the
plain JSON object the client sent (unknown keys included, nothing added), typed for mypy
(``message["role"] == "assistant"`` narrows the union), and costs less to build than a model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypeAlias

from pydantic import ConfigDict, Discriminator, Field, Tag, with_config
from typing_extensions import TypedDict

from chatgpt_api.api.chat_models.base import WIRE, text

#: An image is an http(s) URL or a base64 data URL; only the prefix is looked at (data URLs
#: can be megabytes long).
IMAGE_URL_PATTERN = r"^(?:https?://|data:image/[^,]*;base64,)"

ImageLocation: TypeAlias = Annotated[
    str,
    text(pattern=IMAGE_URL_PATTERN, expected="an http(s) URL or a data:image/...;base64, URL"),
]


@with_config(WIRE)
class PromptCacheBreakpoint(TypedDict):
    """Marks the end of a reusable prompt prefix (explicit prompt caching)."""

    mode: Literal["explicit"]
    ttl: NotRequired[Annotated[str, Field(examples=["30m", "12h"])]]


@with_config(WIRE)
class TextPart(TypedDict):
    type: Literal["text"]
    text: str
    prompt_cache_breakpoint: NotRequired[PromptCacheBreakpoint]


@with_config(WIRE)
class ImageURL(TypedDict):
    url: ImageLocation
    detail: NotRequired[Literal["auto", "low", "high", "original"] | None]


@with_config(WIRE)
class ImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL
    prompt_cache_breakpoint: NotRequired[PromptCacheBreakpoint]


@with_config(WIRE)
class InputAudio(TypedDict):
    data: Annotated[str, Field(description="Base64-encoded audio.")]
    format: Annotated[str, Field(description="wav or mp3.", examples=["wav", "mp3"])]


@with_config(WIRE)
class AudioPart(TypedDict):
    type: Literal["input_audio"]
    input_audio: InputAudio
    prompt_cache_breakpoint: NotRequired[PromptCacheBreakpoint]


@with_config(WIRE)
class FileData(TypedDict):
    file_data: NotRequired[
        Annotated[str | None, Field(description="A base64 data URL of the file.")]
    ]
    file_id: NotRequired[Annotated[str | None, Field(description="An uploaded file's id.")]]
    filename: NotRequired[str | None]


@with_config(WIRE)
class FilePart(TypedDict):
    type: Literal["file"]
    file: FileData
    prompt_cache_breakpoint: NotRequired[PromptCacheBreakpoint]


@with_config(WIRE)
class RefusalPart(TypedDict):
    type: Literal["refusal"]
    refusal: str


_KNOWN_USER_PARTS = frozenset({"text", "image_url", "input_audio", "file"})


def _other_part_schema(schema: dict[str, Any]) -> None:
    """Its ``type`` is any other string (so that exactly one part schema matches a part)."""
    schema["properties"]["type"] = {"type": "string", "not": {"enum": sorted(_KNOWN_USER_PARTS)}}


@with_config(ConfigDict(**WIRE, json_schema_extra=_other_part_schema))
class OtherUserPart(TypedDict):
    """A part type this gateway does not know (vLLM's ``video_url``, a newer OpenAI part):
    relayed as sent, for the upstream to judge (a text-only backend refuses it by name)."""

    type: str


def _user_part_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in _KNOWN_USER_PARTS else "other"


UserPart: TypeAlias = Annotated[
    Annotated[TextPart, Tag("text")]
    | Annotated[ImagePart, Tag("image_url")]
    | Annotated[AudioPart, Tag("input_audio")]
    | Annotated[FilePart, Tag("file")]
    | Annotated[OtherUserPart, Tag("other")],
    Discriminator(_user_part_tag),
]
AssistantPart: TypeAlias = Annotated[TextPart | RefusalPart, Field(discriminator="type")]


@with_config(WIRE)
class FunctionCall(TypedDict):
    """A function's name and its arguments as a JSON text (as the model wrote it)."""

    name: str
    arguments: str


@with_config(WIRE)
class FunctionToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall


@with_config(WIRE)
class CustomCall(TypedDict):
    name: str
    input: str


@with_config(WIRE)
class CustomToolCall(TypedDict):
    id: str
    type: Literal["custom"]
    custom: CustomCall


ToolCall: TypeAlias = Annotated[FunctionToolCall | CustomToolCall, Field(discriminator="type")]


@with_config(WIRE)
class AssistantAudioRef(TypedDict):
    """A previous audio answer, referred to by id."""

    id: str


@with_config(WIRE)
class SystemMessage(TypedDict):
    role: Literal["system"]
    content: str | list[TextPart]
    name: NotRequired[str | None]


@with_config(WIRE)
class DeveloperMessage(TypedDict):
    role: Literal["developer"]
    content: str | list[TextPart]
    name: NotRequired[str | None]


@with_config(WIRE)
class UserMessage(TypedDict):
    role: Literal["user"]
    content: str | list[UserPart]
    name: NotRequired[str | None]


@with_config(WIRE)
class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: NotRequired[
        Annotated[
            str | list[AssistantPart] | None,
            Field(description="Null (or absent) when tool_calls or function_call is given."),
        ]
    ]
    refusal: NotRequired[str | None]
    name: NotRequired[str | None]
    audio: NotRequired[AssistantAudioRef | None]
    tool_calls: NotRequired[list[ToolCall] | None]
    function_call: NotRequired[
        Annotated[FunctionCall | None, Field(description="Deprecated: tool_calls.")]
    ]


@with_config(WIRE)
class ToolMessage(TypedDict):
    role: Literal["tool"]
    content: str | list[TextPart]
    tool_call_id: str


@with_config(WIRE)
class FunctionMessage(TypedDict):
    """Deprecated: a function's result (use a tool message)."""

    role: Literal["function"]
    content: str | None
    name: str


ChatMessage: TypeAlias = Annotated[
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage,
    Field(discriminator="role"),
]
