"""The OpenAI-compatible inference surface: /v1/models, chat, completions, embeddings, rerank,
audio transcriptions, OCR. Errors use the OpenAI envelope."""

from fastapi import APIRouter, Depends, Request

from lockgate.api.errors import Dialect, OpenAIError, dialect_route, error_responses


async def openai_dialect(request: Request) -> None:
    # async: FastAPI runs plain `def` dependencies in a thread pool, a thread hop per request.
    request.state.dialect = Dialect.OPENAI


def inference_router() -> APIRouter:
    return APIRouter(
        prefix="/v1",
        tags=["inference"],
        dependencies=[Depends(openai_dialect)],
        route_class=dialect_route(Dialect.OPENAI),  # also for bodies that are not JSON
        responses=error_responses(OpenAIError),
    )
