"""POST /extras/tokenize, /extras/tokenize/count, /extras/detokenize."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from lockgate.api.deps import Caller, State
from lockgate.api.errors import OpenAIError, error_responses
from lockgate.api.openai import openai_dialect

router = APIRouter(
    prefix="/extras",
    tags=["llama.cpp extras"],
    dependencies=[Depends(openai_dialect)],
    responses=error_responses(OpenAIError),
)


class TokenizeRequest(BaseModel):
    model: str | None = None
    input: str = Field(max_length=1_000_000)


class DetokenizeRequest(BaseModel):
    model: str | None = None
    tokens: list[int] = Field(max_length=1_000_000)


@router.post("/tokenize")
async def tokenize(body: TokenizeRequest, caller: Caller, state: State) -> dict[str, list[int]]:
    tokenizer = state.gateway.tokenizer(body.model)
    return {"tokens": await tokenizer.tokenize(body.input)}


@router.post("/tokenize/count")
async def count(body: TokenizeRequest, caller: Caller, state: State) -> dict[str, int]:
    tokenizer = state.gateway.tokenizer(body.model)
    return {"count": len(await tokenizer.tokenize(body.input))}


@router.post("/detokenize")
async def detokenize(body: DetokenizeRequest, caller: Caller, state: State) -> dict[str, str]:
    tokenizer = state.gateway.tokenizer(body.model)
    return {"text": await tokenizer.detokenize(body.tokens)}
