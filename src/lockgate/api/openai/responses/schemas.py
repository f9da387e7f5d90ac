"""Wire models of OpenAI Responses API requests (field names as in the official `openai` SDK's
`types/responses/`). Known fields are validated (422 naming the field); what Lockgate cannot honour is
refused rather than silently dropped; harmless hints (include, truncation, reasoning…) are ignored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag

from lockgate.gateway.bounds import MAX_TOKEN_COUNT, TokenCount

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class InputText(_Wire):
    type: Literal["input_text", "output_text"]  # output_text: an assistant turn passed back as input
    text: str


class InputImage(_Wire):
    type: Literal["input_image"]
    image_url: str | None = None
    detail: str | None = None


class Refusal(_Wire):
    type: Literal["refusal"]
    refusal: str


ContentPart = Annotated[InputText | InputImage | Refusal, Field(discriminator="type")]


class MessageItem(_Wire):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None


class FunctionCallItem(_Wire):
    type: Literal["function_call"]
    call_id: NonEmpty
    name: NonEmpty
    arguments: str
    id: str | None = None


class FunctionCallOutputItem(_Wire):
    type: Literal["function_call_output"]
    call_id: NonEmpty
    output: str | list[InputText]
    id: str | None = None


class ReplayedItem(_Wire):
    """Items of an earlier output passed back as input that carry nothing the model needs again."""

    type: Literal["file_search_call", "reasoning"]


def _item_type(value: Any) -> str:
    kind = value.get("type", "message") if isinstance(value, dict) else getattr(value, "type", "message")
    return "replayed" if kind in ("file_search_call", "reasoning") else kind


InputItem = Annotated[
    Annotated[MessageItem, Tag("message")]
    | Annotated[FunctionCallItem, Tag("function_call")]
    | Annotated[FunctionCallOutputItem, Tag("function_call_output")]
    | Annotated[ReplayedItem, Tag("replayed")],
    Discriminator(
        _item_type,  # its own name and the "replayed" tag must not reach clients: they name the field
        custom_error_type="invalid_input_item",
        custom_error_message=(
            "type must be one of message, function_call, function_call_output, file_search_call, reasoning"
        ),
    ),
]


class FunctionTool(_Wire):
    type: Literal["function"]
    name: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FileSearchTool(_Wire):
    """Search Lockgate collections: `vector_store_ids` are collection ids."""

    type: Literal["file_search"]
    vector_store_ids: list[NonEmpty] = Field(min_length=1, max_length=100)
    max_num_results: int | None = Field(default=None, ge=1, le=50)


Tool = Annotated[FunctionTool | FileSearchTool, Field(discriminator="type")]


class FunctionChoice(_Wire):
    type: Literal["function"]
    name: NonEmpty


class HostedChoice(_Wire):
    type: Literal["file_search"]


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[FunctionChoice | HostedChoice, Field(discriminator="type")]
)


class TextFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str | None = None
    strict: bool | None = None


class TextConfig(_Wire):
    format: TextFormat | None = None


class ResponsesRequest(_Wire):
    model: NonEmpty
    input: str | list[InputItem]
    instructions: str | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: TokenCount | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    metadata: (
        dict[
            Annotated[str, StringConstraints(max_length=64)],
            Annotated[str, StringConstraints(max_length=512)],
        ]
        | None
    ) = Field(default=None, max_length=16)
    store: bool | None = True
    previous_response_id: str | None = None
    stream: bool | None = False
    user: str | None = None
    safety_identifier: str | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_tool_calls: int | None = Field(default=None, ge=1, le=MAX_TOKEN_COUNT)
    include: list[str] | None = None  # "file_search_call.results" is honoured
    background: Literal[False] | None = None  # no background mode: answers come in the request
    # Server-side conversations and stored prompt templates do not exist here: refused, not ignored.
    conversation: None = None
    prompt: None = None
