"""Failover, timeouts, broken streams, QoS, cool-down and error mapping, on a live server."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from tests.gateway.conftest import dead_url, model, provider

CHAT = {"messages": [{"role": "user", "content": "ping"}]}


def chat(live, name: str = "chat", **extra) -> httpx.Response:
    return live.admin.post("/v1/chat/completions", json={"model": name, **CHAT, **extra})


def test_a_dead_provider_never_fails_a_request(fake, lockgate) -> None:
    live_upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(dead_url(), "openai"), provider(live_upstream))]
    )
    for _ in range(12):
        assert chat(live).status_code == 200
    assert len(live_upstream.calls("/v1/chat/completions")) == 12


def test_dead_upstream_at_startup_does_not_stop_lockgate(lockgate) -> None:
    live = lockgate(models=[model("ghost", "text-generation", provider(dead_url(), "vllm"))])
    assert [m["id"] for m in live.admin.get("/v1/models").json()["data"]] == ["ghost"]
    response = chat(live, "ghost")
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["type"] == "api_error"


def test_slow_provider_times_out_into_504(fake, lockgate) -> None:
    slow = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(slow, timeout=1))])
    slow.delay = 3
    response = chat(live)
    assert response.status_code == 504
    assert "timed out" in response.json()["error"]["message"]


def test_slow_provider_fails_over_to_a_fast_one(fake, lockgate) -> None:
    slow, fast = fake("openai", "slow"), fake("openai", "fast")
    live = lockgate(models=[model("chat", "text-generation", provider(slow, timeout=1), provider(fast))])
    slow.delay = 3
    for _ in range(4):
        assert chat(live).status_code == 200
    assert len(fast.calls("/v1/chat/completions")) == 4


def test_mid_stream_cut_ends_with_an_error_event(fake, lockgate) -> None:
    upstream = fake("vllm", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    upstream.reply = "one two three four five six"
    upstream.cut_stream_after = 2
    with httpx.stream(
        "POST",
        f"{live.url}/v1/chat/completions",
        headers=live.admin.headers,
        json={"model": "chat", **CHAT, "stream": True},
    ) as response:
        assert response.status_code == 200
        frames = [line for line in response.iter_lines() if line.startswith("data:")]
    assert '"error"' in frames[-1]
    assert "data: [DONE]" not in frames
    with pytest.raises(openai.APIError):
        list(live.openai().chat.completions.create(model="chat", stream=True, **CHAT))


def test_all_providers_over_qos_is_503_with_retry_after(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(upstream, qos_metric="inflight", qos_limit=1))],
        qos_queue_seconds=0,
    )
    upstream.delay = 1.5
    background = threading.Thread(target=chat, args=(live,))
    background.start()
    deadline = time.monotonic() + 10
    while not upstream.calls("/v1/chat/completions") and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = chat(live)
    background.join()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert "capacity" in busy.json()["error"]["message"]
    upstream.delay = 0
    assert chat(live).status_code == 200


def test_least_busy_sends_work_to_the_idle_provider(fake, lockgate) -> None:
    a, b = fake("openai", "a"), fake("openai", "b")
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(a), provider(b), load_balancing_strategy="least_busy")
        ]
    )
    a.delay = b.delay = 1.0
    first = threading.Thread(target=chat, args=(live,))
    first.start()
    deadline = time.monotonic() + 10
    while not (a.requests or b.requests) and time.monotonic() < deadline:
        time.sleep(0.01)
    busy = a if a.calls("/v1/chat/completions") else b
    idle = b if busy is a else a
    assert chat(live).status_code == 200
    first.join()
    assert len(idle.calls("/v1/chat/completions")) == 1
    assert len(busy.calls("/v1/chat/completions")) == 1


def test_failing_provider_cools_down(fake, lockgate) -> None:
    bad, good = fake("openai", "bad"), fake("openai", "good")
    live = lockgate(
        models=[model("chat", "text-generation", provider(bad), provider(good))],
        provider_failure_threshold=2,
        provider_cooldown_seconds=600,
    )
    bad.fail_status = 500
    for _ in range(20):
        assert chat(live).status_code == 200
    assert len(bad.calls("/v1/chat/completions")) == 2  # then it rests


def test_upstream_client_error_passes_through_with_its_message(fake, lockgate) -> None:
    upstream = fake("openai", "up", context_length=3)
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    response = live.admin.post(
        "/v1/chat/completions",
        json={"model": "chat", "messages": [{"role": "user", "content": "far too many words for this"}]},
    )
    assert response.status_code == 400
    assert "context length" in response.json()["error"]["message"]
    assert len(upstream.calls("/v1/chat/completions")) == 1  # not retried: the request itself is wrong


def test_every_provider_failing_is_502(fake, lockgate) -> None:
    a, b = fake("openai", "a"), fake("openai", "b")
    live = lockgate(models=[model("chat", "text-generation", provider(a), provider(b))])
    a.fail_status = b.fail_status = 503
    response = chat(live)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"


def test_unknown_model_wrong_key_and_malformed_bodies(fake, lockgate) -> None:
    live = lockgate(models=[model("chat", "text-generation", provider(fake("openai", "up")))])
    with pytest.raises(openai.NotFoundError):
        live.openai().chat.completions.create(model="nope", **CHAT)
    with pytest.raises(openai.AuthenticationError):
        live.openai(key="sk-wrong").chat.completions.create(model="chat", **CHAT)
    missing = live.admin.post("/v1/chat/completions", json={"model": "chat"})
    assert missing.status_code == 422
    assert missing.json()["error"]["param"] == "messages"
    bad_temp = live.admin.post("/v1/chat/completions", json={"model": "chat", **CHAT, "temperature": 9})
    assert (bad_temp.status_code, bad_temp.json()["error"]["param"]) == (422, "temperature")
    not_json = live.admin.post(
        "/v1/chat/completions", content=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422


def test_usage_is_estimated_and_marked_when_the_provider_reports_none(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    upstream.send_usage = False
    usage = chat(live).json()["usage"]
    assert usage["estimated"] is True
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0


def test_provider_down_at_startup_is_retried_and_comes_back(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    upstream.fail_probe = True
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))], provider_retry_seconds=0.2)
    assert chat(live).status_code == 503
    upstream.fail_probe = False
    deadline = time.monotonic() + 20
    status = 503
    while status == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
        status = chat(live).status_code
    assert status == 200


def test_model_metrics_are_exported(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    assert chat(live).status_code == 200
    upstream.fail_status = 500
    assert chat(live).status_code == 502
    text = live.admin.get("/metrics").text
    name = f"openai:up@127.0.0.1:{upstream.port}"  # providers are labelled by name, not database id
    assert f'lockgate_model_requests_total{{model="chat",provider="{name}",status="200"}} 1.0' in text
    assert 'lockgate_model_requests_total{model="chat",provider="none",status="502"} 1.0' in text
    assert 'lockgate_model_tokens_total{kind="completion",model="chat",role="admin"}' in text
    assert f'lockgate_model_inflight{{model="chat",provider="{name}"}} 0.0' in text


def test_config_providers_keep_their_ids_across_restarts(fake, sqlite_url, tmp_path) -> None:
    from lockgate.config import Settings
    from tests.helpers import MASTER_KEY
    from tests.live import live_server

    a, b = fake("openai", "a"), fake("openai", "b")
    settings = Settings(
        data_dir=tmp_path,
        database_url=sqlite_url,
        master_key=MASTER_KEY,
        local_models="off",
        models=[model("chat", "text-generation", provider(a, key="sk-first-key"), provider(b))],
    )

    def providers(live) -> dict[str, dict]:
        return {
            p["url"]: p for p in live.admin.get("/v1/admin/providers", params={"limit": 100}).json()["data"]
        }

    with live_server(settings) as live:
        before = providers(live)
    changed = settings.model_copy(
        update={"models": [model("chat", "text-generation", provider(a, key="sk-second-key", timeout=7))]}
    )
    with live_server(Settings(**changed.model_dump())) as live:
        after = providers(live)
        assert chat(live).status_code == 200
    assert set(after) == {a.url}  # b is no longer declared
    assert after[a.url]["id"] == before[a.url]["id"]
    assert after[a.url]["timeout"] == 7
    assert after[a.url]["key"].endswith("ey") and a.calls("/v1/chat/completions")[-1].headers[
        "authorization"
    ] == ("Bearer sk-second-key")
