"""The hot inference routes are served outside FastAPI's routing (api/openai/fast_lane.py): they must
answer every unhappy path exactly as the routed surface does, and stay logged, measured and documented."""

import pytest

from tests.helpers import Api

ROUTES = ("/v1/chat/completions", "/v1/completions", "/v1/embeddings")
VALID = {
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
    "/v1/completions": {"prompt": "hi"},
    "/v1/embeddings": {"input": "hi"},
}
OUT_OF_RANGE = {"/v1/chat/completions": "n", "/v1/completions": "n", "/v1/embeddings": "dimensions"}


def _error(response) -> dict:
    return response.json()["error"]


@pytest.mark.parametrize("path", ROUTES)
async def test_missing_and_wrong_keys_are_401_in_the_openai_dialect(api: Api, path: str) -> None:
    for key in (None, "sk-wrong"):
        response = await api.post(path, key=key, json={"model": "m", **VALID[path]})
        assert response.status_code == 401
        assert _error(response)["type"] == "authentication_error"
        assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize("path", ROUTES)
async def test_malformed_bodies_are_422_naming_the_field(api: Api, path: str) -> None:
    not_json = await api.post(path, content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    # the position goes in the message, never in `param` (it names no field)
    assert _error(not_json)["message"].startswith("body: not valid JSON at character 1")
    assert _error(not_json)["param"] is None
    empty = await api.post(path, content=b"")
    assert (empty.status_code, _error(empty)["code"]) == (422, "invalid_request_error")
    a_list = await api.post(path, json=[1, 2])
    assert a_list.status_code == 422
    missing_model = await api.post(path, json=VALID[path])
    assert (missing_model.status_code, _error(missing_model)["param"]) == (422, "model")
    field = OUT_OF_RANGE[path]
    out_of_range = await api.post(path, json={"model": "m", **VALID[path], field: 0})
    assert (out_of_range.status_code, _error(out_of_range)["param"]) == (422, field)


async def test_an_unknown_model_is_404_and_the_key_is_checked_before_the_body(api: Api) -> None:
    unknown = await api.post("/v1/chat/completions", json={"model": "nope", **VALID["/v1/chat/completions"]})
    assert (unknown.status_code, _error(unknown)["param"]) == (404, "model")
    unauthenticated = await api.post("/v1/chat/completions", key="sk-wrong", content=b"{oops")
    assert unauthenticated.status_code == 401


async def test_a_collection_key_is_refused(api: Api) -> None:
    member = await api.create_member()
    collection = await api.post("/v1/collections", key=member.key, json={"name": "c"})
    assert collection.status_code == 201, collection.text
    created = await api.post(
        "/v1/me/keys", key=member.key, json={"name": "ck", "collection_id": collection.json()["id"]}
    )
    assert created.status_code == 201, created.text
    response = await api.post(
        "/v1/chat/completions",
        key=created.json()["token"],
        json={"model": "m", **VALID["/v1/chat/completions"]},
    )
    assert response.status_code == 403
    assert _error(response)["type"] == "permission_error"


async def test_requests_are_measured_under_their_route_and_still_documented(api: Api) -> None:
    await api.post("/v1/chat/completions", json={"model": "nope", **VALID["/v1/chat/completions"]})
    metrics = await api.get("/metrics")
    assert 'route="/v1/chat/completions",status="404"' in metrics.text
    paths = (await api.get("/openapi.json", key=None)).json()["paths"]
    for path in ROUTES:
        assert "requestBody" in paths[path]["post"]


def test_the_lanes_come_from_the_declared_routes_and_a_missing_one_stops_startup() -> None:
    from lockgate.api.openai import embeddings, generation
    from lockgate.api.openai.fast_lane import lanes_of
    from lockgate.api.openai.schemas import ChatRequest, EmbeddingRequest

    lanes = lanes_of([*generation.router.routes, *embeddings.router.routes])
    assert (lanes["/v1/chat/completions"].model, lanes["/v1/embeddings"].model) == (
        ChatRequest,
        EmbeddingRequest,
    )
    assert lanes["/v1/chat/completions"].route.endpoint is generation.chat_completions
    with pytest.raises(RuntimeError, match="/v1/embeddings"):
        lanes_of(generation.router.routes)


def test_an_endpoint_that_does_not_take_what_the_lane_passes_stops_the_app_at_startup() -> None:
    from fastapi.routing import APIRoute

    from lockgate.api.openai.fast_lane import lanes_of
    from lockgate.api.openai.schemas import ChatRequest, CompletionRequest, EmbeddingRequest

    async def chat(body: ChatRequest, ctx: object, state: object) -> None: ...
    async def completions(body: CompletionRequest, ctx: object, state: object) -> None: ...
    async def embeddings(body: EmbeddingRequest, ctx: object, state: object) -> None: ...
    async def renamed(body: EmbeddingRequest, context: object, state: object) -> None: ...
    async def extra(body: EmbeddingRequest, ctx: object, state: object, request: object) -> None: ...
    async def untyped(body, ctx: object, state: object) -> None: ...
    def blocking(body: EmbeddingRequest, ctx: object, state: object) -> None: ...

    def routes(last) -> list[APIRoute]:
        return [
            APIRoute("/v1/chat/completions", chat, methods=["POST"]),
            APIRoute("/v1/completions", completions, methods=["POST"]),
            APIRoute("/v1/embeddings", last, methods=["POST"]),
        ]

    assert set(lanes_of(routes(embeddings))) == {"/v1/chat/completions", "/v1/completions", "/v1/embeddings"}
    for wrong in (renamed, extra, untyped, blocking):
        with pytest.raises(RuntimeError, match="POST /v1/embeddings"):
            lanes_of(routes(wrong))
