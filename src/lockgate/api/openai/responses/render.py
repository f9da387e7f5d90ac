"""Build Responses API objects: output items (message with output_text and file citations, function
calls, file_search_call), the `response` object and its usage."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from lockgate.accounting.schemas import Usage
from lockgate.api.openai.responses.schemas import ResponsesRequest
from lockgate.kit.ids import unique_hex
from lockgate.responses.schemas import Citation

GROUNDING = (
    "Answer using the sources below when they are relevant, and cite the ones you use as [n]. If they "
    "do not contain the answer, say so.\n\n{sources}"
)
_MARKER = re.compile(r"\[(\d{1,3})\]")


def grounding_message(citations: list[Citation]) -> dict[str, Any]:
    sources = "\n\n".join(f"[{n}] ({c.filename}) {c.text}" for n, c in enumerate(citations, start=1))
    return {"role": "system", "content": GROUNDING.format(sources=sources)}


def citation_annotations(text: str, citations: list[Citation]) -> list[dict[str, Any]]:
    """file_citation annotations: one per [n] marker the model wrote, at its position; when it wrote
    none, one per retrieved document at the end of the text (the sources it was given)."""
    if not citations:
        return []
    found = []
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        if 1 <= n <= len(citations):
            found.append((match.start(), citations[n - 1]))
    if not found:
        seen: dict[int, Citation] = {}
        for citation in citations:
            seen.setdefault(citation.document_id, citation)
        found = [(len(text), c) for c in seen.values()]
    return [
        {"type": "file_citation", "file_id": str(c.document_id), "filename": c.filename, "index": index}
        for index, c in found
    ]


def file_search_item(query: str, citations: list[Citation], with_results: bool) -> dict[str, Any]:
    results = [
        {
            "file_id": str(c.document_id),
            "filename": c.filename,
            "score": c.score,
            "text": c.text,
            "attributes": {"collection_id": c.collection_id},
        }
        for c in citations
    ]
    return {
        "id": f"fs_{unique_hex()}",
        "type": "file_search_call",
        "status": "completed",
        "queries": [query],
        "results": results if with_results else None,
    }


def message_item(item_id: str, text: str, notes: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [{"type": "output_text", "text": text, "annotations": notes, "logprobs": []}]
        if text or status == "completed"
        else [],
    }


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def usage(settled: Usage) -> dict[str, Any]:
    """Responses usage from the gateway's settled usage (cost and carbon kept alongside)."""
    prompt, completion = settled.prompt_tokens, settled.completion_tokens
    extra = {"cost": settled.cost, "carbon": settled.carbon.as_usage()} if settled.cost is not None else {}
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
        **extra,
    }


@dataclass(slots=True)
class Draft:
    """A response being built: what the request echoes, and the output so far."""

    body: ResponsesRequest
    model: str
    id: str = field(default_factory=lambda: f"resp_{unique_hex()}")
    created_at: int = field(default_factory=lambda: int(time.time()))
    output: list[dict[str, Any]] = field(default_factory=list)

    def render(
        self,
        status: str,
        settled: Usage | None = None,
        finish_reason: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = self.body
        incomplete = status == "completed" and finish_reason == "length"
        fmt = body.text.format if body.text and body.text.format else None
        if incomplete and self.output and self.output[-1].get("type") == "message":
            # The message the token limit cut is itself incomplete (the SDK's item status allows it).
            self.output[-1] = {**self.output[-1], "status": "incomplete"}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": "incomplete" if incomplete else status,
            "error": error,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "instructions": body.instructions,
            "max_output_tokens": body.max_output_tokens,
            "model": self.model,
            "output": self.output,
            "parallel_tool_calls": body.parallel_tool_calls is not False,
            "previous_response_id": body.previous_response_id,
            "temperature": body.temperature,
            "top_p": body.top_p,
            "tool_choice": _dump(body.tool_choice) if body.tool_choice is not None else "auto",
            "tools": [t.model_dump(exclude_none=True) for t in body.tools or ()],
            "text": {"format": fmt.model_dump(exclude_none=True, by_alias=True) if fmt else {"type": "text"}},
            "metadata": body.metadata or {},
            "store": body.store is not False,
            "usage": usage(settled) if settled is not None else None,
            "user": body.user,
        }


def _dump(value: Any) -> Any:
    return value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value


def output_text(output: list[dict[str, Any]]) -> str:
    return "".join(
        part["text"]
        for item in output
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def history_turn(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """This response's output as the assistant chat turn a follow-up request continues from."""
    calls = [
        {"id": i["call_id"], "type": "function", "function": {"name": i["name"], "arguments": i["arguments"]}}
        for i in output
        if i["type"] == "function_call"
    ]
    turn: dict[str, Any] = {"role": "assistant", "content": output_text(output)}
    if calls:
        turn["tool_calls"] = calls
    return [turn]


def answer_output(
    answer: dict[str, Any], citations: list[Citation]
) -> tuple[list[dict[str, Any]], str | None]:
    """Output items of a chat completion, and its finish reason."""
    choice = (answer.get("choices") or [{}])[0]
    reply = choice.get("message") or {}
    text = reply.get("content") or ""
    calls = reply.get("tool_calls") or []
    output = []
    if text or not calls:
        output.append(
            message_item(f"msg_{unique_hex()}", text, citation_annotations(text, citations), "completed")
        )
    for call in calls:
        function = call.get("function") or {}
        output.append(
            function_call_item(
                f"fc_{unique_hex()}",
                call.get("id") or f"call_{unique_hex()}",
                function.get("name", ""),
                function.get("arguments") or "",
                "completed",
            )
        )
    return output, choice.get("finish_reason")
