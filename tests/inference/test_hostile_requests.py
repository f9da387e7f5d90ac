"""Requests that once killed the process or answered 500 on the local llama.cpp model, replayed as
clients send them: each now has its right answer, and the server answers /health after each.
Assertions are on structure (status, field named, shapes), never on the tiny model's wording."""

from __future__ import annotations

import json

import httpx
import pytest

CHAT = "smollm2-135m-instruct"
VOCAB = 49152  # SmolLM2's vocabulary size: the first id outside it


def post(local, path: str, body: dict) -> httpx.Response:
    response = local.admin.post(path, json=body)
    assert local.admin.get("/health").status_code == 200  # the process survived
    return response


def chat(local, **fields) -> httpx.Response:
    body = {"model": CHAT, "max_tokens": 8, "temperature": 0, **fields}
    return post(local, "/v1/chat/completions", body)


def error_of(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


@pytest.mark.parametrize("tokens", [[VOCAB], [-5], [1_000_000_000], [1, 2, 2**40]])
def test_detokenize_out_of_vocabulary_is_a_400_not_a_dead_process(local, tokens) -> None:
    error = error_of(post(local, "/extras/detokenize", {"tokens": tokens}))
    assert error["param"] == "tokens" and "vocabulary" in error["message"]


def test_detokenize_accepts_the_last_token_and_json_float_ids(local) -> None:
    assert post(local, "/extras/detokenize", {"tokens": [VOCAB - 1]}).status_code == 200
    raw = local.admin.post(
        "/extras/detokenize", content=b'{"tokens": [1e9]}', headers={"content-type": "application/json"}
    )
    assert error_of(raw)["param"] == "tokens"


@pytest.mark.parametrize("prompt", [[1, 2, VOCAB], [-1], [[5, 99999]]])
def test_completion_token_prompt_outside_the_vocabulary(local, prompt) -> None:
    body = {"model": CHAT, "prompt": prompt, "max_tokens": 2}
    assert error_of(post(local, "/v1/completions", body))["param"] == "prompt"


def test_completion_token_prompt_inside_the_vocabulary(local) -> None:
    tokens = local.admin.post("/extras/tokenize", json={"input": "The sky is"}).json()["tokens"]
    answer = post(local, "/v1/completions", {"model": CHAT, "prompt": tokens, "max_tokens": 2})
    assert answer.status_code == 200 and answer.json()["usage"]["prompt_tokens"] == len(tokens)


@pytest.mark.parametrize(
    "bias", [{str(VOCAB): 5}, {"-1": 5}, {"not-a-token": 1}, {"10": 1000}, {"10": "high"}, ["10"]]
)
def test_logit_bias_is_checked_against_the_vocabulary(local, bias) -> None:
    error = error_of(chat(local, messages=[{"role": "user", "content": "Hi"}], logit_bias=bias))
    assert error["param"] == "logit_bias"


def test_logit_bias_inside_the_vocabulary_is_applied(local) -> None:
    token = local.admin.post("/extras/tokenize", json={"input": " banana"}).json()["tokens"][-1]
    answer = chat(
        local,
        messages=[{"role": "user", "content": "Say a word."}],
        logit_bias={str(token): 100},
        max_tokens=3,
    )
    assert answer.status_code == 200
    usage = answer.json()["usage"]
    assert usage["completion_tokens"] >= 1
    generated = local.admin.post(
        "/extras/tokenize", json={"input": answer.json()["choices"][0]["message"]["content"]}
    )
    assert token in generated.json()["tokens"]  # +100 makes the token certain


@pytest.mark.parametrize(
    ("field", "value"),
    [("top_k", 2**40), ("top_k", -3), ("mirostat_mode", 7), ("max_tokens", 2**70), ("stop", [1, 2])],
)
def test_sampling_values_c_cannot_hold_are_refused(local, field, value) -> None:
    response = chat(local, messages=[{"role": "user", "content": "Hi"}], **{field: value})
    assert response.status_code in (400, 422), response.text
    assert field in response.json()["error"]["param"]


DEEP = "root ::= " + "(" * 30_000 + '"a"' + ")" * 30_000  # overflowed llama.cpp's parser: SIGSEGV
CHAIN = "root ::= r0\n" + "".join(f"r{i} ::= r{i + 1}\n" for i in range(100_000)) + 'r100000 ::= "a"'


@pytest.mark.parametrize(
    "grammar", [DEEP, CHAIN, 'root ::= "' + "a" * 300_000 + '"'], ids=["deep", "chain", "long"]
)
def test_grammars_too_deep_for_the_native_parser_are_a_400(local, grammar) -> None:
    error = error_of(chat(local, messages=[{"role": "user", "content": "Hi"}], grammar=grammar))
    assert error["param"] == "grammar"


def test_a_nested_grammar_within_bounds_still_constrains(local) -> None:
    nested = "root ::= " + "(" * 100 + '"yes" | "no"' + ")" * 100
    answer = chat(local, messages=[{"role": "user", "content": "Yes or no?"}], grammar=nested)
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] in ("yes", "no")


