"""The `search` tool of a chat request (OpenGateLLM): `tools: [{"type": "search", ...}]`, or the
deprecated `search: true` + `search_args`, taken out of the body as search arguments."""

from __future__ import annotations

from typing import Any

from lockgate.errors import InvalidRequest

SEARCH_FIELDS = (
    "collection_ids",
    "document_ids",
    "metadata_filters",
    "limit",
    "offset",
    "method",
    "rff_k",
    "score_threshold",
    "fusion",
    "semantic_weight",
    "rerank_model",
)


def search_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The search arguments of a chat request, or None. The search tool is removed from the body."""
    tools = body.get("tools") or []
    search_tools = [t for t in tools if isinstance(t, dict) and t.get("type") == "search"]
    if search_tools:
        body["tools"] = [t for t in tools if t not in search_tools] or None
        if body["tools"] is None:
            body.pop("tools")
            body.pop("tool_choice", None)
        args = {k: v for k, v in search_tools[0].items() if k != "type"}
    elif body.pop("search", None):
        args = dict(body.get("search_args") or {})
        # OpenGateLLM's older names: `collections` for `collection_ids`; `k` is no longer used
        if "collections" in args:
            args.setdefault("collection_ids", args.pop("collections"))
        args.pop("k", None)
    else:
        body.pop("search_args", None)
        return None
    body.pop("search", None)
    body.pop("search_args", None)
    unknown = set(args) - set(SEARCH_FIELDS) - {"query"}
    if unknown:
        raise InvalidRequest(f"search: unknown field(s) {', '.join(sorted(unknown))}.", param="tools")
    return args
