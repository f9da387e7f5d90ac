"""Real small models behind the same routers as remote ones: SmolLM2 (llama.cpp), MiniLM (ONNX),
Whisper tiny.en, RapidOCR."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess

import openai
import pytest

CHAT = "smollm2-135m-instruct"


def test_zero_config_registers_every_local_model(local) -> None:
    models = {m.id: m for m in local.openai().models.list()}
    assert set(models) == {
        "smollm2-135m-instruct",
        "all-minilm-l6-v2",
        "all-minilm-l6-v2-similarity",
        "whisper-tiny.en",
        "rapidocr",
    }
    assert models[CHAT].max_context_length == 2048
    assert local.openai().models.retrieve("whisper-1").id == "whisper-tiny.en"


def test_chat_returns_text_with_real_usage(local) -> None:
    answer = local.openai().chat.completions.create(
        model="local-chat", messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, temperature=0
    )
    assert answer.choices[0].message.content.strip()
    assert answer.usage.completion_tokens <= 12 and answer.usage.prompt_tokens > 5
    assert not getattr(answer.usage, "estimated", False)


def test_streaming_chat(local) -> None:
    chunks = list(
        local.openai().chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Count to three."}],
            max_tokens=10,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage.completion_tokens >= 1 and chunks[-1].usage.prompt_tokens > 5


def test_json_schema_output_parses_and_matches(local) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    answer = local.openai().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "Describe a person as JSON."}],
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
        max_tokens=60,
        temperature=0,
    )
    person = json.loads(answer.choices[0].message.content)
    assert isinstance(person["name"], str) and isinstance(person["age"], int)


def test_gbnf_grammar_constrains_the_output(local) -> None:
    answers = set()
    for question in ("Is water wet?", "Is fire cold?", "Is the sky green?"):
        answer = local.openai().chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": question}],
            max_tokens=5,
            extra_body={
                "grammar": 'root ::= "yes" | "no"',
                "top_k": 20,
                "min_p": 0.05,
                "repeat_penalty": 1.1,
            },
        )
        answers.add(answer.choices[0].message.content)
    assert answers <= {"yes", "no"}
    for broken in ("root ::= undefined_rule", "root ::= (", 'no root here ::= "x"'):
        with pytest.raises(openai.BadRequestError, match="grammar"):
            local.openai().chat.completions.create(
                model=CHAT,
                messages=[{"role": "user", "content": "x"}],
                max_tokens=2,
                extra_body={"grammar": broken},
            )
    assert local.admin.get("/health").status_code == 200  # and the server is still up


def test_forced_tool_call(local) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    answer = local.openai().chat.completions.create(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
    )
    call = answer.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert answer.choices[0].message.function_call is None  # #22: only for legacy `functions`
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    # Streamed, the named call comes as tool_calls deltas alone, as OpenAI streams it
    chunks = list(
        local.openai().chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=tools,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            max_tokens=40,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert all(delta.function_call is None for delta in deltas)
    streamed = [c for delta in deltas for c in delta.tool_calls or []]
    assert len(streamed) > 1
    # id, type and name in the call's first delta only, as OpenAI streams them
    assert streamed[0].function.name == "get_weather" and streamed[0].id
    assert all(c.id is None and (c.function is None or c.function.name is None) for c in streamed[1:])
    assert isinstance(json.loads("".join(c.function.arguments or "" for c in streamed))["city"], str)
    # every generated token is billed as output, as without streaming
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= len(streamed)
    with local.openai().chat.completions.stream(
        model=CHAT,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
    ) as helper:
        final = helper.get_final_completion()
    assert final.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_completions_with_echo_and_unsupported_options(local) -> None:
    client = local.openai()
    answer = client.completions.create(model=CHAT, prompt="The capital of France is", max_tokens=4, echo=True)
    assert answer.choices[0].text.startswith("The capital of France is")
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        client.completions.create(model=CHAT, prompt="x", max_tokens=2, logprobs=2)
    with pytest.raises(openai.BadRequestError, match="logprobs"):
        client.chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": "x"}], max_tokens=2, top_logprobs=2
        )
    # What OpenGateLLM 0.4 clients send by default asks for no log probabilities: served
    served = client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "x"}], max_tokens=2, logprobs=False, top_logprobs=0
    )
    assert served.choices[0].logprobs is None
    with pytest.raises(openai.BadRequestError, match="best_of"):
        client.completions.create(model=CHAT, prompt="x", max_tokens=2, best_of=3)
    with pytest.raises(openai.BadRequestError, match="n:"):
        client.chat.completions.create(model=CHAT, messages=[{"role": "user", "content": "x"}], n=9)


def test_tokenize_detokenize_round_trip(local) -> None:
    text = "Lockgate runs llama.cpp models locally."
    tokens = local.admin.post("/extras/tokenize", json={"input": text}).json()["tokens"]
    assert len(tokens) > 3 and all(isinstance(t, int) for t in tokens)
    count = local.admin.post("/extras/tokenize/count", json={"input": text, "model": CHAT}).json()["count"]
    assert count == len(tokens)
    assert local.admin.post("/extras/detokenize", json={"tokens": tokens}).json()["text"].strip() == text
    refused = local.admin.post("/extras/tokenize", json={"input": "x", "model": "all-minilm-l6-v2"})
    assert refused.status_code == 400
    assert local.admin.post("/extras/tokenize", json={}).status_code == 422


def test_embeddings_of_paraphrases_are_closer_than_unrelated(local) -> None:
    result = local.openai().embeddings.create(
        model="local-embeddings",
        input=["A man is eating food.", "A man is eating a meal.", "The stock market fell sharply."],
    )
    a, b, c = (d.embedding for d in result.data)
    assert len(a) == 384

    def cos(x, y):
        return sum(i * j for i, j in zip(x, y, strict=True))

    assert cos(a, b) > cos(a, c) + 0.3
    assert result.usage.prompt_tokens > 10


def test_local_rerank_is_embedding_similarity(local) -> None:
    body = {
        "model": "local-rerank",
        "query": "How do I cook pasta?",
        "documents": ["Stock prices rose today.", "Boil water, add the pasta and cook for ten minutes."],
    }
    results = local.admin.post("/v1/rerank", json=body).json()["results"]
    assert [r["index"] for r in results] == [1, 0]


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None and not os.environ.get("CI"),
    reason="espeak-ng not installed (make test installs it)",
)
def test_transcription_of_synthesized_speech(local, tmp_path) -> None:
    wav = tmp_path / "speech.wav"
    sentence = "The quick brown fox jumps over the lazy dog"
    subprocess.run(["espeak-ng", "-s", "130", "-w", str(wav), sentence], check=True)
    text = local.openai().audio.transcriptions.create(model="whisper-1", file=wav.open("rb")).text.lower()
    words = {"quick", "brown", "fox", "jump", "over", "lazy", "dog"}
    heard = {w.strip(".,").removesuffix("s") for w in text.split()}
    assert len(heard & words) >= 5  # most words of a synthetic voice
    srt = local.openai().audio.transcriptions.create(
        model="whisper-1", file=wav.open("rb"), response_format="srt"
    )
    assert "-->" in srt
    garbage = local.admin.post(
        f"{local.url}/v1/audio/transcriptions",
        headers=local.admin.headers,
        files={"file": ("x.wav", b"not audio at all", "audio/wav")},
        data={"model": "whisper-1"},
    )
    assert garbage.status_code == 400


def test_ocr_of_a_rendered_image_and_pdf(local) -> None:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (900, 200), "white")
    ImageDraw.Draw(image).text(
        (20, 60), "Lockgate reads this invoice", fill="black", font=ImageFont.load_default(48)
    )
    png, pdf = io.BytesIO(), io.BytesIO()
    image.save(png, format="PNG")
    image.save(pdf, format="PDF")
    for kind, data, mime in (
        ("image_url", png.getvalue(), "image/png"),
        ("document_url", pdf.getvalue(), "application/pdf"),
    ):
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        response = local.admin.post(
            "/v1/ocr", json={"model": "local-ocr", "document": {"type": kind, kind: url}}
        )
        assert response.status_code == 200, response.text
        page = response.json()["pages"][0]
        words = set(page["markdown"].lower().split())
        assert {"lockgate", "reads", "invoice"} <= words
    remote = {"type": "document_url", "document_url": "http://127.0.0.1:1/secret.pdf"}
    refused = local.admin.post("/v1/ocr", json={"model": "local-ocr", "document": remote})
    assert refused.status_code == 400 and "does not fetch" in refused.json()["error"]["message"]


def test_a_client_that_disconnects_frees_the_model(local) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Write a long story."}],
        "max_tokens": 1500,
        "stream": True,
    }
    with local.admin.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if '"content"' in line:
                break  # leave after the first token: the generation must stop, not run to 1500 tokens
    answer = local.openai().chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "Hi"}], max_tokens=3
    )
    assert answer.choices[0].message.content is not None


def test_a_refused_stream_frees_its_slot(local) -> None:
    stream = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "grammar": "root ::= (",
    }
    for _ in range(3):
        assert local.admin.post("/v1/chat/completions", json=stream).status_code == 400
    text = local.admin.get("/metrics").text
    # providers are labelled by name (local:<model>), not database id
    assert (
        'lockgate_model_inflight{model="smollm2-135m-instruct",provider="local:smollm2-135m-instruct"} 0.0'
        in text
    )


def test_a_gguf_file_from_the_config_is_served(tmp_path, sqlite_template) -> None:
    from lockgate.config import Settings
    from lockgate.inference import packages
    from tests import backends
    from tests.helpers import MASTER_KEY
    from tests.live import live_server

    provider = {
        "type": "local",
        "model_name": "my-gguf",
        "model_path": str(packages.smollm2_gguf()),
        "chat_format": "chatml",
        "n_ctx": 1024,
    }
    settings = Settings(
        data_dir=tmp_path,
        database_url=backends.fresh_sqlite(sqlite_template, tmp_path),
        master_key=MASTER_KEY,
        models=[{"name": "my-gguf", "type": "text-generation", "providers": [provider]}],
    )
    with live_server(settings) as live:
        client = live.openai()
        assert [m.id for m in client.models.list()] == ["my-gguf"]  # configured models replace the defaults
        assert client.models.retrieve("my-gguf").max_context_length == 1024
        answer = client.chat.completions.create(
            model="my-gguf", messages=[{"role": "user", "content": "Hello"}], max_tokens=5
        )
        assert answer.choices[0].message.content is not None
