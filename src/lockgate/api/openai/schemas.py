"""Wire models of the OpenAI inference routes. Known fields are validated (422 naming the field);
unknown fields are kept and passed through to the provider.

Types are strict, as OpenAI checks them: `"stream": "yes"`, `"max_tokens": "5"`, `"n": true` or
`"temperature": "0.5"` are refused naming the field, not coerced (pydantic's lax mode would read them
as true, 5, 1 and 0.5). An integer is accepted where a number is expected. OpenGateLLM 0.4.1 refuses
`stream: "yes"` too but coerces numeric strings; no OpenAI client sends them."""

from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from lockgate.gateway.bounds import TokenCount

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class Passthrough(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


def _messages(value: Any) -> Any:
    """The SaaS spec (002) allows `messages` as a JSON-encoded string of the array."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"a string must hold a JSON array of messages ({exc})") from None
    return value


class ChatRequest(Passthrough):
    model: NonEmpty
    messages: Annotated[
        list[dict[str, Any]],
        BeforeValidator(_messages),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "object"}, "minItems": 1},
                    {"type": "string", "description": "the array of messages, JSON-encoded"},
                ]
            }
        ),
    ] = Field(min_length=1)
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    user: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    search: bool | None = None


class CompletionRequest(Passthrough):
    model: NonEmpty
    prompt: str | list[str] | list[int] | list[list[int]]
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    max_tokens: TokenCount | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    logprobs: int | None = Field(default=None, ge=0, le=20)
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    best_of: int | None = Field(default=None, ge=1, le=128)
    echo: bool | None = None
    suffix: str | None = None
    user: str | None = None


TokenIds = Annotated[list[int], Field(min_length=1)]


# Most inputs one embeddings request may carry: OpenAI's limit ("any array must be 2048 dimensions or
# less", openai/types/embedding_create_params.py); more held the one local embedder for minutes.
MAX_EMBEDDING_INPUTS = 2048


class EmbeddingRequest(Passthrough):
    model: NonEmpty
    # Nothing empty to embed ("" , [], [""], [[]]): 422, as OpenGateLLM answers.
    input: (
        NonEmpty
        | Annotated[list[NonEmpty], Field(min_length=1)]
        | TokenIds
        | Annotated[list[TokenIds], Field(min_length=1)]
    )
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1)

    @field_validator("input", mode="before")
    @classmethod
    def _at_most_2048(cls, value: object) -> object:
        # before the union: its members' errors would name `input.0` or a member's type, not the count
        # nor the emptiness
        if value == "" or value == []:
            raise PydanticCustomError("empty_input", "must not be empty: give the text(s) to embed")
        if isinstance(value, list) and len(value) > MAX_EMBEDDING_INPUTS and not isinstance(value[0], int):
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request (got {len(value)})")
        return value


class RerankRequest(Passthrough):
    model: NonEmpty
    query: NonEmpty
    documents: list[NonEmpty] = Field(min_length=1, max_length=1000)
    top_n: int | None = Field(default=None, ge=1)


class OcrRequest(Passthrough):
    model: NonEmpty
    document: dict[str, Any]
