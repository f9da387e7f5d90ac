"""Wrong JSON types on the OpenAI inference routes are refused naming the field, as OpenAI refuses them,
instead of being coerced by pydantic's lax mode (`"stream": "yes"` read as true, `"n": true` as 1)."""

import pytest

from tests.helpers import Api

MESSAGES = [{"role": "user", "content": "hi"}]
BODIES = {
    "/v1/chat/completions": {"model": "m", "messages": MESSAGES},
    "/v1/completions": {"model": "m", "prompt": "hi"},
    "/v1/embeddings": {"model": "m", "input": "hi"},
}

WRONG = [
    ("/v1/chat/completions", "stream", "yes"),
    ("/v1/chat/completions", "stream", 1),
    ("/v1/chat/completions", "max_tokens", "5"),
    ("/v1/chat/completions", "max_tokens", 5.5),
    ("/v1/chat/completions", "max_tokens", 2**31),  # #22: one bound for every dialect's token counts
    ("/v1/chat/completions", "max_completion_tokens", 2**31),
    ("/v1/chat/completions", "max_completion_tokens", "5"),
    ("/v1/chat/completions", "n", "2"),
    ("/v1/chat/completions", "n", True),
    ("/v1/chat/completions", "temperature", "hot"),
    ("/v1/chat/completions", "temperature", "0.5"),
    ("/v1/chat/completions", "temperature", True),
    ("/v1/chat/completions", "top_p", "1"),
    ("/v1/chat/completions", "seed", "42"),
    ("/v1/chat/completions", "logprobs", "true"),
    ("/v1/chat/completions", "top_logprobs", "2"),
    ("/v1/chat/completions", "stop", 5),
    ("/v1/chat/completions", "presence_penalty", "0.5"),
    ("/v1/chat/completions", "frequency_penalty", 3),
    ("/v1/chat/completions", "parallel_tool_calls", "false"),
    ("/v1/chat/completions", "user", 42),
    ("/v1/completions", "stream", "true"),
    ("/v1/completions", "max_tokens", "5"),
    ("/v1/completions", "n", "2"),
    ("/v1/completions", "temperature", "hot"),
    ("/v1/completions", "logprobs", "1"),
    ("/v1/completions", "echo", "yes"),
    ("/v1/completions", "best_of", "2"),
    ("/v1/completions", "seed", 1.5),
    ("/v1/completions", "suffix", 7),
    ("/v1/embeddings", "dimensions", "64"),
]


@pytest.mark.parametrize(("path", "field", "value"), WRONG, ids=[f"{p}:{f}={v!r}" for p, f, v in WRONG])
async def test_a_wrong_json_type_is_a_422_naming_the_field(api: Api, path: str, field: str, value) -> None:
    response = await api.post(path, json={**BODIES[path], field: value})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["param"] == field and body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(f"{field}: ")
    # OpenGateLLM clients read FastAPI's list of fields on the same route
    assert body["detail"][0]["loc"][:2] == ["body", field]


RIGHT = [
    ("/v1/chat/completions", {"stream": False, "max_tokens": 5, "n": 1, "temperature": 1, "top_p": 0.5}),
    ("/v1/chat/completions", {"temperature": 0.5, "seed": 42, "logprobs": False, "stop": ["x"]}),
    ("/v1/chat/completions", {"stream": None, "max_tokens": None, "temperature": None}),
    (
        "/v1/chat/completions",
        {"top_k": "passed through as sent", "messages": '[{"role": "user", "content": "hi"}]'},
    ),
    ("/v1/chat/completions", {"presence_penalty": -2, "frequency_penalty": 0.5, "parallel_tool_calls": True}),
    ("/v1/completions", {"prompt": [1, 2, 3], "max_tokens": 5, "temperature": 0}),
    ("/v1/completions", {"echo": True, "suffix": "!", "best_of": 1, "seed": 7, "user": "u"}),
    ("/v1/embeddings", {"input": [[1, 2], [3]], "dimensions": 64, "encoding_format": "float"}),
]


@pytest.mark.parametrize(("path", "fields"), RIGHT)
async def test_values_of_the_right_type_pass_validation(api: Api, path: str, fields: dict) -> None:
    response = await api.post(path, json={**BODIES[path], **fields})
    # past validation, the unknown model "m" is what is refused
    assert response.status_code == 404, response.text
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize("item", ["x", [1]], ids=["texts", "token-id-lists"])
async def test_embeddings_take_at_most_2048_inputs_as_openai_does(api: Api, item) -> None:
    """100,000 inputs in one request held the single local embedder for minutes (#22: counts bounded)."""
    over = await api.post("/v1/embeddings", json={"model": "m", "input": [item] * 2049})
    assert over.status_code == 422, over.text
    assert over.json()["error"]["param"] == "input"
    at_limit = await api.post("/v1/embeddings", json={"model": "m", "input": [item] * 2048})
    assert at_limit.status_code == 404 and at_limit.json()["error"]["param"] == "model"  # past validation
    assert (await api.get("/health")).status_code == 200
