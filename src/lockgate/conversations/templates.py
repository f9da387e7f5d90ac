"""Rules of prompt templates: the owner edits, deletes and shares; shared users and everyone (when
public) read. A collection's template is set by whoever can write the collection."""

from __future__ import annotations

import builtins  # the `list` method shadows the builtin in the annotations after it
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.conversations import repository
from lockgate.conversations.models import PromptTemplate
from lockgate.conversations.schemas import TemplateView
from lockgate.errors import InvalidRequest, NotFound, PermissionDenied
from lockgate.identity.repository import get_user_by_email
from lockgate.identity.schemas import Principal
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.rag.access import writable_collection

PROMPT_FIELDS = (
    "system_prompt",
    "pre_prompt_query",
    "prompt_query",
    "hyde_no_rag_llm_prompt_extension",
    "pre_prompt_summary",
    "prompt_summary",
    "system_prompt_reflection",
    "prompt_reflection",
    "auto_gen_description_prompt",
    "auto_gen_document_summary_pre_prompt_summary",
    "auto_gen_document_summary_prompt_summary",
    "auto_gen_document_sample_questions_prompt",
    "default_sample_questions",
    "image_batch_image_prompt",
    "image_batch_final_prompt",
)
SORTS = {"name": "name", "created_at": "created", "updated_at": "updated", "id": "id"}


class TemplateService:
    def __init__(self, db: Database):
        self._db = db

    async def _visible(self, session: AsyncSession, principal: Principal, template_id: int) -> PromptTemplate:
        template = await repository.template_visible(session, principal.user_id, template_id)
        if template is None:
            raise NotFound(f"Prompt template {template_id} not found.")
        return template

    async def _owned(self, session: AsyncSession, principal: Principal, template_id: int) -> PromptTemplate:
        template = await self._visible(session, principal, template_id)
        if template.owner_id != principal.user_id and not principal.is_master:
            raise PermissionDenied(f"Prompt template {template_id} belongs to another user.")
        return template

    async def _views(self, session: AsyncSession, templates: list[PromptTemplate]) -> list[TemplateView]:
        owners = await repository.owner_emails(session, {t.owner_id for t in templates})
        shares = await repository.share_counts(session, [t.id for t in templates])
        return [
            TemplateView(
                t.id,
                t.owner_id,
                t.name,
                t.description,
                t.lang,
                bool(t.is_public),
                dict(t.prompts or {}),
                t.created,
                t.updated,
                owners.get(t.owner_id, ""),
                shares.get(t.id, 0),
            )
            for t in templates
        ]

    async def create(self, principal: Principal, fields: dict[str, Any]) -> TemplateView:
        async with self._db.transaction() as session:
            template = PromptTemplate(owner_id=principal.user_id, prompts={})
            self._apply(template, fields)
            session.add(template)
            await session.flush()
            return (await self._views(session, [template]))[0]

    @staticmethod
    def _apply(template: PromptTemplate, fields: dict[str, Any]) -> None:
        for field in ("name", "description", "lang"):
            if fields.get(field) is not None:
                setattr(template, field, fields[field])
        prompts = dict(template.prompts or {})
        prompts.update({k: v for k, v in fields.items() if k in PROMPT_FIELDS and v is not None})
        template.prompts = prompts

    async def get(self, principal: Principal, template_id: int) -> TemplateView:
        async with self._db.transaction() as session:
            return (await self._views(session, [await self._visible(session, principal, template_id)]))[0]

    async def list(
        self, principal: Principal, offset: int, limit: int, sort: str, ascending: bool, name: str | None
    ) -> builtins.list[TemplateView]:
        if sort not in SORTS:
            raise InvalidRequest(f"sort_column must be one of {', '.join(SORTS)}.", param="sort_column")
        async with self._db.transaction() as session:
            found = await repository.list_templates(
                session, principal.user_id, offset, limit, SORTS[sort], ascending, name
            )
            return await self._views(session, found)

    async def count(self, principal: Principal) -> int:
        async with self._db.transaction() as session:
            return await repository.count_templates(session, principal.user_id)

    async def update(self, principal: Principal, template_id: int, fields: dict[str, Any]) -> TemplateView:
        async with self._db.transaction() as session:
            template = await self._owned(session, principal, template_id)
            self._apply(template, fields)
            template.updated = now_ts()
            await session.flush()
            return (await self._views(session, [template]))[0]

    async def delete(self, principal: Principal, template_ids: builtins.list[int]) -> None:
        async with self._db.transaction() as session:
            for template_id in template_ids:
                await session.delete(await self._owned(session, principal, template_id))

    async def permissions(self, principal: Principal, template_id: int) -> builtins.list[str]:
        async with self._db.transaction() as session:
            template = await self._owned(session, principal, template_id)
            owner = await repository.owner_emails(session, {template.owner_id})
            return [owner.get(template.owner_id, ""), *await repository.template_shares(session, template_id)]

    async def share(self, principal: Principal, template_id: int, username: str, on: bool) -> None:
        async with self._db.transaction() as session:
            await self._owned(session, principal, template_id)
            user = await get_user_by_email(session, username)
            if user is None:
                raise NotFound(f"User {username} not found.")
            if on:
                await repository.share_template(session, template_id, user.id)
            else:
                await repository.unshare_template(session, template_id, user.id)

    async def unshare_all(self, principal: Principal, template_id: int) -> None:
        async with self._db.transaction() as session:
            await self._owned(session, principal, template_id)
            await repository.unshare_template(session, template_id)

    async def set_for_collection(
        self, principal: Principal, collection_id: int, template_id: int | None
    ) -> None:
        """Attach (or detach) a template to a collection the caller may change (the master: any it
        can read): 404 when unreadable, 403 when only readable."""
        async with self._db.transaction() as session:
            collection = await writable_collection(session, principal, collection_id, master=True)
            if template_id is not None:
                await self._visible(session, principal, template_id)
            collection.prompt_template_id = template_id
