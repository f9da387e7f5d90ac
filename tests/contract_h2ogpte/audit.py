"""The method audit of the `H2OGPTE` class in docs/api.md: for every public method, the HTTP calls it
makes (read from the installed client's source: its rest_sync API calls, its /rpc calls, the methods
of its own it calls) and whether Lockgate serves them. Regenerate the table with

    PYTHONPATH=src python -m tests.contract_h2ogpte.audit > /tmp/table.md

and test_h2ogpte_audit.py checks that docs/api.md holds the current one."""

from __future__ import annotations

import ast
import inspect
import re
from functools import cache
from pathlib import Path

API_PREFIX = "/api/v1"
START, END = "<!-- h2ogpte-audit:start -->", "<!-- h2ogpte-audit:end -->"
# Methods the contract tests drive through the class (tests/contract_h2ogpte/test_h2ogpte_sdk*.py).
TESTED = {
    "connect", "get_meta", "create_collection", "upload", "ingest_uploads", "list_documents_in_collection",
    "get_collection", "create_chat_session", "create_chat_session_on_default_collection",
    "list_chat_message_references", "list_chat_messages", "list_recent_chat_sessions", "get_llms",
    "get_llm_names", "list_embedding_models", "encode_for_retrieval", "summarize_content", "extract_data",
    "search_chunks", "get_document", "summarize_document", "process_document", "get_llm_usage_24h",
    "get_llm_usage_24h_by_llm", "delete_chat_messages", "delete_chat_sessions",
    "delete_documents_from_collection", "count_documents_in_collection", "delete_documents",
    "delete_collections", "get_job", "list_extractors", "get_default_collection",
    "import_document_into_collection", "list_document_chunks", "cancel_job", "answer_question",
    "ingest_from_plain_text", "get_chunks",
}  # fmt: skip
# Where the client itself cannot work, whatever the server answers.
CLIENT_BUGS = {
    "list_upload": "client bug: parses the JSON answer, then reads `.status_code` from it",
}
CLIENT_SIDE = {"invalidate_cookie_session"}
_SELF_CALLS = {
    "_get",
    "_post",
    "_put",
    "_delete",
    "_post_rest",
    "_put_rest",
    "_post_multipart",
    "_post_stream",
}
Call = tuple[str, str, str]  # (HTTP method, path, how: rest | raw | websocket)
_VERBS = {"_get": "GET", "_delete": "DELETE", "_put": "PUT", "_put_rest": "PUT"}


@cache
def _rest_routes() -> dict[str, Call]:
    """rest_sync API method name → (HTTP method, path under /api/v1)."""
    import h2ogpte.rest_sync.api as api

    found: dict[str, Call] = {}
    for path in Path(api.__file__).parent.glob("*_api.py"):
        source = path.read_text()
        pattern = r"def _(\w+)_serialize\(.*?method='(\w+)',\s*resource_path='([^']+)'"
        for m in re.finditer(pattern, source, re.S):
            found[m.group(1)] = (m.group(2), API_PREFIX + m.group(3), "rest")
    return found


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(p.value if isinstance(p, ast.Constant) else "{x}" for p in node.values)
    return None


def _calls(fn: ast.FunctionDef) -> tuple[list[Call], list[str]]:
    """(HTTP calls, own methods called) of one method."""
    rest = _rest_routes()
    calls: list[Call] = []
    own: list[str] = []
    local: dict[str, str] = {}  # `endpoint = "/api/v1/..."` then self._get(endpoint)
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            path = _text(node.value)
            if path is not None and path.startswith("/"):
                local.setdefault(node.targets[0].id, path)
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name, target = node.func.attr, node.func.value
        if isinstance(target, ast.Attribute) and target.attr.endswith("_api") and name in rest:
            calls.append(rest[name])
        elif name in _SELF_CALLS and node.args:
            arg = node.args[0]
            path = local.get(arg.id) if isinstance(arg, ast.Name) else _text(arg)
            if path is not None:
                calls.append((_VERBS.get(name, "POST"), path.split("?")[0], "raw"))
        elif name in ("get", "put", "post", "delete", "patch") and node.args:
            arg = node.args[0]  # requests.put(self._address + endpoint, ...)
            if isinstance(arg, ast.BinOp) and isinstance(arg.right, ast.Name) and arg.right.id in local:
                calls.append((name.upper(), local[arg.right.id].split("?")[0], "raw"))
        elif name in ("_db", "_job", "_lang", "_vex", "_crawl_func"):
            calls.append(("POST", "/rpc/" + ("crawl/func" if name == "_crawl_func" else name[1:]), "raw"))
        elif name == "_wait_for_completion":
            calls.append(("GET", API_PREFIX + "/jobs/{job_id}", "rest"))
        elif name == "connect" or (isinstance(target, ast.Name) and target.id == "self" and name[0] != "_"):
            own.append(name)
    return calls, own


