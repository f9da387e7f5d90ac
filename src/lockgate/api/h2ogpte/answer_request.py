"""h2oGPTe's completion arguments (REST body and websocket `cq` frame alike) → the typed answer request
of conversations. Malformed values are a 4xx naming the field, before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lockgate.conversations.schemas import AnswerRequest, RagType, Reflection, Retrieval, TagFilter
from lockgate.errors import InvalidRequest

DEFAULT_MAX_CHUNKS = 4
NO_HISTORY = ("off", False, "false")  # the spec says on/off/auto, the client true/false/auto


def answer_request(
    message: str,
    *,
    llm: str | None,
    llm_args: Mapping[str, Any] | None,
    system_prompt: str | None,
    pre_prompt_query: str | None,
    prompt_query: str | None,
    rag_config: Mapping[str, Any] | None,
    self_reflection_config: Mapping[str, Any] | None,
    include_chat_history: bool | str | None,
    tags: TagFilter | None,
    metadata_filter: Mapping[str, Any] | None = None,
) -> AnswerRequest:
    """`metadata_filter` (websocket): {key: value or list of values}, already checked."""
    return AnswerRequest(
        message=message,
        llm=llm if llm not in (None, "", "auto") else None,
        llm_args=dict(_object("llm_args", llm_args) or {}),
        system_prompt=system_prompt,
        pre_prompt_query=pre_prompt_query,
        prompt_query=prompt_query,
        retrieval=retrieval(_object("rag_config", rag_config) or {}),
        include_history=include_chat_history not in NO_HISTORY,
        tags=tags,
        metadata_filter=dict(metadata_filter) if metadata_filter else None,
        reflection=_reflection(_object("self_reflection_config", self_reflection_config) or {}),
    )


def retrieval(rag_config: Mapping[str, Any]) -> Retrieval:
    """`rag_config` → how chunks are retrieved; its rag_type is checked (400 when unknown)."""
    try:
        max_chunks = int(rag_config.get("rag_max_chunks") or 0)
    except (TypeError, ValueError):
        raise InvalidRequest(
            "rag_config.rag_max_chunks: must be an integer.", param="rag_config.rag_max_chunks"
        ) from None
    min_score = rag_config.get("rag_min_chunk_score")
    try:
        min_score = float(min_score) if min_score is not None else None
    except (TypeError, ValueError):
        raise InvalidRequest(
            "rag_config.rag_min_chunk_score: must be a number.", param="rag_config.rag_min_chunk_score"
        ) from None
    include = _object("rag_config.meta_data_to_include", rag_config.get("meta_data_to_include")) or {}
    extension = rag_config.get("hyde_no_rag_llm_prompt_extension")
    return Retrieval(
        rag_type=RagType.parse(rag_config.get("rag_type")),
        max_chunks=max_chunks if max_chunks > 0 else DEFAULT_MAX_CHUNKS,
        min_score=min_score,
        include_name=bool(include.get("name")),
        include_page=bool(include.get("page")),
        hyde_extension=str(extension) if extension is not None else None,
    )


def _reflection(config: Mapping[str, Any]) -> Reflection | None:
    if not config.get("llm_reflection"):
        return None
    args = _object("self_reflection_config.llm_args_reflection", config.get("llm_args_reflection"))
    return Reflection(
        llm=str(config["llm_reflection"]),
        llm_args=dict(args) if args else None,
        prompt=config.get("prompt_reflection") or None,
        system_prompt=config.get("system_prompt_reflection") or None,
    )


def _object(field: str, value: Any) -> Mapping[str, Any] | None:
    if value is None or isinstance(value, Mapping):
        return value
    raise InvalidRequest(f"{field}: must be a JSON object.", param=field.split(".")[0])
