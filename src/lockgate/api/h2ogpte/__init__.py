"""The h2oGPTe REST dialect under /api/v1: a façade that translates the official `h2ogpte` client's
shapes to the RAG, conversations and gateway services, and back. No SQL and no rules of its own."""

from fastapi import APIRouter

from lockgate.api.h2ogpte import chats, collections, documents, messages, prompt_templates, tags, uploads

router = APIRouter()
for _module in (collections, documents, uploads, tags, chats, messages, prompt_templates):
    router.include_router(_module.router)