@cache
def methods() -> dict[str, tuple[list[Call], list[str]]]:
    from h2ogpte import h2ogpte as module
    from h2ogpte import h2ogpte_sync_base as base

    found: dict[str, tuple[list[Call], list[str]]] = {}
    for source in (inspect.getsource(module), inspect.getsource(base)):
        for cls in ast.parse(source).body:
            if isinstance(cls, ast.ClassDef) and cls.name in ("H2OGPTE", "H2OGPTESyncBase"):
                for fn in cls.body:
                    if isinstance(fn, ast.FunctionDef) and not fn.name.startswith("_"):
                        found.setdefault(fn.name, _calls(fn))
    found["connect"] = ([("GET", "/ws", "websocket")], [])
    return found


def all_calls(name: str, seen: frozenset[str] = frozenset()) -> list[Call]:
    calls, own = methods().get(name, ([], []))
    result = list(calls)
    for other in own:
        if other in methods() and other not in seen and other != name:
            result += all_calls(other, seen | {name})
    return sorted(set(result))


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")


@cache
def served() -> list[tuple[set[str], re.Pattern[str]]]:
    """(methods, path pattern) of every route Lockgate serves, the 501 fallback left out."""
    from fastapi.routing import iter_route_contexts

    from lockgate.api.h2ogpte import fallback
    from lockgate.app import create_app
    from lockgate.config import Settings

    app = create_app(Settings(local_models="off"))
    out = []
    for route in iter_route_contexts(app.routes):
        if route.endpoint in (fallback.not_served, fallback.rpc_not_served) or route.path is None:
            continue
        verbs = set(route.methods or {"GET"})  # a websocket route has none
        out.append((verbs, _pattern(route.path)))
    return out


def is_served(verb: str, path: str) -> bool:
    probe = re.sub(r"\{[^}]*\}", "x", path)
    return any(verb in verbs and pattern.match(probe) for verbs, pattern in served())


def _shown(missing: list[Call]) -> str:
    return ", ".join(f"`{v} {p}`" for v, p, _ in missing[:2]) + (" …" if len(missing) > 2 else "")


def status(name: str) -> str:
    if name in CLIENT_BUGS:
        return f"✗ {CLIENT_BUGS[name]}"
    calls = all_calls(name)
    if not calls:
        return "✓ works (client-side only)" if name in CLIENT_SIDE else "? not analysed (no HTTP call found)"
    direct = {(v, p) for v, p, _ in methods()[name][0]}
    missing = [c for c in calls if not is_served(c[0], c[1])]
    if not missing:
        return "✓ works, tested" if name in TESTED else "✓ served"
    if not any((v, p) in direct for v, p, _ in missing):
        # only some of the methods it may call on the way (e.g. a thumbnail= argument) are not served
        verdict = "✓ works, tested" if name in TESTED else "✓ served"
        return f"{verdict}, except where it calls {_shown(missing)} (501)"
    # rest_sync calls raise HTTPError(501); the class's own requests map 501 to NotImplementedError
    error = "HTTPError 501" if missing[0][2] == "rest" else "NotImplementedError"
    part = "not served" if len(missing) == len(calls) else "partly served"
    return f"✗ {part}: {_shown(missing)} → {error}"


def table() -> str:
    rows = ["| method | Lockgate |", "|---|---|"]
    rows += [f"| `{name}` | {status(name)} |" for name in sorted(methods())]
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
