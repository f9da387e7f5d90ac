"""The official `openai` client against a running Lockgate in front of fake upstreams."""

from __future__ import annotations

import io

import httpx
import pytest

from tests.gateway.conftest import model, provider


@pytest.fixture
def stack(fake, lockgate):
    chat = fake("vllm", "up-chat", api_key="upstream-secret", context_length=4096)
    embed = fake("openai", "up-embed", embedding_dim=16)
    tei = fake("tei", "up-tei", embedding_dim=12)
    rerank = fake("vllm", "up-rerank")
    asr = fake("openai", "up-whisper")
    ocr = fake("mistral", "up-ocr")
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(chat), aliases=["gpt-fake"]),
            model("embed", "text-embeddings-inference", provider(embed)),
            model("embed-tei", "text-embeddings-inference", provider(tei)),
            model("rerank", "text-classification", provider(rerank)),
            model("whisper", "automatic-speech-recognition", provider(asr)),
            model("ocr", "image-to-text", provider(ocr)),
        ]
    )
    return live, {"chat": chat, "embed": embed, "tei": tei, "rerank": rerank, "asr": asr, "ocr": ocr}


def test_models_are_listed_and_found_by_alias(stack) -> None:
    live, _ = stack
    client = live.openai()
    ids = {m.id for m in client.models.list()}
    assert ids == {"chat", "embed", "embed-tei", "rerank", "whisper", "ocr"}
    found = client.models.retrieve("gpt-fake")
    assert found.id == "chat"
    assert found.max_context_length == 4096  # probed from vLLM's max_model_len at startup
    assert found.aliases == ["gpt-fake"]


def test_chat_non_stream_passes_extra_fields_and_uses_the_provider_key(stack) -> None:
    live, fakes = stack
    answer = live.openai().chat.completions.create(
        model="gpt-fake",
        messages=[{"role": "user", "content": "hello there"}],
        seed=7,
        extra_body={"top_k": 5, "repetition_penalty": 1.1},
    )
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.model == "chat"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (2, 3)
    sent = fakes["chat"].calls("/v1/chat/completions")[-1]
    assert sent.json["model"] == "up-chat"
    assert (sent.json["top_k"], sent.json["repetition_penalty"], sent.json["seed"]) == (5, 1.1, 7)
    assert sent.headers["authorization"] == "Bearer upstream-secret"


def test_chat_stream_relays_deltas_and_ends_with_one_usage_chunk(stack) -> None:
    live, _ = stack
    chunks = list(
        live.openai().chat.completions.create(
            model="chat",
            messages=[{"role": "user", "content": "one two three four"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three four"
    assert [c for c in chunks if not c.choices] == [chunks[-1]]
    assert chunks[-1].usage.completion_tokens == 5
    assert all(c.model == "chat" for c in chunks)


def _stream_lines(live, body: dict) -> list[str]:
    with httpx.stream(
        "POST", f"{live.url}/v1/chat/completions", headers=live.admin.headers, json=body
    ) as response:
        return [line for line in response.iter_lines() if line.startswith("data:")]


def test_chat_stream_without_include_usage_has_no_usage_chunk_but_records_usage(stack) -> None:
    live, _ = stack
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi there"}], "stream": True}
    lines = _stream_lines(live, body)
    assert lines[-1] == "data: [DONE]"
    assert not any('"usage"' in line or '"choices":[]' in line for line in lines)
    # OpenAI's quickstart loop reads chunk.choices[0] on every chunk: it must not raise
    chunks = live.openai().chat.completions.create(**body)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: hi there"
    rows = live.admin.get("/v1/me/usage", params={"limit": 10}).json()["data"]
    assert len(rows) == 2 and all(r["usage"]["completion_tokens"] == 3 for r in rows)


def test_stream_usage_always_keeps_the_usage_chunk(fake, lockgate) -> None:
    upstream = fake("vllm", "up-chat")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))], stream_usage_always=True)
    lines = _stream_lines(
        live, {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    assert lines[-1] == "data: [DONE]"
    assert '"usage"' in lines[-2] and '"choices":[]' in lines[-2]


def test_forced_tool_call(stack) -> None:
    live, _ = stack
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    answer = live.openai().chat.completions.create(
        model="chat",
        messages=[{"role": "user", "content": "find x"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "lookup"}},
    )
    call = answer.choices[0].message.tool_calls[0]
    assert (call.function.name, answer.choices[0].finish_reason) == ("lookup", "tool_calls")


def test_json_schema_response_format_is_passed_through(stack) -> None:
    live, fakes = stack
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    answer = live.openai().chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "json"}], response_format=schema
    )
    assert answer.choices[0].message.content == '{"answer": "ok"}'
    assert fakes["chat"].calls("/v1/chat/completions")[-1].json["response_format"] == schema


