"""x-ratelimit-* headers on the answers of limited users (OpenAI's names), in process and through Redis;
upstream failures shown to callers without the upstream's address."""

from __future__ import annotations

import math
import time

import httpx
import pytest
import redis
from starlette.requests import Request

from lockgate.api.errors import render_exception
from lockgate.errors import UpstreamBadGateway
from tests.accounting.helpers import PING, chat, member_key, router_id
from tests.gateway.conftest import dead_url, model, provider
from tests.helpers import bearer


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "memory":
        return {}
    # a database of its own, emptied: other tests' users and routers have the same ids in the shared Redis
    url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(url).flushdb()
    return {"redis_url": url}


def test_limited_users_see_their_windows(fake, lockgate, limiter) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))], **limiter)
    chat_id = router_id(live, "chat")
    limits = [
        {"router": chat_id, "type": "rpm", "value": 3},
        {"router": chat_id, "type": "rpd", "value": 100},
        {"router": chat_id, "type": "tpm", "value": 1000},
    ]
    # Windows are fixed (floor(now / 60)): a busy machine may cross a minute boundary mid-sequence,
    # which resets the counts. Such a run proves nothing; run it again with a fresh user.
    for _ in range(3):
        started = time.time()
        _, key = member_key(live, limits)
        first, second = chat(live, key), chat(live, key)
        with httpx.stream(
            "POST",
            f"{live.url}/v1/chat/completions",
            headers=bearer(key),
            json={"model": "chat", **PING, "stream": True},
            timeout=30,
        ) as streamed:
            streamed_status, streamed_headers = streamed.status_code, streamed.headers
        refused = chat(live, key)
        if math.floor(started / 60) == math.floor(time.time() / 60):
            break
    else:
        pytest.fail("every attempt crossed a minute boundary")
    assert first.headers["x-ratelimit-limit-requests"] == "3"  # the tighter of rpm and rpd
    assert first.headers["x-ratelimit-remaining-requests"] == "2"
    assert second.headers["x-ratelimit-remaining-requests"] == "1"
    assert first.headers["x-ratelimit-limit-tokens"] == "1000"
    assert 0 < int(first.headers["x-ratelimit-remaining-tokens"]) < 1000
    reset = first.headers["x-ratelimit-reset-requests"]
    assert reset.endswith("s") and 1 <= int(reset[:-1]) <= 60
    assert streamed_status == 200
    assert streamed_headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


def test_unlimited_callers_get_no_ratelimit_headers(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    _, key = member_key(live)
    answer = chat(live, key)
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.startswith("x-ratelimit")]


def test_upstream_failures_do_not_reveal_upstream_addresses(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    dead = dead_url()
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(upstream)),
            model("ghost", "text-generation", provider(dead, "openai")),
        ],
        provider_failure_threshold=100,
    )
    upstream.fail_status = 500
    failed = chat(live, "sk-test-master-key-0123456789")
    assert failed.status_code == 502
    assert "127.0.0.1" not in failed.text and str(upstream.port) not in failed.text
    ghost = chat(live, "sk-test-master-key-0123456789", model="ghost")
    assert ghost.status_code in (502, 503)
    assert dead.split("//")[1] not in ghost.text


async def test_urls_inside_an_upstream_message_are_hidden() -> None:
    request = Request({"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []})
    request.state.dialect = "openai"
    exc = UpstreamBadGateway("Provider openai:x failed (500): cannot reach http://10.0.0.7:9000/v1/engine")
    response = await render_exception(request, exc)
    assert response.status_code == 502
    assert b"10.0.0.7" not in response.body
    assert b"cannot reach <upstream>" in response.body
