"""Quick checks that the fake upstreams speak their wire formats over real HTTP."""

from __future__ import annotations

import base64
import json
import math
import struct
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.upstreams import FakeUpstream, FormFile, free_port

CHAT = {"model": "upstream-model", "messages": [{"role": "user", "content": "hello there world"}]}


@pytest.fixture
def vllm() -> Iterator[FakeUpstream]:
    with FakeUpstream("vllm", api_key="sk-up") as fake:
        yield fake


@pytest.fixture
def tei() -> Iterator[FakeUpstream]:
    with FakeUpstream("tei", "bge-m3", embedding_dim=4) as fake:
        yield fake


def client(fake: FakeUpstream) -> httpx.Client:
    headers = {"Authorization": f"Bearer {fake.api_key}"} if fake.api_key else {}
    return httpx.Client(base_url=fake.url, headers=headers, timeout=5)


def sse_payloads(response: httpx.Response) -> list[Any]:
    lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line[6:] if line == "data: [DONE]" else json.loads(line[6:]) for line in lines]


def test_free_port_and_models(vllm: FakeUpstream) -> None:
    assert 0 < free_port() < 65536
    with client(vllm) as c:
        models = c.get("/v1/models").json()
        assert models["object"] == "list"
        assert models["data"][0]["id"] == "upstream-model"
        assert models["data"][0]["max_model_len"] == 8192
        assert httpx.get(f"{vllm.url}/health").status_code == 200  # no auth needed
    assert httpx.get(f"{vllm.url}/v1/models").status_code == 401
    assert vllm.requests[-1].path == "/v1/models"


def test_chat_non_stream(vllm: FakeUpstream) -> None:
    with client(vllm) as c:
        body = c.post("/v1/chat/completions", json={**CHAT, "n": 2}).json()
        assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
        assert [ch["index"] for ch in body["choices"]] == [0, 1]
        choice = body["choices"][0]
        assert choice["message"] == {"role": "assistant", "content": "echo: hello there world"}
        assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
        assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 8, "total_tokens": 11}

        short = c.post("/v1/chat/completions", json={**CHAT, "max_tokens": 2}).json()
        assert short["choices"][0]["message"]["content"] == "echo: hello"
        assert short["choices"][0]["finish_reason"] == "length"

        tools = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
        called = c.post("/v1/chat/completions", json={**CHAT, "tools": tools, "tool_choice": "required"})
        message = called.json()["choices"][0]["message"]
        assert message["content"] is None
        assert message["tool_calls"][0]["function"] == {"name": "search", "arguments": '{"q": "x"}'}

        json_mode = {**CHAT, "response_format": {"type": "json_object"}}
        assert c.post("/v1/chat/completions", json=json_mode).json()["choices"][0]["message"]["content"] == (
            '{"answer": "ok"}'
        )

        missing = c.post("/v1/chat/completions", json={**CHAT, "model": "nope"})
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "The model `nope` does not exist."
        assert c.post("/v1/chat/completions", json={**CHAT, "messages": []}).status_code == 400
    recorded = vllm.calls("/v1/chat/completions")[0]
    assert recorded.json == {**CHAT, "n": 2} and recorded.headers["authorization"] == "Bearer sk-up"


def test_stop_sequences_cut_the_answer_and_vllm_names_the_one_met(vllm: FakeUpstream) -> None:
    with client(vllm) as c:
        body = c.post("/v1/chat/completions", json={**CHAT, "stop": ["world", "there"]}).json()
        choice = body["choices"][0]
        assert choice["message"]["content"] == "echo: hello "
        assert (choice["finish_reason"], choice["stop_reason"]) == ("stop", "there")
        with c.stream("POST", "/v1/chat/completions", json={**CHAT, "stop": "there", "stream": True}) as r:
            events = sse_payloads(r)
    assert events[-2]["choices"][0]["stop_reason"] == "there"


def test_chat_stream_usage_then_done(vllm: FakeUpstream) -> None:
    vllm.reply = "one two three"
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with client(vllm) as c, c.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_payloads(response)
    assert events[-1] == "[DONE]"
    usage_chunk, chunks = events[-2], events[:-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
        "stop_reason": None,  # vLLM's: the stop sequence that ended the choice, none here
    }
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert text == "one two three"
    assert len(chunks) == 5  # role + 3 words + finish


def test_stream_without_usage_and_completions(vllm: FakeUpstream) -> None:
    vllm.send_usage = False
    body = {"model": "upstream-model", "prompt": "say hi", "stream": True}
    with client(vllm) as c:
        with c.stream(
            "POST", "/v1/completions", json={**body, "stream_options": {"include_usage": True}}
        ) as r:
            events = sse_payloads(r)
        assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "stop"
        assert "".join(e["choices"][0]["text"] for e in events[:-1]) == "echo: say hi"
        plain = c.post("/v1/completions", json={**body, "stream": False}).json()
    assert plain["object"] == "text_completion" and "usage" not in plain


