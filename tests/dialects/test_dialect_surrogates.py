"""A lone UTF-16 surrogate in a JSON body is refused before routing (api/json_text.py), yet in the
error shape of the dialect the route speaks: Anthropic's 400 envelope on /v1/messages, OpenAI's
envelope with `param` on /v1/responses, h2oGPTe's {code, message} under /api/v1."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer

LONE = '"\\ud800"'  # a JSON escape of half a surrogate pair


@pytest.fixture
def live(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    return lockgate(models=[model("chat", "text-generation", provider(upstream))])


def post(live, path: str, body: str) -> httpx.Response:
    headers = {**bearer(MASTER_KEY), "content-type": "application/json"}
    return httpx.post(f"{live.url}{path}", headers=headers, content=body.encode(), timeout=60)


def test_each_dialect_refuses_it_in_its_own_shape(live) -> None:
    anthropic = post(
        live,
        "/v1/messages",
        '{"model": "chat", "max_tokens": 5, "messages": [{"role": "user", "content": ' + LONE + "}]}",
    )
    assert anthropic.status_code == 400, anthropic.text
    body = anthropic.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "messages.0.content" in body["error"]["message"]

    responses = post(live, "/v1/responses", '{"model": "chat", "input": ' + LONE + "}")
    assert responses.status_code == 422, responses.text
    assert responses.json()["error"]["param"] == "input"

    h2ogpte = post(live, "/api/v1/prompt_templates", '{"name": ' + LONE + "}")
    assert h2ogpte.status_code == 422, h2ogpte.text
    assert set(h2ogpte.json()) == {"code", "message"} and "name" in h2ogpte.json()["message"]

    opengate = post(live, "/v1/collections", '{"name": ' + LONE + "}")
    assert opengate.status_code == 422 and "detail" in opengate.json()
