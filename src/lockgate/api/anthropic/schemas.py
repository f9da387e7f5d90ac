"""Wire models of Anthropic's Messages API requests (field names as in the official `anthropic` SDK's
`types/`). What Lockgate cannot honour is refused with 400 naming the field, never silently dropped."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from lockgate.gateway.bounds import MAX_TOKEN_COUNT, TokenCount

NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Wire(BaseModel):
    # cache_control, citations and other hints we do not act on are accepted and ignored.
    model_config = ConfigDict(extra="allow")


class TextBlock(_Wire):
    type: Literal["text"]
    text: str


class ImageSource(_Wire):
    type: Literal["base64", "url"]
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class ImageBlock(_Wire):
    type: Literal["image"]
    source: ImageSource


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: NonEmpty
    name: NonEmpty
    input: dict[str, Any]


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: NonEmpty
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] | None = None
    is_error: bool | None = None


ContentBlock = Annotated[TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class MessageParam(_Wire):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class Tool(_Wire):
    # Server tools (web search, code execution…) carry other types: refused, they do not run here.
    type: Literal["custom"] | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    input_schema: dict[str, Any]


class ToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Metadata(_Wire):
    user_id: Annotated[str, StringConstraints(max_length=256)] | None = None


class Thinking(_Wire):
    type: Literal["disabled"]  # extended thinking is not offered by the models behind Lockgate


class OutputFormat(_Wire):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Wire):
    effort: str | None = None  # accepted, ignored: no model here reasons at several efforts
    format: OutputFormat | None = None


class CountTokensRequest(_Wire):
    model: NonEmpty
    messages: list[MessageParam] = Field(min_length=1)
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None


class MessagesRequest(CountTokensRequest):
    max_tokens: TokenCount
    stop_sequences: list[str] | None = Field(default=None, max_length=16)
    stream: bool | None = False
    temperature: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=0, le=MAX_TOKEN_COUNT)
    top_p: float | None = Field(default=None, ge=0, le=1)
    metadata: Metadata | None = None
    output_config: OutputConfig | None = None
    # No code-execution containers or remote MCP servers here: refused, not ignored.
    container: None = None
    mcp_servers: None = None