def test_cut_stream_is_a_client_error(vllm: FakeUpstream) -> None:
    vllm.reply = "a b c d e f"
    vllm.cut_stream_after = 2
    received: list[str] = []
    with client(vllm) as c, pytest.raises(httpx.RemoteProtocolError):
        with c.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as response:
            assert response.status_code == 200
            received.extend(line for line in response.iter_lines() if line)
    assert "data: [DONE]" not in received
    contents = [json.loads(line[6:])["choices"][0]["delta"].get("content") for line in received]
    assert contents[1:] == ["a ", "b "]


def test_fail_status_and_delay() -> None:
    with FakeUpstream("openai", "gpt-x") as fake, client(fake) as c:
        fake.fail_status = 503
        failed = c.post("/v1/chat/completions", json={**CHAT, "model": "gpt-x"})
        assert failed.status_code == 503
        error = {"message": "fake upstream failure", "type": "server_error", "param": None, "code": None}
        assert failed.json() == {"error": error}
        assert c.get("/v1/models").status_code == 200  # probes unaffected...
        fake.fail_probe = True
        assert c.get("/v1/models").status_code == 503  # ...unless asked
        fake.fail_status, fake.fail_probe = 400, False
        assert (
            "maximum context length is 8192" in c.post("/v1/embeddings", json={}).json()["error"]["message"]
        )
        fake.fail_status, fake.delay = None, 0.3
        started = time.monotonic()
        assert c.post("/v1/chat/completions", json={**CHAT, "model": "gpt-x"}).status_code == 200
        assert time.monotonic() - started >= 0.3


def test_embeddings_are_deterministic_unit_vectors() -> None:
    with FakeUpstream("openai", "emb", embedding_dim=6) as fake, client(fake) as c:
        body = {"model": "emb", "input": ["alpha beta", "gamma", "alpha beta"]}
        data = c.post("/v1/embeddings", json=body).json()
        vectors = [d["embedding"] for d in data["data"]]
        assert len(vectors[0]) == 6 and vectors[0] == vectors[2] != vectors[1]
        assert math.isclose(math.fsum(v * v for v in vectors[1]), 1.0)
        assert data["usage"] == {"prompt_tokens": 5, "total_tokens": 5}
        small = c.post("/v1/embeddings", json={**body, "dimensions": 3, "encoding_format": "base64"}).json()
        packed = base64.b64decode(small["data"][0]["embedding"])
        assert math.isclose(math.fsum(v * v for v in struct.unpack("<3f", packed)), 1.0, rel_tol=1e-6)


def test_tei_embed_and_rerank(tei: FakeUpstream) -> None:
    with client(tei) as c:
        info = c.get("/info").json()
        assert info["model_id"] == "bge-m3" and info["model_type"] == {"embedding": {"pooling": "mean"}}
        embedded = c.post("/embed", json={"inputs": ["a b", "c"]})
        assert embedded.headers["x-compute-tokens"] == "3" and "x-compute-time" in embedded.headers
        vectors = embedded.json()
        assert len(vectors) == 2 and all(len(v) == 4 for v in vectors)
        assert c.post("/embed", json={"inputs": "a b"}).json() == [vectors[0]]
        too_many = c.post("/embed", json={"inputs": ["x"] * 33})
        assert too_many.status_code == 413 and too_many.json()["error_type"] == "Validation"

        ranked = c.post("/rerank", json={"query": "red apple", "texts": ["blue sky", "red apple pie"]})
        assert ranked.json() == [{"index": 1, "score": 1.0}, {"index": 0, "score": 0.0}]
        with_text = c.post("/rerank", json={"query": "sky", "texts": ["sky"], "return_text": True}).json()
        assert with_text == [{"index": 0, "score": 1.0, "text": "sky"}]

        tei.fail_status = 500
        assert c.post("/embed", json={"inputs": "a"}).json() == {
            "error": "fake upstream failure",
            "error_type": "Backend",
        }
        assert c.get("/health").status_code == 200


def test_other_flavors() -> None:
    with FakeUpstream("mistral", "mistral-ocr") as fake, client(fake) as c:
        doc = {"type": "document_url", "document_url": "data:application/pdf;base64,SGVsbG8="}
        result = c.post("/v1/ocr", json={"model": "mistral-ocr", "document": doc}).json()
        assert result["pages"][0]["markdown"].startswith("# Page 1")
        assert result["usage_info"] == {"pages_processed": 1, "doc_size_bytes": 5}
        files = {"file": ("a.wav", b"RIFF1234", "audio/wav")}
        data = {"model": "mistral-ocr", "response_format": "text"}
        assert c.post("/v1/audio/transcriptions", files=files, data=data).text == "transcript of 8 bytes"
        upload = fake.requests[-1].form
        assert upload is not None and upload["file"] == FormFile("a.wav", "audio/wav", b"RIFF1234")
    with FakeUpstream("albert", "rr") as fake, client(fake) as c:
        body = {"model": "rr", "prompt": "cat", "input": ["dog", "cat"]}
        assert c.post("/v1/rerank", json=body).json() == {
            "object": "list",
            "data": [
                {"object": "rerank", "score": 1.0, "index": 1},
                {"object": "rerank", "score": 0.0, "index": 0},
            ],
        }