def test_a_seed_beyond_32_bits_is_accepted(local) -> None:
    for seed in (2**40 + 7, -1):  # OpenAI seeds are 64-bit: taken modulo 2**32
        assert chat(local, messages=[{"role": "user", "content": "Hi"}], seed=seed).status_code == 200


# -- the message shapes OpenAI SDK agent loops send ------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}


def test_text_parts_in_system_user_and_assistant_prefill(local) -> None:
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "You are terse."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Name a colour."}, {"type": "text", "text": "One word."}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "The colour is"}]},
    ]
    answer = chat(local, messages=messages)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["role"] == "assistant"


def test_a_whole_tool_loop_with_null_content_and_a_tool_result(local) -> None:
    messages = [
        {"role": "developer", "content": "Use tools when needed."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C and sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "also windy"}]},
    ]
    answer = chat(local, messages=messages, tools=[WEATHER])
    assert answer.status_code == 200, answer.text
    streamed = post(
        local, "/v1/chat/completions", {"model": CHAT, "messages": messages, "max_tokens": 4, "stream": True}
    )
    assert streamed.status_code == 200 and streamed.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is it?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    ],
                }
            ],
            "messages[0].content[1]",
        ),
        ([{"role": "user", "content": ""}], "messages[0].content"),
        ([{"role": "user", "content": []}], "messages[0].content"),
        ([{"role": "user", "content": None}], "messages[0].content"),
        ([{"role": "system", "content": "x"}, {"role": "wizard", "content": "x"}], "messages[1].role"),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "messages[0].content[0]",
        ),
        ([{"role": "user", "content": 5}], "messages[0].content"),
    ],
)
def test_messages_no_text_model_can_take_are_a_400_naming_the_field(local, messages, param) -> None:
    error = error_of(chat(local, messages=messages))
    assert error["param"] == param


ASK = {"role": "user", "content": "Weather in Paris?"}
CALLED = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    ],
}
ANSWER = {"role": "tool", "tool_call_id": "call_1", "content": "again"}


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        # the trial's request: a tool result without the id of the call it answers (OpenAI: 400)
        ([ASK, CALLED, {"role": "tool", "content": "18 C"}], "messages[2].tool_call_id"),
        ([ASK, CALLED, {"role": "tool", "tool_call_id": 7, "content": "18 C"}], "messages[2].tool_call_id"),
        # a tool result no assistant tool call precedes
        ([ASK, {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}], "messages[1].role"),
        (
            [ASK, CALLED, {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}, ASK, ANSWER],
            "messages[4].role",
        ),
        # answering a call the assistant turn before it did not make
        (
            [ASK, CALLED, {"role": "tool", "tool_call_id": "call_9", "content": "18 C"}],
            "messages[2].tool_call_id",
        ),
        # a call left unanswered before the conversation goes on, or at its end
        ([ASK, CALLED, ASK], "messages[1].tool_calls"),
        ([ASK, CALLED], "messages[1].tool_calls"),
        # tool calls in shapes OpenAI refuses
        (
            [
                ASK,
                {
                    **CALLED,
                    "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
            ],
            "messages[1].tool_calls[0].id",
        ),
        (
            [ASK, {**CALLED, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}],
            "messages[1].tool_calls[0].function.arguments",
        ),
        ([ASK, {**CALLED, "tool_calls": "call"}], "messages[1].tool_calls"),
        ([ASK, {"role": "function", "content": "18 C"}], "messages[1].name"),
        (
            [{"role": "system", "content": [{"type": "input_audio", "input_audio": {}}]}, ASK],
            "messages[0].content[0]",
        ),
    ],
)
def test_tool_turns_openai_refuses_are_a_400_naming_the_field(local, messages, param) -> None:
    for stream in (False, True):
        error = error_of(chat(local, messages=messages, tools=[WEATHER], stream=stream))
        assert error["param"] == param, error


