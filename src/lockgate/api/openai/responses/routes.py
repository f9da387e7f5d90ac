"""POST /v1/responses, GET/DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items: the Responses
API over the gateway (same admission, limits, budgets, usage rows, carbon, fallback and QoS as
/v1/chat/completions), with stored responses chained by previous_response_id and file_search over the
caller's collections."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query
from fastapi.responses import StreamingResponse
from starlette.responses import Response

from lockgate.api.deps import Caller, Context, State
from lockgate.api.openai import inference_router
from lockgate.api.openai.responses.render import (
    Draft,
    answer_output,
    file_search_item,
    grounding_message,
    history_turn,
)
from lockgate.api.openai.responses.schemas import MessageItem, ResponsesRequest
from lockgate.api.openai.responses.stream import encode_response_stream
from lockgate.api.openai.responses.translate import (
    chat_messages,
    chat_request,
    collection_ids,
    file_search_tool,
    items_of,
    stored_items,
)
from lockgate.api.responses import OrjsonResponse
from lockgate.errors import BadRequest, InvalidRequest
from lockgate.gateway.schemas import Endpoint
from lockgate.responses.schemas import Citation, ResponseRecord

router = inference_router()
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
ResponseId = Annotated[str, Path(max_length=64)]


def _query(items: list[Any]) -> str:
    """What file_search looks for: the last user message's text."""
    for item in reversed(items):
        if isinstance(item, MessageItem) and item.role == "user":
            text = (
                item.content
                if isinstance(item.content, str)
                else " ".join(getattr(p, "text", "") for p in item.content)
            )
            if text.strip():
                return text
    raise InvalidRequest("input: file_search needs a user message with text to search for.", param="input")


@router.post("/responses")
async def create_response(body: ResponsesRequest, ctx: Context, state: State) -> Response:
    items = items_of(body)
    new_messages = chat_messages(items)
    history: list[dict[str, Any]] = []
    if body.previous_response_id:
        history = (await state.responses.get(ctx.principal, body.previous_response_id)).history
    model = state.gateway.resolve(body.model, Endpoint.CHAT).name
    draft = Draft(body, model)
    citations: list[Citation] = []
    lead: list[dict[str, Any]] = []
    if body.instructions:
        lead.append({"role": "system", "content": body.instructions})
    if (tool := file_search_tool(body)) is not None:
        query = _query(items)
        citations = await state.responses.file_search(
            ctx, query, collection_ids(tool), tool.max_num_results or 10
        )
        with_results = "file_search_call.results" in (body.include or ())
        draft.output.append(file_search_item(query, citations, with_results))
        if citations:
            lead.append(grounding_message(citations))
    if not history and not any(m["role"] != "system" for m in new_messages):
        raise InvalidRequest("input: needs at least one message or item to answer.", param="input")
    earlier = [*lead, *history]
    payload = chat_request(body, [*earlier, *new_messages], items, len(earlier))
    stored_input = stored_items(items)

    async def keep(response: dict[str, Any]) -> None:
        if body.store is False:
            return
        record = ResponseRecord(
            response["id"],
            model,
            draft.created_at,
            body.previous_response_id,
            response,
            stored_input,
            [*history, *new_messages, *history_turn(response["output"])],
        )
        await state.responses.save(ctx.principal, record)

    if body.stream:
        events = await state.gateway.generate_stream(ctx, payload)
        return StreamingResponse(
            encode_response_stream(draft, events, citations, keep),
            media_type="text/event-stream",
            headers=_SSE_HEADERS,
        )
    answer = await state.gateway.generate(ctx, payload)
    output, finish = answer_output(answer.answer, citations)
    draft.output.extend(output)
    response = draft.render("completed", answer.usage, finish)
    await keep(response)
    return OrjsonResponse(response)


@router.get("/responses/{response_id}")
async def retrieve_response(response_id: ResponseId, caller: Caller, state: State) -> Response:
    return OrjsonResponse((await state.responses.get(caller, response_id)).body)


@router.delete("/responses/{response_id}")
async def delete_response(response_id: ResponseId, caller: Caller, state: State) -> dict[str, Any]:
    await state.responses.delete(caller, response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.post("/responses/{response_id}/cancel")
async def cancel_response(response_id: ResponseId, caller: Caller, state: State) -> Response:
    """Only background responses can be cancelled, and Lockgate makes none: the caller's own response
    is a 400 saying so (it is left as it is), anyone else's or an absent one 404."""
    await state.responses.get(caller, response_id)
    raise BadRequest(
        "Only responses created with background=true can be cancelled; Lockgate answers in the "
        "foreground, so this response is already finished.",
        param="response_id",
    )


@router.get("/responses/{response_id}/input_items")
async def list_input_items(
    response_id: ResponseId,
    caller: Caller,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
) -> dict[str, Any]:
    items = list((await state.responses.get(caller, response_id)).input_items)
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }
