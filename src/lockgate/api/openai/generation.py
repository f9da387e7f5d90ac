"""POST /v1/chat/completions and /v1/completions."""

from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.responses import Response

from lockgate.accounting.service import CallContext
from lockgate.api.deps import Context, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.schemas import ChatRequest, CompletionRequest
from lockgate.api.openai.search_tool import search_request
from lockgate.api.openai.sse import encode_sse, wants_usage
from lockgate.api.opengate.rag_schemas import SearchRequest
from lockgate.api.responses import OrjsonResponse
from lockgate.gateway.request import GenerationRequest, read_chat, read_completion
from lockgate.rag.schemas import SearchQuery
from lockgate.state import AppState

router = inference_router()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _respond(
    state: AppState, ctx: CallContext, request: GenerationRequest, object_name: str
) -> Response:
    if request.stream:
        events = await state.gateway.generate_stream(ctx, request)
        usage = wants_usage(request.stream_options, state.settings.stream_usage_always)
        return StreamingResponse(
            encode_sse(events, object_name, usage), media_type="text/event-stream", headers=_SSE_HEADERS
        )
    return OrjsonResponse((await state.gateway.generate(ctx, request)).wire())


def _checked(search: dict[str, Any] | None) -> SearchQuery | None:
    """Search arguments validated like POST /v1/search (422 naming the field); without a `query`, the
    chat's last user message is searched."""
    if search is None:
        return None
    query = search.get("query")
    try:
        checked = SearchRequest(query=query or "-", **{k: v for k, v in search.items() if k != "query"})
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", "search", *e["loc"])} for e in exc.errors()]
        ) from exc
    return checked.to_query(query or "")


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, ctx: Context, state: State) -> Response:
    payload = body.model_dump(exclude_unset=True)
    if payload.get("search") and not payload.get("search_args"):  # as OpenGateLLM's schema requires
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body", "search_args"), "msg": "Field required when search is true"}]
        )
    search = _checked(search_request(payload))
    if search is not None:  # retrieval-augmented: ground the answer in the caller's collections
        if body.stream:
            events = await state.grounded_chat.stream(ctx, payload, search)
            return StreamingResponse(
                encode_sse(
                    events,
                    "chat.completion.chunk",
                    wants_usage(payload.get("stream_options"), state.settings.stream_usage_always),
                ),
                media_type="text/event-stream",
                headers=_SSE_HEADERS,
            )
        return OrjsonResponse(await state.grounded_chat.answer(ctx, payload, search))
    return await _respond(state, ctx, read_chat(payload), "chat.completion.chunk")


@router.post("/completions")
async def completions(body: CompletionRequest, ctx: Context, state: State) -> Response:
    payload = body.model_dump(exclude_unset=True)
    return await _respond(state, ctx, read_completion(payload), "text_completion")
