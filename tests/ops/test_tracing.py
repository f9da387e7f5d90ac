"""OpenTelemetry traces reach a real OTLP/HTTP receiver (protobuf decoded with opentelemetry-proto): a server
span per request continuing the client's W3C trace, a GenAI client span per model call (operation,
provider, request/response model, tokens, finish reasons; never prompt text) whose context the upstream
receives in `traceparent`, and a retrieval span per RAG search. Off by default: no span, no header."""

from __future__ import annotations

import httpx
import orjson
import pytest

from lockgate.config import Settings
from lockgate.ops.tracing import build_tracing, otlp_endpoint
from tests.accounting.helpers import member_key
from tests.fakes.otlp import OtlpReceiver
from tests.gateway.conftest import model, provider
from tests.helpers import bearer

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
SECRET = "my-very-private-prompt-text"


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")  # export batches every 50 ms, not 5 s
    with OtlpReceiver() as found:
        yield found


def _traceparent(trace_id: str, span_id: str = CLIENT_SPAN) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{span_id}-01"}


def test_request_and_model_call_spans_follow_the_genai_conventions(fake, lockgate, receiver) -> None:
    chat_upstream = fake("openai", "up-chat")
    live = lockgate(
        models=[model("chat", "text-generation", provider(chat_upstream))],
        otlp_traces_endpoint=receiver.endpoint,
    )
    user_id, key = member_key(live)
    body = {"model": "chat", "messages": [{"role": "user", "content": SECRET}], "max_tokens": 5}
    response = httpx.post(
        f"{live.url}/v1/chat/completions",
        headers={**bearer(key), **_traceparent(CLIENT_TRACE)},
        json=body,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    usage = response.json()["usage"]

    server = receiver.wait_for(lambda s: s.kind == "SERVER" and s.trace_id == CLIENT_TRACE)
    assert server.parent_span_id == CLIENT_SPAN  # the client's trace goes on
    assert server.name == "POST /v1/chat/completions"
    assert server.attributes["http.route"] == "/v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["enduser.id"] == str(user_id)
    assert server.attributes["lockgate.request_id"] == response.headers["x-request-id"]
    assert server.service == "lockgate"

    call = receiver.wait_for(lambda s: s.kind == "CLIENT" and s.trace_id == CLIENT_TRACE)
    assert call.parent_span_id == server.span_id
    assert call.name == "chat up-chat"
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.provider.name"] == "openai"
    assert call.attributes["gen_ai.request.model"] == "up-chat"
    assert call.attributes["gen_ai.response.model"] == "up-chat"
    assert call.attributes["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert call.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert call.attributes["gen_ai.response.finish_reasons"] == [
        response.json()["choices"][0]["finish_reason"]
    ]
    assert call.attributes["server.address"] == "127.0.0.1"
    assert call.attributes["lockgate.model"] == "chat"
    assert not call.error

    # the upstream continues the same trace, as a child of the model call
    (upstream_call,) = chat_upstream.calls("/v1/chat/completions")
    assert upstream_call.headers["traceparent"] == f"00-{CLIENT_TRACE}-{call.span_id}-01"
    assert all(SECRET not in str(s.attributes) for s in receiver.spans)
    assert all(ct == "application/x-protobuf" for ct in receiver.content_types)


def test_streams_embeddings_failures_and_retrieval_are_traced(fake, lockgate, receiver) -> None:
    chat_upstream = fake("openai", "up-chat")
    embed_upstream = fake("openai", "up-embed", embedding_dim=8)
    down = fake("openai", "up-down")
    down.fail_status = 503
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(chat_upstream)),
            model("embed", "text-embeddings-inference", provider(embed_upstream)),
            model("flaky", "text-generation", provider(down)),
        ],
        rag_embedding_model="embed",
        otlp_traces_endpoint=receiver.endpoint,
    )
    _, key = member_key(live)

    stream_trace = "1" * 32
    body = {
        "model": "chat",
        "messages": [{"role": "user", "content": SECRET}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {**bearer(key), **_traceparent(stream_trace)}
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", headers=headers, json=body, timeout=60) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line.startswith("data: {")]
    usage = orjson.loads(lines[-1].removeprefix("data: "))["usage"]
    call = receiver.wait_for(lambda s: s.kind == "CLIENT" and s.trace_id == stream_trace)
    assert call.attributes["gen_ai.operation.name"] == "chat"
    assert call.attributes["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert call.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert call.attributes["gen_ai.response.model"] == "up-chat"
    (streamed,) = chat_upstream.calls("/v1/chat/completions")
    assert streamed.headers["traceparent"] == f"00-{stream_trace}-{call.span_id}-01"

    embed_trace = "2" * 32
    answer = httpx.post(
        f"{live.url}/v1/embeddings",
        headers={**bearer(key), **_traceparent(embed_trace)},
        json={"model": "embed", "input": ["hello"]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    embedded = receiver.wait_for(lambda s: s.kind == "CLIENT" and s.trace_id == embed_trace)
    assert embedded.name == "embeddings up-embed"
    assert embedded.attributes["gen_ai.operation.name"] == "embeddings"
    assert embedded.attributes["gen_ai.usage.input_tokens"] == answer.json()["usage"]["prompt_tokens"]

    failed_trace = "3" * 32
    refused = httpx.post(
        f"{live.url}/v1/chat/completions",
        headers={**bearer(key), **_traceparent(failed_trace)},
        json={"model": "flaky", "messages": [{"role": "user", "content": "hi"}]},
        timeout=60,
    )
    assert refused.status_code == 502
    failure = receiver.wait_for(lambda s: s.kind == "CLIENT" and s.trace_id == failed_trace)
    assert failure.error and failure.attributes["error.type"] == "502"
    server = receiver.wait_for(lambda s: s.kind == "SERVER" and s.trace_id == failed_trace)
    assert server.error and server.attributes["http.response.status_code"] == 502

    search_trace = "4" * 32
    collection = httpx.post(
        f"{live.url}/v1/collections", headers=bearer(key), json={"name": "traced"}, timeout=60
    ).json()["id"]
    found = httpx.post(
        f"{live.url}/v1/search",
        headers={**bearer(key), **_traceparent(search_trace)},
        json={"query": SECRET, "collection_ids": [collection], "method": "semantic"},
        timeout=60,
    )
    assert found.status_code == 200, found.text
    retrieval = receiver.wait_for(lambda s: s.name == "retrieval semantic" and s.trace_id == search_trace)
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["gen_ai.data_source.id"] == str(collection)
    assert retrieval.attributes["lockgate.rag.hits"] == 0
    query_embedding = receiver.wait_for(lambda s: s.kind == "CLIENT" and s.trace_id == search_trace)
    assert query_embedding.parent_span_id == retrieval.span_id
    assert all(SECRET not in str(s.attributes) for s in receiver.spans)


def test_tracing_is_off_by_default_and_sends_no_trace_context(fake, lockgate, monkeypatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    upstream = fake("openai", "up-chat")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    response = live.admin.post(
        "/v1/chat/completions",
        headers=_traceparent(CLIENT_TRACE),
        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200
    (call,) = upstream.calls("/v1/chat/completions")
    assert "traceparent" not in call.headers


def test_the_standard_otel_variables_turn_tracing_on_and_off(tmp_path, monkeypatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(data_dir=tmp_path)
    assert otlp_endpoint(settings) is None and build_tracing(settings) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    assert otlp_endpoint(settings) == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom")
    assert otlp_endpoint(settings) == "http://traces:4318/custom"
    configured = Settings(data_dir=tmp_path, otlp_traces_endpoint="http://mine:4318/v1/traces")
    assert otlp_endpoint(configured) == "http://mine:4318/v1/traces"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert otlp_endpoint(configured) is None
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert otlp_endpoint(configured) is None
