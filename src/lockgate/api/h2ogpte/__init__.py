"""The h2oGPTe REST dialect under /api/v1: a façade that translates the official `h2ogpte` client's
shapes to the RAG, conversations and gateway services, and back. No SQL and no rules of its own."""

from fastapi import APIRouter

from lockgate.api.h2ogpte import (
    chats,
    collection_extras,
    collections,
    delete_jobs,
    document_extras,
    documents,
    jobs,
    messages,
    models,
    prompt_templates,
    rpc,
    tags,
    uploads,
    ws_chat,
)

router = APIRouter()
for _module in (
    delete_jobs,  # before the routes with a path parameter where "delete_job" would be read as an id
    collections,
    collection_extras,
    documents,
    document_extras,
    uploads,
    jobs,
    tags,
    chats,
    messages,
    models,
    prompt_templates,
    rpc,
    ws_chat,
):
    router.include_router(_module.router)
