"""POST /v1/chat/completions and /v1/completions."""

from typing import Any

from fastapi.responses import StreamingResponse

from lockgate.accounting.service import CallContext
from lockgate.api.deps import Context, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.schemas import ChatRequest, CompletionRequest
from lockgate.api.openai.sse import encode_sse
from lockgate.api.responses import OrjsonResponse
from lockgate.errors import BadRequest
from lockgate.gateway.schemas import Endpoint
from lockgate.state import AppState

router = inference_router()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _respond(
    state: AppState,
    ctx: CallContext,
    endpoint: Endpoint,
    payload: dict[str, Any],
    stream: bool,
    object_name: str,
):
    if stream:
        events = await state.gateway.generate_stream(ctx, endpoint, payload)
        return StreamingResponse(
            encode_sse(events, object_name), media_type="text/event-stream", headers=_SSE_HEADERS
        )
    return OrjsonResponse(await state.gateway.generate(ctx, endpoint, payload))


@router.post("/chat/completions")
async def chat_completions(body: ChatRequest, ctx: Context, state: State):
    payload = body.model_dump(exclude_unset=True)
    if payload.pop("search", None) or any(t.get("type") == "search" for t in payload.get("tools") or ()):
        raise BadRequest("search in chat completions is not available yet.", param="search")
    payload.pop("search_args", None)
    return await _respond(state, ctx, Endpoint.CHAT, payload, bool(body.stream), "chat.completion.chunk")


@router.post("/completions")
async def completions(body: CompletionRequest, ctx: Context, state: State):
    payload = body.model_dump(exclude_unset=True)
    return await _respond(state, ctx, Endpoint.COMPLETIONS, payload, bool(body.stream), "text_completion")
