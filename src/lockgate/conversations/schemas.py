"""Domain types of conversations: the answer request a surface builds, the RAG types, and what an answer
and the views of sessions, messages and templates hand back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lockgate.errors import InvalidRequest


class RagType(StrEnum):
    """How an answer is grounded (h2oGPTe's `rag_config.rag_type`)."""

    AUTO = "auto"  # rag in a session with a collection, llm_only without
    LLM_ONLY = "llm_only"
    RAG = "rag"
    HYDE1 = "hyde1"  # search with the question and a first, ungrounded answer
    HYDE2 = "hyde2"  # hyde1, then search again with a first grounded answer
    RAG_PLUS = "rag+"  # rag, with each chunk's neighbours in its document
    ALL_DATA = "all_data"  # summarise the whole collection, batch by batch

    @classmethod
    def parse(cls, value: object) -> RagType:
        """`value` as a RagType (none given is AUTO); anything else is a 400 naming the field."""
        if not value:
            return cls.AUTO
        try:
            return cls(str(value))
        except ValueError:
            names = ", ".join(t.value for t in cls)
            raise InvalidRequest(
                f"rag_config.rag_type: '{value}' is not one of {names}.", param="rag_config.rag_type"
            ) from None

    def resolved(self, has_collection: bool) -> RagType:
        """The type actually run: without a collection there is nothing to ground on."""
        if not has_collection:
            return RagType.LLM_ONLY
        return RagType.RAG if self is RagType.AUTO else self


@dataclass(frozen=True, slots=True)
class Retrieval:
    """How chunks are picked and laid into the prompt (h2oGPTe's `rag_config`)."""

    rag_type: RagType = RagType.AUTO
    max_chunks: int = 4  # at most this many chunks are retrieved (then as many as fit the prompt)
    min_score: float | None = None  # set: semantic search with this cosine threshold; else hybrid
    include_name: bool = False  # each chunk is headed by its document's name
    include_page: bool = False  # and by its page
    hyde_extension: str | None = None  # what hyde appends to the question for its first answer


@dataclass(frozen=True, slots=True)
class TagFilter:
    """Documents with any of `include` (all when None or empty) and none of `exclude`; or, when
    `document_ids` (public ids: a copy's original) is given, exactly those documents."""

    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    document_ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class Reflection:
    """A second model that judges the answer (stored in the answer's `self_reflection` meta)."""

    llm: str
    llm_args: Mapping[str, Any] | None = None  # None: the answer's own llm_args
    prompt: str | None = None  # a template with two %s (prompt, answer), else put before them
    system_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerRequest:
    """One question for a chat session, as every surface (REST, websocket, console) hands it over."""

    message: str
    llm: str | None = None  # None: the default chat model
    llm_args: Mapping[str, Any] = field(default_factory=dict)  # h2oGPTe llm_args (max_new_tokens…)
    system_prompt: str | None = None  # these three override the templates' prompts
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    retrieval: Retrieval = Retrieval()
    include_history: bool = True  # the last turns of the session go into the prompt
    tags: TagFilter | None = None  # limits retrieval to tagged documents of the collection
    metadata_filter: Mapping[str, Any] | None = None  # and to documents whose metadata matches
    reflection: Reflection | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored answer: its message id and its text."""

    message_id: int
    text: str


@dataclass(frozen=True, slots=True)
class SessionView:
    id: int
    name: str | None
    collection_id: int | None
    collection_name: str | None
    prompt_template_id: int | None
    latest_message: str | None
    updated: int  # unix seconds
    username: str  # the owner's email


@dataclass(frozen=True, slots=True)
class MessageView:
    """A question (`reply_to` None) or an answer, with how many references the answer keeps."""

    id: int
    session_id: int
    reply_to: int | None
    content: str
    error: str | None
    votes: int
    llm_args: Mapping[str, Any]
    meta: Mapping[str, str]  # message_type → content: usage_stats, prompt_raw, self_reflection…
    created: int  # unix seconds
    references: int = 0


@dataclass(frozen=True, slots=True)
class ReferenceView:
    """A chunk that was in an answer's prompt, as it was then (`deleted`: the chunk is gone since)."""

    chunk_id: int
    document_id: int
    collection_id: int | None
    document_name: str
    score: float
    pages: str
    content: str
    deleted: bool


@dataclass(frozen=True, slots=True)
class TemplateView:
    id: int
    owner_id: int
    name: str
    description: str | None
    lang: str | None
    is_public: bool
    prompts: Mapping[str, Any]  # prompt field → text (only those the template sets)
    created: int
    updated: int
    username: str  # the owner's email
    user_count: int  # users it is shared with
