"""h2oGPTe model API: the chat models (`get_llms`), the embedding models and encoding for retrieval,
`summarize_content` and `extract_data` on text the client sends, and the caller's usage stats."""

from __future__ import annotations

import re
import time
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from lockgate.accounting.history import make_filter
from lockgate.api.deps import Caller, Context, State
from lockgate.api.h2ogpte.common import h2ogpte_router
from lockgate.conversations.content import ContentService, ModelAnswer
from lockgate.errors import InvalidRequest
from lockgate.gateway.schemas import ENDPOINT_MODEL_TYPES, Endpoint

router = h2ogpte_router("models")
MAX_TEXTS = 1000
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def content(state: State) -> ContentService:
    return state.content


Content = Annotated[ContentService, Depends(content)]


class SummarizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text_context_list: list[str | None] | None = Field(default=None, max_length=MAX_TEXTS)
    system_prompt: str | None = ""
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    llm_args: dict[str, Any] | None = None
    timeout: int | None = None


class ExtractBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    text_context_list: list[str] | None = Field(default=None, max_length=MAX_TEXTS)
    system_prompt: str | None = ""
    pre_prompt_extract: str | None = None
    prompt_extract: str | None = None
    llm_args: dict[str, Any] | None = None
    timeout: int | None = None


class QuestionBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str
    text_context_list: list[str] | None = Field(default=None, max_length=MAX_TEXTS)
    system_prompt: str | None = ""
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    chat_conversation: list[Annotated[list[str], Field(min_length=2, max_length=2)]] | None = Field(
        default=None, max_length=MAX_TEXTS
    )
    llm_args: dict[str, Any] | None = None
    timeout: int | None = None


class EncodeBody(BaseModel):
    chunks: list[str] = Field(max_length=MAX_TEXTS)


def _answer_out(answer: ModelAnswer) -> dict[str, Any]:
    return {
        "content": answer.content,
        "error": "",
        "prompt_raw": answer.prompt_raw,
        "llm": answer.llm,
        "input_tokens": answer.input_tokens,
        "output_tokens": answer.output_tokens,
        "origin": "lockgate",
    }


@router.get("/models")
async def list_models(caller: Caller, state: State) -> list[dict[str, Any]]:
    """The chat models (`get_llms`): id and display_name are the model's name."""
    chat = ENDPOINT_MODEL_TYPES[Endpoint.CHAT]
    return [
        {
            "id": r.name,
            "display_name": r.name,
            "base_model": r.name,
            "max_context_length": r.max_context_length,
            "aliases": list(r.aliases),
        }
        for r in state.gateway.registry.routers()
        if r.type in chat
    ]


def _embedding_out(name: str) -> dict[str, Any]:
    return {"id": name, "display_name": name, "description": "Embedding model.", "languages": ["en"]}


@router.get("/embedding_models")
async def list_embedding_models(caller: Caller, state: State) -> list[dict[str, Any]]:
    kinds = ENDPOINT_MODEL_TYPES[Endpoint.EMBEDDINGS]
    return [_embedding_out(r.name) for r in state.gateway.registry.routers() if r.type in kinds]


@router.get("/embedding_models/default")
async def get_default_embedding_model(caller: Caller, state: State) -> dict[str, Any]:
    """The model RAG embeds collections with."""
    return _embedding_out(state.rag.embedding_model)


@router.post("/embedding_models/{model_id}/encode_chunks_for_retrieval")
async def encode_chunks_for_retrieval(
    model_id: str, body: EncodeBody, ctx: Context, state: State
) -> list[list[float]]:
    if not body.chunks:
        return []
    answer = await state.gateway.embeddings(ctx, {"model": model_id, "input": body.chunks})
    return [item["embedding"] for item in sorted(answer["data"], key=lambda d: d["index"])]


@router.post("/models/{model_name}/summarize_content")
async def summarize_content(
    model_name: str, body: SummarizeBody, ctx: Context, service: Content
) -> dict[str, Any]:
    prompts = {
        "system_prompt": body.system_prompt,
        "pre_prompt_summary": body.pre_prompt_summary,
        "prompt_summary": body.prompt_summary,
    }
    texts = body.text_context_list or []  # the service drops empty ones (400 when none is left)
    answer = await service.summarize(ctx, model_name, texts, prompts, body.llm_args or {})
    return _answer_out(answer)


@router.post("/models/{model_name}/answer_question")
async def answer_question(
    model_name: str, body: QuestionBody, ctx: Context, service: Content
) -> dict[str, Any]:
    """`answer_question`: the question, with `text_context_list` as context when given and
    `chat_conversation` ([question, answer] pairs) as the earlier turns."""
    prompts = {
        "system_prompt": body.system_prompt,
        "pre_prompt_query": body.pre_prompt_query,
        "prompt_query": body.prompt_query,
    }
    history = [(q, a) for q, a in body.chat_conversation or []]
    answer = await service.answer(
        ctx, model_name, body.question, body.text_context_list or [], prompts, history, body.llm_args or {}
    )
    return _answer_out(answer)


@router.post("/models/{model_name}/extract_data")
async def extract_data(model_name: str, body: ExtractBody, ctx: Context, service: Content) -> dict[str, Any]:
    prompts = {
        "system_prompt": body.system_prompt,
        "pre_prompt_extract": body.pre_prompt_extract,
        "prompt_extract": body.prompt_extract,
    }
    answer = await service.extract(
        ctx, model_name, body.text_context_list or [], prompts, body.llm_args or {}
    )
    out = _answer_out(answer)
    out.pop("prompt_raw"), out.pop("origin")
    return {**out, "content": answer.parts}


def _seconds(interval: str) -> int:
    """A PostgreSQL-style interval ("24 hours", "6 hours", "7 days") in seconds."""
    found = re.fullmatch(r"\s*(\d+)\s*([a-z]+?)s?\s*", interval.lower())
    if not found or found.group(2) not in UNITS or int(found.group(1)) <= 0:
        raise InvalidRequest("interval: e.g. '24 hours' or '7 days'.", param="interval")
    return min(int(found.group(1)) * UNITS[found.group(2)], 10 * 366 * 86400)


Interval = Annotated[str, Query(max_length=64)]


@router.get("/stats/usage")
async def get_usage_stats(caller: Caller, state: State, interval: Interval) -> dict[str, Any]:
    """The caller's spend over the interval, in the unit of the router prices (-1: no budget)."""
    now = int(time.time())
    totals = await state.usage_history.totals(make_filter(now - _seconds(interval), now, caller.user_id))
    return {
        "current": totals["cost"],
        "max_allowed_24h": caller.budget if caller.budget is not None else -1,
        "cost_unit": "USD",
        "interval": interval,
    }


@router.get("/stats/usage_by_model")
async def get_usage_stats_by_model(caller: Caller, state: State, interval: Interval) -> list[dict[str, Any]]:
    now = int(time.time())
    found = await state.usage_history.by_model(make_filter(now - _seconds(interval), now, caller.user_id))
    return [
        {
            "llm_name": t.model,
            "llm_cost": t.cost,
            "call_count": t.requests,
            "input_tokens": t.prompt_tokens,
            "output_tokens": t.completion_tokens,
        }
        for t in found
    ]
