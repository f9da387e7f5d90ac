"""The frames of the h2oGPTe chat websocket, as the `h2ogpte` client's session.py reads and writes
them: one JSON object per text frame (or per line), `t` naming the type. The client sends `cq`
(ChatRequest); the server answers `cx` (acknowledgement, with the stored question's id), `cp` (a piece
of the answer), then `ca` (the whole answer, with its stored id) or `ce` (an error)."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lockgate.api.h2ogpte.answer_request import answer_request
from lockgate.api.h2ogpte.chat_views import TagFilter, domain_tags
from lockgate.api.h2ogpte.common import to_public_id
from lockgate.conversations.schemas import AnswerRequest
from lockgate.errors import AppError, InvalidRequest


class ChatRequestFrame(BaseModel):
    """`cq`. llm_args, rag_config and self_reflection_config arrive as JSON text (the client dumps
    them; "null" when not given)."""

    model_config = ConfigDict(extra="ignore")

    t: Literal["cq"]
    session_id: str = Field(max_length=64)
    correlation_id: str = Field(min_length=1, max_length=128)
    body: str
    mode: str | None = None
    system_prompt: str | None = None
    pre_prompt_query: str | None = None
    prompt_query: str | None = None
    pre_prompt_summary: str | None = None
    prompt_summary: str | None = None
    llm: str | int | None = None
    llm_args: str | dict[str, Any] | None = None
    self_reflection_config: str | dict[str, Any] | None = None
    rag_config: str | dict[str, Any] | None = None
    include_chat_history: bool | str | None = None
    tags: list[str] | TagFilter | None = None
    metadata_filter: dict[str, Any] | str | None = None

    def completion_request(self, llm_names: list[str]) -> AnswerRequest:
        """The typed answer request (as the REST completion body makes it); `llm` may be an index into
        the served chat models."""
        llm = self.llm
        if isinstance(llm, int):
            if not 0 <= llm < len(llm_names):
                raise InvalidRequest(f"llm: no model at index {llm}.", param="llm")
            llm = llm_names[llm]
        return answer_request(
            self.body,
            llm=llm,
            llm_args=_object("llm_args", self.llm_args),
            system_prompt=self.system_prompt,
            pre_prompt_query=self.pre_prompt_query,
            prompt_query=self.prompt_query,
            rag_config=_object("rag_config", self.rag_config),
            self_reflection_config=_object("self_reflection_config", self.self_reflection_config),
            include_chat_history=self.include_chat_history,
            tags=domain_tags(self.tags),
            metadata_filter=metadata_filter(self.metadata_filter),
        )


def metadata_filter(value: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """`metadata_filter`: {key: value} (documents whose metadata has that value; a list: any of its
    values), all keys ANDed. Values are JSON scalars or lists of them; anything else is refused."""
    found = _object("metadata_filter", value)
    for key, wanted in (found or {}).items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not all(v is None or isinstance(v, str | int | float | bool) for v in values):
            raise InvalidRequest(
                f"metadata_filter.{key}: a value or a list of values (no objects).",
                param=f"metadata_filter.{key}",
            )
    return found


def _object(field: str, value: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON object sent as text (or as an object); null is None; anything else is refused."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)  # depth-limited: deep nesting is a 4xx, not a RecursionError
        except ValueError:
            raise InvalidRequest(f"{field}: not valid JSON.", param=field) from None
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"{field}: must be a JSON object.", param=field)
    return value


def parse_request(line: str) -> ChatRequestFrame | dict[str, Any]:
    """The request in a line, or, when it is not one, the fields to answer its error frame with."""
    try:
        data = orjson.loads(line)
    except ValueError:
        return {"error": "Malformed frame: not JSON."}
    if not isinstance(data, dict):
        return {"error": "Malformed frame: expected a JSON object."}
    try:
        return ChatRequestFrame.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "frame"
        ids = {k: data[k] for k in ("session_id", "correlation_id") if isinstance(data.get(k), str)}
        return {**ids, "error": f"Malformed frame: {field}: {first['msg']}"}


def acknowledgement(frame: ChatRequestFrame, question_id: int, username: str) -> dict[str, Any]:
    return {
        "t": "cx",
        "session_id": frame.session_id,
        "correlation_id": frame.correlation_id,
        "message_id": to_public_id("message", question_id),
        "username": username,
        "body": frame.body,
    }


def partial(frame: ChatRequestFrame, question_id: int, piece: str) -> dict[str, Any]:
    """`cp`: one piece of the answer (a delta: the pieces joined are the answer)."""
    return _response("cp", frame.session_id, "", question_id, piece)


def answer(frame: ChatRequestFrame, question_id: int, answer_id: int, text: str) -> dict[str, Any]:
    return _response("ca", frame.session_id, to_public_id("message", answer_id), question_id, text)


def error(
    session_id: str, correlation_id: str | None, question_id: int | None, failure: AppError | str
) -> dict[str, Any]:
    """`ce`. Before the acknowledgement the client matches it by correlation id, after by the question
    id. A 429 is `error_type: rate_limit` (the client raises RateLimitError); a Retry-After, when the
    failure has one, is `retry_after` in seconds."""
    message = failure if isinstance(failure, str) else failure.message
    frame = _response("ce", session_id, "", question_id, "")
    frame.update(error=message, correlation_id=correlation_id)
    if isinstance(failure, AppError):
        retry = failure.headers.get("Retry-After")
        if failure.status_code == 429:
            frame["error_type"] = "rate_limit"
        elif failure.status_code >= 500:
            frame["error_type"] = "upstream"
        if retry is not None and retry.isdigit():
            frame["retry_after"] = int(retry)
    return frame


def _response(t: str, session_id: str, message_id: str, question_id: int | None, body: str) -> dict[str, Any]:
    return {
        "t": t,
        "session_id": session_id,
        "message_id": message_id,
        "reply_to_id": to_public_id("message", question_id) if question_id is not None else "",
        "body": body,
        "error": "",
    }
