"""POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API) over the gateway: the same
admission, limits, budgets, usage rows, carbon, fallback and QoS as /v1/chat/completions."""

from __future__ import annotations

from fastapi.responses import StreamingResponse
from starlette.responses import Response

from lockgate.api.anthropic import AnthropicCaller, AnthropicContext, anthropic_router
from lockgate.api.anthropic.schemas import CountTokensRequest, MessagesRequest
from lockgate.api.anthropic.stream import encode_message_stream
from lockgate.api.anthropic.translate import chat_messages, chat_request, chat_tools, message
from lockgate.api.deps import State
from lockgate.api.responses import OrjsonResponse
from lockgate.gateway.schemas import Endpoint
from lockgate.gateway.usage import estimate_prompt

router = anthropic_router()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.post("/messages")
async def create_message(body: MessagesRequest, ctx: AnthropicContext, state: State) -> Response:
    payload = chat_request(body)
    message_id = f"msg_{ctx.request_id}"
    if body.stream:
        events = await state.gateway.generate_stream(ctx, payload)
        model = state.gateway.resolve(body.model, Endpoint.CHAT).name
        estimate = estimate_prompt(payload)
        return StreamingResponse(
            encode_message_stream(events, message_id, model, estimate, body.stop_sequences),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    answer = await state.gateway.generate(ctx, payload)
    return OrjsonResponse(message(answer, message_id, body.stop_sequences))


@router.post("/messages/count_tokens")
async def count_tokens(body: CountTokensRequest, caller: AnthropicCaller, state: State) -> dict[str, int]:
    tokens = await state.gateway.count_prompt_tokens(body.model, chat_messages(body), chat_tools(body))
    return {"input_tokens": tokens}
