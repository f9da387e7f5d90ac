"""Small hostile inputs of issue #21: lone surrogates in JSON, a model with no provider, private files."""

from __future__ import annotations

import stat

import pytest

from lockgate.kit.db import build_engine
from tests.helpers import MASTER_KEY, bearer

JSON = {**bearer(MASTER_KEY), "Content-Type": "application/json"}

# (path, raw JSON body holding a lone surrogate, the field the answer must name, how it names it)
SURROGATES = [
    ("/api/v1/prompt_templates", b'{"name": "a\\ud800b", "system_prompt": "x"}', "name"),
    ("/v1/collections", b'{"name": "c\\udfff"}', "name"),
    ("/v1/admin/roles", b'{"name": "r", "permissions": ["\\udc00"]}', "permissions.0"),
    (
        "/v1/chat/completions",
        b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}',
        "messages.0.content",
    ),
    ("/v1/embeddings", b'{"model": "m", "input": ["ok", "\\udc00x"]}', "input.1"),
    # the raw bytes of a UTF-8-encoded surrogate, which json decodes the same way
    ("/v1/auth/login", b'{"email": "a\xed\xa0\x80@example.org", "password": "p"}', "email"),
]


def _named(response) -> str:
    body = response.json()
    if "error" in body:  # OpenAI
        return body["error"]["param"]
    if "detail" in body:  # OpenGateLLM (FastAPI's list of fields)
        return ".".join(str(p) for p in body["detail"][0]["loc"][1:])
    return body["message"].split(":")[0]  # h2oGPTe


@pytest.mark.parametrize(("path", "raw", "field"), SURROGATES, ids=[s[0] for s in SURROGATES])
async def test_a_lone_surrogate_is_a_422_naming_the_field(api, path: str, raw: bytes, field: str) -> None:
    response = await api.client.post(path, content=raw, headers=JSON)
    assert response.status_code == 422, response.text
    assert _named(response) == field
    assert "surrogate" in response.text
    assert (await api.get("/health")).status_code == 200


async def test_a_valid_surrogate_pair_is_stored_as_its_character(api) -> None:
    created = await api.client.post(
        "/v1/collections", content=b'{"name": "smile \\ud83d\\ude00"}', headers=JSON
    )
    assert created.status_code == 201, created.text
    shown = await api.get(f"/v1/collections/{created.json()['id']}")
    assert shown.json()["name"] == "smile \U0001f600"


async def test_a_model_without_providers_promises_no_retry(api) -> None:
    """Retry-After would send clients back forever: nothing changes until an administrator adds one."""
    router = await api.create_router()
    name = (await api.get(f"/v1/admin/routers/{router}")).json()["name"]
    response = await api.post(
        "/v1/chat/completions", json={"model": name, "messages": [{"role": "user", "content": "hi"}]}
    )
    assert response.status_code == 503
    assert "retry-after" not in response.headers
    assert "no provider" in response.json()["error"]["message"]


async def test_the_sqlite_database_and_journal_are_private(tmp_path) -> None:
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path}/data/lockgate.db")
    async with engine.connect():
        pass
    await engine.dispose()
    assert stat.S_IMODE((tmp_path / "data" / "lockgate.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


# a role or part type that is a list or an object (unhashable) was looked up in a set: TypeError, 500
UNHASHABLE = [
    ([{"role": ["user"], "content": "hi"}], "messages[0].role"),
    ([{"role": {"a": 1}, "content": "hi", "name": "x"}], "messages[0].role"),
    ([{"role": "user", "content": [{"type": ["text"], "text": "x"}]}], "messages[0].content[0]"),
    ([{"role": "system", "content": [{"type": {"t": 1}, "text": "x"}]}], "messages[0].content[0]"),
]


@pytest.mark.parametrize(("messages", "param"), UNHASHABLE)
async def test_a_role_or_part_type_of_the_wrong_json_type_is_a_400_naming_it(api, messages, param) -> None:
    response = await api.post("/v1/chat/completions", json={"model": "m", "messages": messages})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert (await api.get("/health")).status_code == 200
