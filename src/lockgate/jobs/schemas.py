"""What a job carries to its worker (stored in jobs.payload as JSON): one typed payload per family of
job kinds, and the progress a running job reports."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ChunkingSpec(BaseModel):
    """rag.chunking.ChunkingOptions as stored in a job."""

    chunk_size: int | None = None
    unit: Literal["characters", "tokens"] = "characters"
    chunk_min_size: int = 0
    chunk_overlap: int = 0
    separators: list[str] = Field(default_factory=list)
    is_separator_regex: bool = False
    preset_separators: str = "markdown"
    disable_chunking: bool = False


class IngestPayload(BaseModel):
    """Ingest uploads (rows of the uploads table) into one collection, one document each, in order.
    `names[i]` names the document of `upload_ids[i]` (None: the upload's file name)."""

    endpoint: str
    collection_id: int
    upload_ids: list[int]
    names: list[str | None] = Field(default_factory=list)
    chunking: ChunkingSpec = Field(default_factory=ChunkingSpec)
    metadata: dict[str, Any] = Field(default_factory=dict)
    summaries: bool = False
    questions: bool = False


class FileOutcome(BaseModel):
    """What a sync job made of one file (kept in jobs.result["files"], in the order of the files):
    `error` is "<HTTP status> <message>" when it `failed`."""

    name: str
    status: Literal["created", "replaced", "unchanged", "failed"]
    id: int | None = None
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = Field(default_factory=list)


class ItemsPayload(BaseModel):
    """The same action on each id in turn (deletions; importing documents into `collection_id`)."""

    endpoint: str
    ids: list[int]
    collection_id: int | None = None


# The pydantic mypy plugin wrongly sees the `kwargs` field as redefining its generated __init__'s **kwargs.
class SummaryPayload(BaseModel):  # type: ignore[no-redef]
    """Summarise a document (or fill a JSON schema) with a chat model (h2oGPTe process_document)."""

    endpoint: str
    document_id: int
    max_num_chunks: int | None = None
    llm: str | None = None
    prompts: dict[str, str | None] = Field(default_factory=dict)
    llm_args: dict[str, Any] = Field(default_factory=dict)
    kwargs: str = "{}"  # the request as the client sent it, echoed by GET /document_summaries/{id}