def test_more_messages_than_the_context_window_holds_is_a_quick_400(local) -> None:
    # 50,000 messages once held the model for minutes (template rendering) before its 400.
    many = [{"role": "user", "content": "hi"}] * 50_000
    assert error_of(chat(local, messages=many))["param"] == "messages"
    assert error_of(chat(local, messages=many, stream=True))["param"] == "messages"
    assert chat(local, messages=[{"role": "user", "content": "hi"}]).status_code == 200


def test_messages_as_a_json_encoded_string(local) -> None:
    encoded = json.dumps([{"role": "user", "content": "Hello"}])
    answer = chat(local, messages=encoded)
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["role"] == "assistant"
    broken = chat(local, messages='[{"role": "user"')
    assert broken.status_code == 422 and broken.json()["error"]["param"] == "messages"


def test_tool_choice_required_forces_a_call_of_a_declared_tool(local) -> None:
    answer = chat(
        local,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER, TIME],
        tool_choice="required",
        max_tokens=100,
    )
    assert answer.status_code == 200, answer.text
    choice = answer.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["function"]["name"] in {"get_weather", "get_time"}
    arguments = json.loads(call["function"]["arguments"])
    assert isinstance(arguments, dict) and set(arguments) == {
        "city" if call["function"]["name"] == "get_weather" else "zone"
    }


def test_tool_choice_required_streams_the_call(local) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
        "tools": [WEATHER],
        "tool_choice": "required",
        "max_tokens": 100,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    lines = [
        line[6:]
        for line in post(local, "/v1/chat/completions", body).text.splitlines()
        if line.startswith("data: ")
    ]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("tool_calls")
    ]
    assert calls[0]["function"]["name"] == "get_weather"
    assert "city" in json.loads(calls[0]["function"]["arguments"])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": "required", "tools": []}, "tool_choice"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}, "tools": [WEATHER]},
            "tool_choice",
        ),
        ({"tool_choice": "sometimes", "tools": [WEATHER]}, "tool_choice"),
    ],
)
def test_tool_choice_without_a_matching_tool_is_a_400(local, fields, param) -> None:
    error = error_of(chat(local, messages=[{"role": "user", "content": "Hi"}], **fields))
    assert error["param"] == param


# -- n choices and the stream contract --------------------------------------------------------------


def test_n_choices_on_chat_and_completions(local) -> None:
    answer = chat(
        local, messages=[{"role": "user", "content": "Say hi."}], n=3, max_tokens=4, temperature=0.9
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"]["completion_tokens"] >= 3
    text = post(local, "/v1/completions", {"model": CHAT, "prompt": "Once upon", "n": 2, "max_tokens": 3})
    assert [c["index"] for c in text.json()["choices"]] == [0, 1]
    assert error_of(chat(local, messages=[{"role": "user", "content": "x"}], n=9))["param"] == "n"


def test_n_choices_stream_with_their_indexes(local) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": "Say hi."}],
        "n": 2,
        "max_tokens": 3,
        "stream": True,
    }
    lines = [
        line[6:]
        for line in post(local, "/v1/chat/completions", body).text.splitlines()
        if line.startswith("data: ")
    ]
    chunks = [json.loads(line) for line in lines[:-1]]
    assert {c["choices"][0]["index"] for c in chunks} == {0, 1}
    assert all(c["choices"] for c in chunks)  # no usage chunk: the client did not ask for one


def _png_declaring(width: int, height: int) -> bytes:
    """A few bytes of PNG whose header declares `width` x `height` grey pixels (a decompression bomb's
    shape: the pixels would only be allocated when decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("width", "height"), [(8_000, 8_000), (100_000, 100_000)])
def test_ocr_of_an_image_declaring_too_many_pixels_is_a_400(local, width, height) -> None:
    import base64

    url = "data:image/png;base64," + base64.b64encode(_png_declaring(width, height)).decode()
    body = {"model": "local-ocr", "document": {"type": "image_url", "image_url": url}}
    error = error_of(post(local, "/v1/ocr", body))
    assert error["param"] == "document" and "pixels" in error["message"]
