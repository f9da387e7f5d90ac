"""OpenGateLLM 0.4.1 fidelity (issue 13) toward upstreams: each provider type gets a body its real API
accepts (Mistral refuses unknown fields), Mistral transcribes through chat, TEI embeds token ids, and
answers are held to what the client asked when an upstream ignores `top_n` or `encoding_format`."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from tests.api.opengate import spec041 as spec
from tests.api.opengate.fidelity import serve
from tests.fakes.upstreams import FakeUpstream
from tests.helpers import Api

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def mistral():
    with FakeUpstream("mistral", "mistral-small-latest", api_key="sk-mistral-upstream") as upstream:
        yield upstream


def _sse_payloads(text: str) -> list[dict]:
    lines = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
    return [json.loads(line) for line in lines if line != "[DONE]"]


# 9. streaming to mistral: no stream_options upstream, usage still counted


async def test_mistral_stream_gets_a_body_mistral_accepts(api: Api, mistral: FakeUpstream) -> None:
    await serve(api, mistral, "chat", "text-generation")
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await api.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    chunks = _sse_payloads(response.text)
    for chunk in chunks:
        if chunk.get("choices"):
            spec.valid(spec.ChatCompletionChunk, chunk)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == "echo: hello there"
    assert chunks[-1]["usage"]["completion_tokens"] == 3  # Mistral's own count, from its last chunk
    [sent] = mistral.calls("/v1/chat/completions")
    assert "stream_options" not in sent.json and sent.json["stream"] is True


# 10. unknown chat fields are dropped for mistral, OpenAI names mapped to Mistral's


async def test_mistral_gets_only_fields_it_knows(api: Api, mistral: FakeUpstream) -> None:
    await serve(api, mistral, "chat", "text-generation")
    body = {**CHAT, "seed": 7, "logprobs": False, "user": "u-1", "max_completion_tokens": 50, "custom": 1}
    response = await api.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    answer = spec.valid(spec.ChatCompletion, response.json())
    assert answer.choices[0]["message"]["content"] == "echo: hello there"
    [sent] = mistral.calls("/v1/chat/completions")
    assert sent.json["random_seed"] == 7 and sent.json["max_tokens"] == 50
    assert not {"seed", "logprobs", "user", "max_completion_tokens", "custom"} & set(sent.json)


async def test_the_mistral_fake_is_strict(mistral: FakeUpstream) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {mistral.api_key}"}
    async with httpx.AsyncClient(base_url=mistral.url, headers=headers) as client:
        body = {
            "model": mistral.model,
            "messages": CHAT["messages"],
            "stream_options": {"include_usage": True},
        }
        refused = await client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 422
    assert refused.json()["message"]["detail"][0]["loc"] == ["body", "stream_options"]


# 11. mistral serves automatic-speech-recognition through chat with an audio part


async def test_mistral_transcribes_through_chat(api: Api, mistral: FakeUpstream) -> None:
    await serve(api, mistral, "voxtral", "automatic-speech-recognition")
    audio = b"RIFF" + bytes(range(60))
    files = {"file": ("speech.wav", audio, "audio/wav")}
    answer = await api.post(
        "/v1/audio/transcriptions", data={"model": "voxtral", "language": "fr"}, files=files
    )
    assert answer.status_code == 200, answer.text
    transcription = spec.valid(spec.Transcription, answer.json())
    assert transcription.text == f"transcript of {len(audio)} bytes of audio"
    [sent] = mistral.calls("/v1/chat/completions")
    parts = sent.json["messages"][0]["content"]
    assert base64.b64decode(next(p["input_audio"] for p in parts if p["type"] == "input_audio")) == audio
    text = await api.post(
        "/v1/audio/transcriptions", data={"model": "voxtral", "response_format": "text"}, files=files
    )
    assert text.status_code == 200 and text.text == transcription.text


# 22. token-id arrays embed on tei providers (through TEI's OpenAI-compatible route)


async def test_tei_embeds_token_ids(api: Api) -> None:
    with FakeUpstream("tei", "bge-m3", embedding_dim=16) as tei:
        await serve(api, tei, "embed", "text-embeddings-inference")
        for tokens in ([101, 2023, 102], [[101, 2023, 102], [101, 7592, 102]]):
            response = await api.post("/v1/embeddings", json={"model": "embed", "input": tokens})
            assert response.status_code == 200, response.text
            answer = spec.valid(spec.Embeddings, response.json())
            assert len(answer.data) == (2 if isinstance(tokens[0], list) else 1)
            assert all(len(item.embedding) == 16 for item in answer.data)
        assert [r.json["input"] for r in tei.calls("/v1/embeddings")][-2:] == [
            [101, 2023, 102],
            [[101, 2023, 102], [101, 7592, 102]],
        ]
        text = await api.post("/v1/embeddings", json={"model": "embed", "input": "still text"})
        assert text.status_code == 200 and tei.calls("/embed")


# 23. nothing to embed: 422


@pytest.mark.parametrize("empty", ["", [], [""], [[]]])
async def test_empty_embeddings_input_is_422(api: Api, empty) -> None:
    response = await api.post("/v1/embeddings", json={"model": "embed", "input": empty})
    assert response.status_code == 422
    locs = [item.loc for item in spec.valid(spec.HTTPValidationError, response.json()).detail]
    assert all(loc[:2] == ["body", "input"] for loc in locs)


# 25. top_n and base64 hold even when the upstream ignores them


async def test_rerank_top_n_is_cut_by_the_gateway(api: Api) -> None:
    with FakeUpstream("vllm", "bge-reranker") as vllm:
        vllm.honour_options = False
        await serve(api, vllm, "rerank", "text-classification")
        documents = ["a cat", "the cat sat on the mat", "dogs", "a cat on a mat"]
        body = {"model": "rerank", "query": "cat on mat", "documents": documents, "top_n": 2}
        response = await api.post("/v1/rerank", json=body)
        assert response.status_code == 200, response.text
        results = spec.valid(spec.Reranks, response.json()).results
        assert [r.index for r in results] == [1, 3]
        assert results[0].relevance_score >= results[1].relevance_score
        assert vllm.calls("/v1/rerank")[0].json["top_n"] == 2


async def test_base64_embeddings_when_the_upstream_sends_floats(api: Api) -> None:
    with FakeUpstream("openai", "text-embedding-3-small", embedding_dim=8) as openai_up:
        openai_up.honour_options = False
        await serve(api, openai_up, "embed", "text-embeddings-inference")
        floats = await api.post("/v1/embeddings", json={"model": "embed", "input": "hi"})
        encoded = await api.post(
            "/v1/embeddings", json={"model": "embed", "input": "hi", "encoding_format": "base64"}
        )
        assert encoded.status_code == 200, encoded.text
        item = spec.valid(spec.Embeddings, encoded.json()).data[0]
        assert isinstance(item.embedding, str)
        decoded = struct.unpack("<8f", base64.b64decode(item.embedding))
        assert decoded == pytest.approx(floats.json()["data"][0]["embedding"], abs=1e-6)
