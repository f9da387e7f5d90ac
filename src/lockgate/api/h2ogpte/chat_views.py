"""What the h2oGPTe chat routes share: the services (built from the app state), request bodies and
the JSON shapes of sessions, messages, references and templates."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from lockgate.accounting.service import CallContext
from lockgate.api.deps import ChatCaller, State
from lockgate.api.h2ogpte.answer_request import answer_request
from lockgate.api.h2ogpte.common import from_public_id, timestamp, to_public_id
from lockgate.conversations.access import confine
from lockgate.conversations.completion import CompletionService
from lockgate.conversations.schemas import (
    AnswerRequest,
    MessageView,
    ReferenceView,
    SessionView,
    TemplateView,
)
from lockgate.conversations.schemas import TagFilter as Tags
from lockgate.conversations.service import ConversationService
from lockgate.conversations.templates import PROMPT_FIELDS, TemplateService
from lockgate.errors import NotFound
from lockgate.identity.schemas import Principal
from lockgate.kit.ids import unique_hex


def conversations(state: State) -> ConversationService:
    return state.conversations


def completions(state: State) -> CompletionService:
    return state.completions


def templates(state: State) -> TemplateService:
    return state.templates


async def chat_context(request: Request, principal: ChatCaller) -> CallContext:
    """The call context of a chat route: collection keys admitted (the services keep them in bounds)."""
    return CallContext(principal, request.scope["path"], request.method, unique_hex())


Conversations = Annotated[ConversationService, Depends(conversations)]
Completions = Annotated[CompletionService, Depends(completions)]
Templates = Annotated[TemplateService, Depends(templates)]
ChatContext = Annotated[CallContext, Depends(chat_context)]


class TagFilter(BaseModel):
    """h2oGPTe's TagFilter: documents with any `include` tag and no `exclude` tag, or, when
    `document_ids` is given, exactly those documents (the tags are then ignored)."""

    model_config = ConfigDict(extra="ignore")
    include: list[str] | None = None
    exclude: list[str] | None = None
    document_ids: list[str] | None = None

    def domain(self) -> Tags:
        """As conversations takes it: document ids as database ids."""
        if self.document_ids:
            return Tags(document_ids=tuple(from_public_id("document", d) for d in self.document_ids))
        return Tags(
            tuple(self.include) if self.include else None, tuple(self.exclude) if self.exclude else None
        )


def domain_tags(tags: list[str] | TagFilter | None) -> Tags | None:
    """A list of tag names (documents with any of them) or a TagFilter; an empty list filters nothing."""
    if isinstance(tags, TagFilter):
        return tags.domain()
    return Tags(tuple(tags)) if tags else None


class CompletionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str
    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    llm: str | None = None
    llm_args: dict[str, Any] | None = None
    self_reflection_config: dict[str, Any] | None = None
    rag_config: dict[str, Any] | None = None
    include_chat_history: str | None = None
    tags: list[str] | TagFilter | None = None
    stream: bool = False

    def answer_request(self) -> AnswerRequest:
        return answer_request(
            self.message,
            llm=self.llm,
            llm_args=self.llm_args,
            system_prompt=self.system_prompt,
            pre_prompt_query=self.pre_prompt_query,
            prompt_query=self.prompt_query,
            rag_config=self.rag_config,
            self_reflection_config=self.self_reflection_config,
            include_chat_history=self.include_chat_history,
            tags=domain_tags(self.tags),
        )


class NameBody(BaseModel):
    name: str


class CollectionChange(BaseModel):
    collection_id: str


class TemplateChange(BaseModel):
    prompt_template_id: str


def keyed_collection(principal: Principal, public_id: str) -> int:
    """The collection of a read that a collection key may make too: `default` is the key's own
    collection, and a key reads no other."""
    if public_id == "default":
        if principal.collection_id is None:
            raise NotFound("No default collection: only a collection key has one.", param="collection_id")
        return principal.collection_id
    collection_id = from_public_id("collection", public_id)
    confine(principal, collection_id)
    return collection_id


def public(kind: str, value: int | None) -> str | None:
    return to_public_id(kind, value) if value is not None else None


def optional_id(kind: str, value: str | None) -> int | None:
    return from_public_id(kind, value) if value else None


def session_out(view: SessionView) -> dict[str, Any]:
    return {
        "id": to_public_id("chat", view.id),
        "name": view.name,
        "collection_id": public("collection", view.collection_id),
        "collection_name": view.collection_name,
        "prompt_template_id": public("template", view.prompt_template_id),
        "latest_message_content": view.latest_message,
        "updated_at": timestamp(view.updated),
        "username": view.username,
    }


def message_out(message: MessageView, username: str) -> dict[str, Any]:
    return {
        "id": to_public_id("message", message.id),
        "content": message.content,
        "votes": message.votes,
        "created_at": timestamp(message.created),
        "has_references": message.references > 0,
        "total_references": message.references,
        "username": username,
        "reply_to": public("message", message.reply_to),
        "error": message.error,
        "llm_args": json.dumps(message.llm_args or {}),
        # The meta of an answer, but its raw prompt (long: GET /messages/{id}/meta has it).
        "type_list": [
            {"message_type": kind, "content": content}
            for kind, content in sorted((message.meta or {}).items())
            if kind != "prompt_raw"
        ],
    }


def reference_out(reference: ReferenceView) -> dict[str, Any]:
    return {
        "collection_id": public("collection", reference.collection_id),
        "document_id": to_public_id("document", reference.document_id),
        "document_name": reference.document_name,
        "chunk_id": reference.chunk_id,
        "score": reference.score,
        "pages": reference.pages,
        "content": reference.content,
        "were_references_deleted": reference.deleted,
    }


def template_out(template: TemplateView, principal_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {field: (template.prompts or {}).get(field) for field in PROMPT_FIELDS}
    out.update(
        id=to_public_id("template", template.id),
        name=template.name,
        description=template.description,
        lang=template.lang,
        is_default=False,
        is_public=bool(template.is_public),
        user_count=template.user_count,
        group_count=0,
        username=template.username,
        user_id=str(template.owner_id),
        created_at=timestamp(template.created),
        updated_at=timestamp(template.updated),
        visible=True,
        is_system_default=False,
    )
    return out
