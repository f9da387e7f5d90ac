"""The input shapes agent frameworks (the OpenAI Agents SDK, LangChain) send to /v1/responses with the
unchanged `openai` client: the previous output items passed back verbatim (dumped from the SDK's own
models: ids, statuses, annotations, logprobs), function call outputs as a string or as content parts,
and a `cancel` of a response that was not made in the background."""

from __future__ import annotations

import openai
import pytest

from tests.gateway.conftest import model, provider

LOOKUP = {
    "type": "function",
    "name": "lookup",
    "description": "Look a word up.",
    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
}


@pytest.fixture
def stack(fake, lockgate):
    upstream = fake("vllm", "up-chat")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    return live, upstream


@pytest.mark.parametrize(
    "output", ["x = 42", [{"type": "input_text", "text": "x = 42"}]], ids=["string", "parts"]
)
def test_output_items_passed_back_verbatim(stack, output) -> None:
    live, upstream = stack
    client = live.openai()
    history: list = [{"role": "user", "content": "find x"}]
    first = client.responses.create(model="chat", input=history, tools=[LOOKUP], tool_choice="required")
    history += [item.model_dump(exclude_none=True) for item in first.output]
    (call,) = [item for item in first.output if item.type == "function_call"]
    history.append({"type": "function_call_output", "call_id": call.call_id, "output": output})
    second = client.responses.create(model="chat", input=history, tools=[LOOKUP])
    assert second.status == "completed" and second.output_text
    history += [item.model_dump(exclude_none=True) for item in second.output]
    history.append({"role": "user", "content": "thanks"})
    third = client.responses.create(model="chat", input=history, tools=[LOOKUP])
    assert third.status == "completed"
    sent = upstream.calls("/v1/chat/completions")[-1].json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[1]["tool_calls"][0]["id"] == call.call_id
    assert sent[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "x = 42"}
    assert sent[3]["content"] == second.output_text


def test_cancel_of_a_foreground_response_is_refused(stack) -> None:
    live, _ = stack
    client = live.openai()
    done = client.responses.create(model="chat", input="hello")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.cancel(done.id)
    assert "background" in refused.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_absent")
    assert client.responses.retrieve(done.id).status == "completed"