def test_completions_stream_and_not(stack) -> None:
    live, _ = stack
    client = live.openai()
    answer = client.completions.create(model="chat", prompt="say hi")
    assert answer.choices[0].text and answer.usage.total_tokens > 0
    chunks = list(
        client.completions.create(
            model="chat", prompt="say hi", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == answer.choices[0].text
    assert chunks[-1].usage is not None


@pytest.mark.parametrize("name", ["embed", "embed-tei"])
def test_embeddings_float_and_base64(stack, name: str) -> None:
    live, _ = stack
    client = live.openai()
    # The official client asks for base64 and decodes it; also check plain floats.
    decoded = client.embeddings.create(model=name, input=["alpha", "beta"])
    floats = client.embeddings.create(model=name, input=["alpha", "beta"], encoding_format="float")
    assert len(decoded.data) == 2
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert decoded.data[0].embedding != decoded.data[1].embedding
    assert decoded.model == name and decoded.usage.prompt_tokens > 0
    shorter = client.embeddings.create(model=name, input="alpha", dimensions=4, encoding_format="float")
    assert len(shorter.data[0].embedding) == 4
    assert sum(v * v for v in shorter.data[0].embedding) == pytest.approx(1.0, abs=1e-4)


def test_rerank_through_vllm(stack) -> None:
    live, fakes = stack
    body = {
        "model": "rerank",
        "query": "red apple",
        "documents": ["green pear", "red apple pie", "apple"],
        "top_n": 2,
    }
    response = live.admin.post("/v1/rerank", json=body)
    assert response.status_code == 200
    result = response.json()
    assert result["object"] == "list" and result["model"] == "rerank"
    assert [r["index"] for r in result["results"]] == [1, 2]
    assert result["results"][0]["relevance_score"] >= result["results"][1]["relevance_score"]
    assert fakes["rerank"].calls("/v1/rerank")[-1].json["model"] == "up-rerank"


def test_audio_transcription_json_and_text(stack) -> None:
    live, fakes = stack
    client = live.openai()
    audio = ("speech.wav", io.BytesIO(b"RIFF" + b"\0" * 96), "audio/wav")
    result = client.audio.transcriptions.create(model="whisper", file=audio)
    assert result.text == "transcript of 100 bytes"
    text = client.audio.transcriptions.create(
        model="whisper", file=("s.wav", b"abc", "audio/wav"), response_format="text"
    )
    assert "transcript of 3 bytes" in text
    sent = fakes["asr"].calls("/v1/audio/transcriptions")[-1]
    assert sent.form["model"] == "up-whisper"


def test_ocr_through_mistral(stack) -> None:
    live, fakes = stack
    body = {"model": "ocr", "document": {"type": "document_url", "document_url": "https://example.org/a.pdf"}}
    response = live.admin.post("/v1/ocr", json=body)
    assert response.status_code == 200
    assert response.json()["pages"][0]["markdown"]
    assert response.json()["model"] == "ocr"
    assert fakes["ocr"].calls("/v1/ocr")[-1].json["document"] == body["document"]


def test_wrong_endpoint_for_a_model_type_is_400(stack) -> None:
    live, _ = stack
    response = live.admin.post("/v1/embeddings", json={"model": "chat", "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "model"


@pytest.mark.parametrize(("flavor", "kwargs"), [("tei", {"tei_kind": "reranker"}), ("albert", {})])
def test_rerank_through_tei_and_albert_wire_formats(fake, lockgate, flavor: str, kwargs: dict) -> None:
    upstream = fake(flavor, "up-rank", **kwargs)
    live = lockgate(models=[model("ranker", "text-classification", provider(upstream))])
    body = {"model": "ranker", "query": "blue sky", "documents": ["grey sea", "blue sky today", "sky"]}
    response = live.admin.post("/v1/rerank", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results][:2] == [1, 2]
    assert results[0]["relevance_score"] >= results[1]["relevance_score"] >= results[2]["relevance_score"]
    path = "/rerank" if flavor == "tei" else "/v1/rerank"
    sent = upstream.calls(path)[-1].json
    assert sent.get("texts", sent.get("input")) == body["documents"]
