"""An OpenAI / llama-cpp-python request body → checked llama-cpp-python keyword arguments.

Nothing here touches the model: the engine passes its vocabulary and context sizes, and the grammar
texts returned are checked by llama.cpp's own parser (in the engine) before any generation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import BadRequest
from lockgate.inference import bounds
from lockgate.inference.messages import tool_names

# Request fields llama.cpp understands (spec 003), besides the OpenAI ones mapped below.
_SAMPLING = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
    "tfs_z",
    "mirostat_mode",
    "mirostat_tau",
    "mirostat_eta",
    "seed",
    "stop",
)
_COMPLETION_ONLY = ("suffix", "echo")
MAX_CHOICES = 8  # `n` on a local model: choices are generated one after another


@dataclass(slots=True)
class LlamaCall:
    """What one generation needs: keyword arguments, grammar texts to check, how many choices, and
    the tools a `tool_choice: "required"` must pick from (the answer is then turned into a call)."""

    kwargs: dict[str, Any]
    grammars: list[str] = field(default_factory=list)
    n: int = 1
    required_tools: list[str] | None = None
    grammar: str | None = None  # passed as llama-cpp-python's `grammar` (a named tool makes its own)
    auto_tools: list[str] | None = None  # tool_choice "auto": the tools whose markup becomes calls
    legacy_functions: bool = False  # the request used `functions`: answer with `function_call` too


def _int(value: Any, param: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{param}: must be an integer.", param=param)
    return value


def schema_grammar(schema: Any, param: str) -> str:
    """The GBNF text of a JSON schema (llama-cpp-python's converter); 400 naming `param` if it cannot."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    except Exception as exc:  # the converter raises many kinds on schemas it does not support
        raise BadRequest(
            f"{param}: this JSON schema cannot be turned into a grammar ({exc}).", param=param
        ) from None


def _response_format(value: Any) -> str | None:
    """OpenAI's response_format → a grammar text (None for plain text)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("response_format: must be an object.", param="response_format")
    kind = value.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_schema":
        schema = (
            (value.get("json_schema") or {}).get("schema")
            if isinstance(value.get("json_schema"), dict)
            else None
        )
        return schema_grammar(schema, "response_format") if schema else _json_grammar()
    if kind == "json_object":
        schema = value.get("schema")
        return schema_grammar(schema, "response_format") if schema else _json_grammar()
    raise BadRequest(
        "response_format.type: must be text, json_object or json_schema.", param="response_format"
    )


def _json_grammar() -> str:
    from llama_cpp.llama_grammar import JSON_GBNF

    return JSON_GBNF


def required_tool_grammar(tools: list[dict[str, Any]]) -> str:
    """A grammar allowing exactly one call of one of `tools`: {"name": ..., "arguments": {...}}."""
    options = []
    for tool in tools:
        function = tool["function"]
        parameters = function.get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": function["name"]}, "arguments": parameters},
                "required": ["name", "arguments"],
            }
        )
    return schema_grammar({"oneOf": options} if len(options) > 1 else options[0], "tools")


def build_call(body: dict[str, Any], chat: bool, n_vocab: int, n_ctx: int) -> LlamaCall:
    """Checked keyword arguments for llama-cpp-python; 400 naming the field for anything it cannot take."""
    n = _int(body.get("n") or 1, "n")
    if not 1 <= n <= MAX_CHOICES:
        raise BadRequest(f"n: local models generate at most {MAX_CHOICES} choices per request.", param="n")
    # logprobs false / top_logprobs 0 ask for nothing: OpenGateLLM 0.4 clients send them by default
    if body.get("logprobs") not in (None, False) or body.get("top_logprobs") not in (None, 0):
        raise BadRequest("logprobs: not available on local models.", param="logprobs")
    if body.get("guided_regex"):
        raise BadRequest(
            "guided_regex: not supported by local models; constrain them with a GBNF grammar instead.",
            param="guided_regex",
        )
    if body.get("best_of") not in (None, 1):
        raise BadRequest("best_of: local models generate one candidate per request.", param="best_of")
    kwargs = {k: body[k] for k in _SAMPLING if body.get(k) is not None}
    bounds.sampling(kwargs)
    if body.get("logit_bias"):
        kwargs["logit_bias"] = bounds.logit_bias(body["logit_bias"], n_vocab)
    if not chat:
        for key in _COMPLETION_ONLY:
            if body.get(key) is not None:
                kwargs[key] = body[key]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        kwargs["max_tokens"] = bounds.max_tokens(max_tokens, n_ctx)
    elif not chat:
        kwargs["max_tokens"] = 16  # the OpenAI default for /v1/completions
    call = LlamaCall(kwargs, n=n)
    if body.get("grammar"):
        if not isinstance(body["grammar"], str):
            raise BadRequest("grammar: must be a GBNF grammar string.", param="grammar")
        call.grammars.append(body["grammar"])
        call.grammar = body["grammar"]
    if chat:
        _chat_options(body, call)
    return call


def _chat_options(body: dict[str, Any], call: LlamaCall) -> None:
    tools: list[dict[str, Any]] = body.get("tools") or []
    if body.get("functions") and not tools:  # the legacy form
        call.legacy_functions = True
        tools = [{"type": "function", "function": f} for f in body["functions"] if isinstance(f, dict)]
    names = tool_names(tools)
    choice = body.get("tool_choice")
    if choice is None and isinstance(body.get("function_call"), dict | str):
        legacy = body["function_call"]
        choice = {"type": "function", "function": legacy} if isinstance(legacy, dict) else legacy
    if tools and choice != "none":
        call.kwargs["tools"] = tools
    if tools and choice in (None, "auto"):
        call.auto_tools = names
    if choice == "required":
        call.grammars.append(required_tool_grammar(tools))
        call.required_tools = names
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        tool = next(t for t in tools if t["function"]["name"] == name)
        call.grammars.append(
            schema_grammar(tool["function"].get("parameters") or {"type": "object"}, "tools")
        )
        call.kwargs["tool_choice"] = {"type": "function", "function": {"name": name}}
    grammar = _response_format(body.get("response_format"))
    if grammar is not None and not call.grammars:
        call.grammars.append(grammar)
    if call.grammars and "tool_choice" not in call.kwargs:
        call.grammar = call.grammars[-1]


def single_prompt(prompt: Any, n_vocab: int) -> str | list[int]:
    """One text prompt or one list of token ids (checked against the vocabulary): local models answer
    one prompt per request."""
    if isinstance(prompt, str):
        return prompt
    if (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(t, int) and not isinstance(t, bool) for t in prompt)
    ):
        return bounds.token_ids(prompt, n_vocab, "prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        return single_prompt(prompt[0], n_vocab)
    raise BadRequest(
        "prompt: local models take one prompt per request (a string or a list of token ids).", param="prompt"
    )
