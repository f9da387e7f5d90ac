"""Wire models of the OpenGateLLM RAG routes (spec 000)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, ConfigDict, Field, StringConstraints, model_validator

from lockgate.api.opengate.schemas import Name, Wire
from lockgate.errors import BadRequest
from lockgate.rag.schemas import SearchQuery

Visibility = Literal["private", "public"]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
MetadataText = Annotated[str, StringConstraints(min_length=1, max_length=255)]
# OpenGateLLM's limits: 1 to 10 keys, text values of 1 to 255 characters (numbers and booleans too).
Metadata = Annotated[dict[MetadataKey, MetadataText | bool | int | float], Field(min_length=1, max_length=10)]
DbRef = Annotated[int, Field(ge=1, le=2**31 - 1)]


FusionMethod = Literal["rrf", "convex"]
SemanticWeight = Annotated[float, Field(ge=0, le=1)]
RerankModel = Annotated[str, StringConstraints(max_length=255)]


class SearchSettings(Wire):
    """A collection's hybrid-search defaults (Lockgate's addition; a search request overrides them)."""

    model_config = ConfigDict(extra="forbid")
    fusion: FusionMethod | None = None
    semantic_weight: SemanticWeight | None = None
    rff_k: int | None = Field(default=None, ge=0, le=16384)
    rerank_model: RerankModel | None = None


DEDUP = "Refuse a file whose content is already in the collection (Lockgate's addition; default: accept)."


class CollectionCreate(Wire):
    name: Name
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Visibility = "private"
    search: SearchSettings | None = None
    dedup: bool = Field(default=False, description=DEDUP)


class CollectionUpdate(Wire):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=10_000)
    visibility: Visibility | None = None
    search: SearchSettings | None = None
    dedup: bool | None = Field(default=None, description=DEDUP)


class CollectionOut(Wire):
    object: Literal["collection"] = "collection"
    id: int
    name: str
    owner: str
    description: str | None
    visibility: Visibility
    created: int
    updated: int
    documents: int
    search: dict[str, Any] = Field(default_factory=dict)  # Lockgate's hybrid-search defaults, if set
    dedup: bool = False  # Lockgate's: duplicate content refused


class DocumentOut(Wire):
    object: Literal["document"] = "document"
    id: int
    name: str
    collection_id: int
    created: int
    chunks: int


class ChunkIn(Wire):
    content: Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
    metadata: Metadata | None = None


class ChunksIn(Wire):
    chunks: list[ChunkIn] = Field(min_length=1, max_length=64)


class ChunkOut(Wire):
    object: Literal["chunk"] = "chunk"
    id: int = Field(description="The chunk's number within its document, from 0.")
    collection_id: int
    document_id: int
    content: str
    metadata: dict[str, Any] | None = Field(description="As sent with the document or chunk; null if none.")
    page: int | None = Field(default=None, description="For a PDF chunk, its 1-based page.")
    created: int


class CreatedChunks(Wire):
    document_id: int
    ids: list[int] = Field(description="Numbers of the new chunks within the document.")


class ComparisonFilter(Wire):
    key: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    type: Literal["eq", "sw", "ew", "co"] = "eq"
    value: str | int | float | bool


class CompoundFilter(Wire):
    filters: list[ComparisonFilter | CompoundFilter] = Field(max_length=32)
    operator: Literal["and", "or"] = "and"


Query = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class SearchRequest(Wire):
    query: Query | None = None
    prompt: Query | None = Field(default=None, description="Deprecated: the former name of `query`.")
    # `collections`: its former name, still read by OpenGateLLM 0.4 (an alias there too); ignored, it
    # would widen the search to every collection the caller can read.
    collection_ids: list[DbRef] = Field(
        default_factory=list,
        max_length=100,
        validation_alias=AliasChoices("collection_ids", "collections"),
        description="List of collections ID (`collections`: its former name).",
    )
    document_ids: list[DbRef] = Field(default_factory=list, max_length=100)
    metadata_filters: ComparisonFilter | CompoundFilter | None = None
    limit: int = Field(default=10, gt=0, le=100)
    offset: int = Field(default=0, ge=0, le=10_000)
    method: Literal["hybrid", "semantic", "lexical"] = "semantic"
    rff_k: int = Field(default=60, ge=0, le=16384)
    score_threshold: float = Field(default=0.0, ge=0, le=1)
    # Lockgate's additions: how hybrid fuses its rankings, and an optional rerank model (docs/api.md).
    fusion: FusionMethod | None = None
    semantic_weight: SemanticWeight | None = None
    rerank_model: RerankModel | None = None

    @model_validator(mode="after")
    def _query_or_prompt(self) -> SearchRequest:
        self.query = self.query or self.prompt
        if self.query is None:
            raise ValueError("query: required.")
        if self.score_threshold > 0 and self.method != "semantic":
            # OpenGateLLM 0.4's answer (a 400, raised from its schema too); ignored, it filtered nothing
            raise BadRequest(
                "score_threshold: only available for the semantic search method.", param="score_threshold"
            )
        return self

    def to_query(self, query: str | None = None) -> SearchQuery:
        """The search this body asks (`query`, when given, instead of the body's own)."""
        return SearchQuery(
            self.query or "" if query is None else query,  # never None once validated
            self.method,
            self.collection_ids,
            self.document_ids,
            self.metadata_filters.model_dump() if self.metadata_filters else None,
            self.limit,
            self.offset,
            self.rff_k if "rff_k" in self.model_fields_set else None,  # given: RRF, as OpenGateLLM
            self.score_threshold,
            self.fusion,
            self.semantic_weight,
            self.rerank_model,
        )


# -- POST /v1/collections/{collection_id}/evaluate (Lockgate's addition) --------------------------------

DocumentKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
EvalMethod = Literal["lexical", "semantic", "hybrid"]


class JudgedQueryIn(Wire):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    id: DocumentKey
    query: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    # Relevant documents: a list (grade 1 each) or {key: grade}; keys are document ids or names (`match`).
    relevant: list[DocumentKey] | dict[DocumentKey, Annotated[float, Field(ge=0, le=1000)]] | None = Field(
        default=None, max_length=10_000
    )


class EvaluateRequest(Wire):
    model_config = ConfigDict(extra="forbid")
    queries: list[JudgedQueryIn] = Field(min_length=1, max_length=1000)
    qrels: str | None = Field(default=None, max_length=5_000_000)  # TREC: query-id 0 document-id grade
    methods: list[EvalMethod] = Field(default=["lexical", "semantic", "hybrid"], min_length=1, max_length=3)
    k: int = Field(default=10, ge=1, le=100)
    match: Literal["id", "name"] = "id"
    fusion: FusionMethod | None = None
    semantic_weight: SemanticWeight | None = None
    rff_k: int | None = Field(default=None, ge=0, le=16384)
    rerank_model: RerankModel | None = None


class ScoresOut(Wire):
    ndcg: float
    recall: float
    mrr: float


class MethodScoresOut(ScoresOut):
    method: EvalMethod


class QueryScoresOut(Wire):
    id: str
    relevant: int
    scores: dict[str, ScoresOut]
    retrieved: dict[str, list[str]]


class FusionOut(Wire):
    method: FusionMethod
    semantic_weight: float
    rff_k: int
    rerank_model: str | None


class EvaluationOut(Wire):
    object: Literal["evaluation"] = "evaluation"
    collection_id: int
    k: int
    match: Literal["id", "name"]
    queries: int
    unknown_documents: int
    skipped_queries: list[str]
    fusion: FusionOut
    methods: list[MethodScoresOut]
    per_query: list[QueryScoresOut]
