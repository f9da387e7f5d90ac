"""What an operator reads: the access line of every request and the Prometheus series, on a live server
with a fake upstream."""

from __future__ import annotations

import logging
import time

import httpx

from tests.accounting.helpers import chat, member_key, router_id
from tests.gateway.conftest import model, provider
from tests.helpers import bearer, fresh_minute


def _access_lines(caplog, path: str) -> list[logging.LogRecord]:
    """The access line is written once the response is sent: the client may read it first, so wait."""
    deadline = time.monotonic() + 30
    while True:
        lines = [r for r in caplog.records if r.name == "lockgate.access" and r.path == path]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_access_line_names_caller_model_provider_and_tokens_never_the_key(fake, lockgate, caplog) -> None:
    caplog.set_level(logging.INFO)
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    user_id, key = member_key(live)
    secret_prompt = "my-very-private-prompt-text"
    response = httpx.post(
        f"{live.url}/v1/chat/completions",
        headers={**bearer(key), "X-Request-ID": "req-observe-1"},
        json={"model": "chat", "messages": [{"role": "user", "content": secret_prompt}]},
        timeout=30,
    )
    assert response.status_code == 200
    usage = response.json()["usage"]
    (line,) = [r for r in _access_lines(caplog, "/v1/chat/completions") if r.request_id == "req-observe-1"]
    assert line.status == 200 and line.method == "POST" and line.ms > 0
    assert line.user_id == user_id and isinstance(line.key_id, int)
    assert line.model == "chat"
    assert line.provider == f"openai:up@127.0.0.1:{upstream.port}"
    assert (line.prompt_tokens, line.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert key not in logged and key[-12:] not in logged
    assert secret_prompt not in logged

    refused = httpx.get(f"{live.url}/v1/models", headers=bearer("sk-wrong"), timeout=30)
    assert refused.status_code == 401
    (anonymous,) = _access_lines(caplog, "/v1/models")
    assert anonymous.status == 401 and anonymous.user_id is None and anonymous.model is None


def test_metrics_name_providers_count_spend_refusals_and_health(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[
            model(
                "chat",
                "text-generation",
                provider(upstream),
                cost_prompt_tokens=1000.0,
                cost_completion_tokens=2000.0,
            )
        ]
    )
    chat_id = router_id(live, "chat")
    _, key = member_key(live, limits=[{"router": chat_id, "type": "rpm", "value": 1}], budget=1000.0)
    fresh_minute()
    assert chat(live, key).status_code == 200
    assert chat(live, key).status_code == 429
    text = live.admin.get("/metrics").text
    name = f"openai:up@127.0.0.1:{upstream.port}"
    role = next(
        r["name"]
        for r in live.admin.get("/v1/admin/roles", params={"limit": 100}).json()["data"]
        if r["name"].startswith("acct-role")
    )
    assert f'lockgate_model_requests_total{{model="chat",provider="{name}",status="200"}} 1.0' in text
    assert f'lockgate_model_tokens_total{{kind="prompt",model="chat",role="{role}"}}' in text
    assert f'lockgate_spend_total{{model="chat",role="{role}"}}' in text
    assert 'lockgate_limit_refusals_total{kind="rpm",model="chat"} 1.0' in text
    assert f'lockgate_provider_health{{model="chat",provider="{name}",status="healthy"}} 1.0' in text
    assert f'lockgate_provider_health{{model="chat",provider="{name}",status="cooling_down"}} 0.0' in text
    assert f'lockgate_provider_cooldown_remaining_seconds{{model="chat",provider="{name}"}} 0.0' in text
    assert f'lockgate_model_inflight{{model="chat",provider="{name}"}} 0.0' in text
    assert "lockgate_model_queue_depth" in text
    assert "process_resident_memory_bytes" in text
    assert "python_gc_collections_total" in text
    assert "python_info" in text


def test_a_rag_embedding_model_nobody_serves_is_an_error_at_start_and_a_503_not_a_404(
    fake, lockgate, caplog
) -> None:
    """Declaring `models` switches the local defaults off while rag_embedding_model still names one."""
    caplog.set_level(logging.INFO)
    upstream = fake("openai", "up")
    embedder = fake("openai", "up-embed", embedding_dim=8)
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(upstream)),
            model("embed", "text-embeddings-inference", provider(embedder)),
        ]
    )
    (line,) = [r for r in caplog.records if r.getMessage().startswith("RAG cannot work")]
    assert line.levelno == logging.ERROR
    assert line.setting == "rag_embedding_model" and line.value == "all-minilm-l6-v2"
    assert line.embedding_models == ["embed"] and "rag_embedding_model" in line.getMessage()
    collection = live.admin.post("/v1/collections", json={"name": "c"}).json()["id"]
    search = live.admin.post("/v1/search", json={"query": "q", "collection_ids": [collection]})
    assert search.status_code == 503, search.text
    assert "all-minilm-l6-v2" in search.text
