"""Checks on values before they reach native engines. llama.cpp aborts the whole process on some bad
inputs (an out-of-range token id throws std::out_of_range in C++, an assertion fails on a bad batch), and
ctypes raises on integers C cannot hold: everything a client sends is checked here first, and refused
with a 400 naming the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lockgate.errors import BadRequest

INT32_MAX = 2**31 - 1
SEED_MODULUS = 2**32  # llama.cpp seeds are 32-bit; OpenAI's are 64-bit: taken modulo


def token_ids(tokens: Any, n_vocab: int, param: str) -> list[int]:
    """`tokens` as a list of ids of a vocabulary of `n_vocab` tokens; 400 naming `param` otherwise."""
    if not isinstance(tokens, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in tokens
    ):
        raise BadRequest(f"{param}: must be a list of integer token ids.", param=param)
    for index, token in enumerate(tokens):
        if not 0 <= token < n_vocab:
            raise BadRequest(
                f"{param}[{index}]: token id {token} is outside this model's vocabulary [0, {n_vocab}).",
                param=param,
            )
    return tokens


def message_count(count: int, n_ctx: int) -> None:
    """400 on `messages` when there are more messages than tokens in the context window of `n_ctx`
    tokens: each message renders into at least one token, so such a list can never fit."""
    if count > n_ctx:
        raise BadRequest(
            f"messages: {count} messages cannot fit this model's context window of {n_ctx} tokens.",
            param="messages",
        )


def logit_bias(value: Any, n_vocab: int) -> dict[int, float]:
    """OpenAI's logit_bias ({"token id": bias in [-100, 100]}) checked against the vocabulary."""
    if not isinstance(value, Mapping):
        raise BadRequest("logit_bias: must be an object mapping token ids to biases.", param="logit_bias")
    checked: dict[int, float] = {}
    for key, bias in value.items():
        try:
            token = int(key)
        except (TypeError, ValueError):
            raise BadRequest(f"logit_bias: key {key!r} is not a token id.", param="logit_bias") from None
        if not 0 <= token < n_vocab:
            raise BadRequest(
                f"logit_bias: token id {token} is outside this model's vocabulary [0, {n_vocab}).",
                param="logit_bias",
            )
        if not isinstance(bias, int | float) or isinstance(bias, bool) or not -100 <= bias <= 100:
            raise BadRequest(
                f"logit_bias: the bias of token {token} must be a number in [-100, 100].", param="logit_bias"
            )
        checked[token] = float(bias)
    return checked


def sampling(kwargs: dict[str, Any]) -> None:
    """Bound the sampling options in place so none can overflow a C type or pick a missing sampler."""
    for name in ("top_k",):
        value = kwargs.get(name)
        if value is not None and (not _is_int(value) or not 0 <= value <= INT32_MAX):
            raise BadRequest(f"{name}: must be an integer in [0, {INT32_MAX}].", param=name)
    mode = kwargs.get("mirostat_mode")
    if mode is not None and mode not in (0, 1, 2):
        raise BadRequest("mirostat_mode: must be 0, 1 or 2.", param="mirostat_mode")
    if "seed" in kwargs:
        if not _is_int(kwargs["seed"]):
            raise BadRequest("seed: must be an integer.", param="seed")
        kwargs["seed"] %= SEED_MODULUS
    for name in (
        "temperature",
        "top_p",
        "min_p",
        "typical_p",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "tfs_z",
        "mirostat_tau",
        "mirostat_eta",
    ):
        value = kwargs.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise BadRequest(f"{name}: must be a finite number.", param=name)
    stop = kwargs.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise BadRequest("stop: must be a string or a list of strings.", param="stop")


def max_tokens(value: Any, n_ctx: int) -> int:
    if not _is_int(value) or value < 1:
        raise BadRequest("max_tokens: must be a positive integer.", param="max_tokens")
    # llama.cpp stops at the context's end anyway: no larger value is meaningful
    return min(int(value), n_ctx)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# llama.cpp parses and samples GBNF recursively on the thread's stack: 30,000 nested groups, or a chain
# of ~100,000 rules, overflow it and the whole process dies (SIGSEGV, measured on an 8 MiB stack).
# Real grammars, those made from JSON schemas included, stay far below these bounds.
GRAMMAR_MAX_CHARS = 256 * 1024
GRAMMAR_MAX_RULES = 2_000
GRAMMAR_MAX_NESTING = 128


def grammar_shape(text: str, param: str) -> None:
    """400 naming `param` for a GBNF text larger or deeper than llama.cpp can parse safely."""
    if len(text) > GRAMMAR_MAX_CHARS:
        raise BadRequest(f"{param}: grammar longer than {GRAMMAR_MAX_CHARS} characters.", param=param)
    if text.count("::=") > GRAMMAR_MAX_RULES:
        raise BadRequest(f"{param}: grammar with more than {GRAMMAR_MAX_RULES} rules.", param=param)
    if _nesting(text) > GRAMMAR_MAX_NESTING:
        raise BadRequest(
            f"{param}: grammar groups nested deeper than {GRAMMAR_MAX_NESTING} levels.", param=param
        )


def _nesting(text: str) -> int:
    """Deepest `( ... )` nesting outside string literals, character classes and comments."""
    depth = deepest = 0
    quote: str | None = None  # '"' inside a literal, "]" inside a character class
    escaped = comment = False
    for char in text:
        if comment:
            comment = char != "\n"
        elif quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char == "#":
            comment = True
        elif char == '"':
            quote = '"'
        elif char == "[":
            quote = "]"
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest
