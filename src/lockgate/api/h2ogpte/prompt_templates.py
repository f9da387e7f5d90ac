"""h2oGPTe prompt templates: create, list, count, read, change, delete, and share with users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from lockgate.api.deps import Caller
from lockgate.api.h2ogpte.chat_views import Templates, template_out
from lockgate.api.h2ogpte.common import from_public_id, h2ogpte_router
from lockgate.kit.pagination import MAX_OFFSET

router = h2ogpte_router("prompt templates")


class TemplateFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    lang: str | None = None
    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    hyde_no_rag_llm_prompt_extension: str | None = None
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    system_prompt_reflection: str | None = None
    prompt_reflection: str | None = None
    auto_gen_description_prompt: str | None = None
    auto_gen_document_summary_pre_prompt_summary: str | None = None
    auto_gen_document_summary_prompt_summary: str | None = None
    auto_gen_document_sample_questions_prompt: str | None = None
    default_sample_questions: list[str] | None = None
    image_batch_image_prompt: str | None = None
    image_batch_final_prompt: str | None = None


class NewTemplate(TemplateFields):
    name: str


@router.post("/prompt_templates", status_code=201)
async def create_prompt_template(
    templates: Templates, principal: Caller, body: NewTemplate
) -> dict[str, Any]:
    view = await templates.create(principal, body.model_dump(exclude_none=True))
    return template_out(view, principal.user_id)


@router.get("/prompt_templates")
async def list_prompt_templates(
    templates: Templates,
    principal: Caller,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    sort_column: str = "updated_at",
    ascending: bool = False,
    filter: str | None = None,
    template_type: str | None = None,
) -> list[dict[str, Any]]:
    found = await templates.list(principal, offset, limit, sort_column, ascending, filter)
    return [template_out(v, principal.user_id) for v in found]


@router.get("/prompt_templates/count")
async def get_prompt_template_count(templates: Templates, principal: Caller) -> dict[str, int]:
    return {"count": await templates.count(principal)}


@router.get("/prompt_templates/{prompt_template_id}")
async def get_prompt_template(
    templates: Templates, principal: Caller, prompt_template_id: str
) -> dict[str, Any]:
    view = await templates.get(principal, from_public_id("template", prompt_template_id))
    return template_out(view, principal.user_id)


@router.patch("/prompt_templates/{prompt_template_id}")
async def update_prompt_template(
    templates: Templates, principal: Caller, prompt_template_id: str, body: TemplateFields
) -> dict[str, Any]:
    template_id = from_public_id("template", prompt_template_id)
    view = await templates.update(principal, template_id, body.model_dump(exclude_none=True))
    return template_out(view, principal.user_id)


@router.delete("/prompt_templates/{prompt_template_id}", status_code=204)
async def delete_prompt_template(templates: Templates, principal: Caller, prompt_template_id: str) -> None:
    ids = [from_public_id("template", t) for t in prompt_template_id.split(",") if t]
    await templates.delete(principal, ids)


@router.get("/prompt_templates/{prompt_template_id}/permissions")
async def get_prompt_template_permissions(
    templates: Templates, principal: Caller, prompt_template_id: str
) -> list[dict[str, Any]]:
    users = await templates.permissions(principal, from_public_id("template", prompt_template_id))
    return [{"username": u, "permissions": []} for u in users]


@router.delete("/prompt_templates/{prompt_template_id}/permissions", status_code=204)
async def unshare_prompt_template_for_all(
    templates: Templates, principal: Caller, prompt_template_id: str
) -> None:
    await templates.unshare_all(principal, from_public_id("template", prompt_template_id))


@router.put("/prompt_templates/{prompt_template_id}/permissions/{username}", status_code=204)
async def share_prompt_template(
    templates: Templates, principal: Caller, prompt_template_id: str, username: str
) -> None:
    await templates.share(principal, from_public_id("template", prompt_template_id), username, True)


@router.delete("/prompt_templates/{prompt_template_id}/permissions/{username}", status_code=204)
async def unshare_prompt_template(
    templates: Templates, principal: Caller, prompt_template_id: str, username: str
) -> None:
    await templates.share(principal, from_public_id("template", prompt_template_id), username, False)
