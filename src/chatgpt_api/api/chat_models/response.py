"""Chat Completions answers: ``chat.completion`` and ``chat.completion.chunk``, with usage.

Lenient by design (they describe what upstreams send, and unknown fields are kept):
``finish_reason`` is any string (``stop``, ``length``, ``tool_calls``, ``content_filter``,
``function_call`` from OpenAI; others from compatible servers), and the reasoning fields of
OpenAI-compatible servers (``reasoning_content``, ``reasoning``) are listed as extensions.

The gateway adds ``conversation_id`` and ``message_id`` (the stored answer, to pass back as
``parent_message_id``) to a completion and to the final chunk of a stream; with ``n`` > 1,
``message_ids`` lists the stored answer of each choice, in choice order.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import Field

from chatgpt_api.api.chat_models.base import WireModel
from chatgpt_api.api.chat_models.messages import FunctionCall, ToolCall


class PromptTokensDetails(WireModel):
    audio_tokens: int | None = None
    cache_write_tokens: int | None = None
    cached_tokens: int | None = None
    image_tokens: int | None = None
    text_tokens: int | None = None


class CompletionTokensDetails(WireModel):
    accepted_prediction_tokens: int | None = None
    audio_tokens: int | None = None
    reasoning_tokens: int | None = None
    rejected_prediction_tokens: int | None = None
    text_tokens: int | None = None


class Usage(WireModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class TopLogprob(WireModel):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(WireModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob]


class ChoiceLogprobs(WireModel):
    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None


class URLCitation(WireModel):
    start_index: int
    end_index: int
    title: str
    url: str


class URLCitationAnnotation(WireModel):
    type: Literal["url_citation"]
    url_citation: URLCitation


class AnswerAudio(WireModel):
    id: str
    data: str = Field(description="Base64-encoded audio.")
    expires_at: int
    transcript: str


class AnswerMessage(WireModel):
    role: Literal["assistant"]
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    annotations: list[URLCitationAnnotation] | None = None
    audio: AnswerAudio | None = None
    function_call: FunctionCall | None = Field(None, description="Deprecated: tool_calls.")
    reasoning_content: str | None = Field(
        None, description="Extension of OpenAI-compatible servers (vLLM, DeepSeek, ...)."
    )
    reasoning: str | None = Field(None, description="Extension of OpenAI-compatible servers.")


class Choice(WireModel):
    index: int
    message: AnswerMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = Field(
        examples=["stop", "length", "tool_calls", "content_filter", "function_call"]
    )


class ModerationResult(WireModel):
    type: Literal["moderation_result"]
    model: str
    flagged: bool
    categories: dict[str, bool]
    category_scores: dict[str, float]
    category_applied_input_types: dict[str, list[str]]


class ModerationResults(WireModel):
    type: Literal["moderation_results"]
    model: str
    results: list[ModerationResult]


class ModerationError(WireModel):
    type: Literal["error"]
    code: str
    message: str


ModerationOutcome: TypeAlias = Annotated[
    ModerationResults | ModerationError, Field(discriminator="type")
]


class Moderation(WireModel):
    """The moderation of the input and of the output (when the request asked for it)."""

    input: ModerationOutcome
    output: ModerationOutcome


class GatewayFields(WireModel):
    """The gateway's extension fields, on a completion and on the final chunk of a stream."""

    conversation_id: str | None = Field(
        None, description="Gateway extension: the stored conversation (null when not stored)."
    )
    message_id: str | None = Field(
        None, description="Gateway extension: the stored answer (of the first choice)."
    )
    message_ids: list[str] | None = Field(
        None, description="Gateway extension: the stored answer of each choice (n > 1)."
    )


class ChatCompletion(GatewayFields):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    metadata: dict[str, str] | None = None
    moderation: Moderation | None = None


class FunctionCallDelta(WireModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(WireModel):
    """A fragment of a tool call: ``id``, ``type`` and the name come first, the arguments
    arrive in pieces; ``index`` says which call of the message it belongs to."""

    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class AudioDelta(WireModel):
    id: str | None = None
    data: str | None = None
    expires_at: int | None = None
    transcript: str | None = None


class ChunkDelta(WireModel):
    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    audio: AudioDelta | None = None
    function_call: FunctionCallDelta | None = Field(None, description="Deprecated: tool_calls.")
    reasoning_content: str | None = Field(
        None, description="Extension of OpenAI-compatible servers."
    )
    reasoning: str | None = Field(None, description="Extension of OpenAI-compatible servers.")


class ChunkChoice(WireModel):
    index: int
    delta: ChunkDelta
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(GatewayFields):
    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice] = Field(description="Empty in the usage chunk.")
    usage: Usage | None = Field(None, description="Only in the usage chunk.")
    system_fingerprint: str | None = None
    service_tier: str | None = None
    moderation: Moderation | None = None
    obfuscation: str | None = Field(None, description="Random padding (include_obfuscation).")
