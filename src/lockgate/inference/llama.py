"""Chat and text completion with any GGUF model through llama-cpp-python."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from lockgate.errors import BadRequest
from lockgate.inference.worker import EngineWorker

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
    "logit_bias",
)
_CHAT_ONLY = ("tools", "tool_choice", "functions", "function_call")
_COMPLETION_ONLY = ("suffix", "echo")


@lru_cache(maxsize=64)
def _grammar(text: str):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def _response_format(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI's json_schema shape → llama-cpp-python's {"type": "json_object", "schema": ...}."""
    if not value or value.get("type") == "text":
        return None
    if value.get("type") == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
    if value.get("type") == "json_object":
        return {k: v for k, v in value.items() if k in {"type", "schema"}}
    raise BadRequest(
        "response_format.type: must be text, json_object or json_schema.", param="response_format"
    )


def build_kwargs(body: dict[str, Any], chat: bool) -> dict[str, Any]:
    """Translate an OpenAI/llama-cpp request body into llama-cpp-python keyword arguments."""
    if (body.get("n") or 1) > 1:
        raise BadRequest("n: local models generate one choice per request.", param="n")
    if body.get("logprobs") not in (None, False) or body.get("top_logprobs") is not None:
        raise BadRequest("logprobs: not available on local models.", param="logprobs")
    if body.get("guided_regex"):
        raise BadRequest(
            "guided_regex: not supported by local models; constrain them with a GBNF grammar instead.",
            param="guided_regex",
        )
    if body.get("best_of") not in (None, 1):
        raise BadRequest("best_of: local models generate one candidate per request.", param="best_of")
    kwargs = {k: body[k] for k in _SAMPLING if body.get(k) is not None}
    for key in _CHAT_ONLY if chat else _COMPLETION_ONLY:
        if body.get(key) is not None:
            kwargs[key] = body[key]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        kwargs["max_tokens"] = int(max_tokens)
    elif not chat:
        kwargs["max_tokens"] = 16  # the OpenAI default for /v1/completions
    if body.get("grammar"):
        if not isinstance(body["grammar"], str):
            raise BadRequest("grammar: must be a GBNF grammar string.", param="grammar")
        kwargs["grammar"] = _grammar(body["grammar"])
    if chat:
        response_format = _response_format(body.get("response_format"))
        if response_format:
            kwargs["response_format"] = response_format
    return kwargs


def _single_prompt(prompt: Any) -> str | list[int]:
    """One text prompt or one list of token ids: local models answer one prompt per request."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return prompt
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str | list):
        return _single_prompt(prompt[0])
    raise BadRequest("prompt: local models take one prompt per request.", param="prompt")


class LlamaEngine:
    def __init__(
        self, name: str, path: Path, n_ctx: int = 2048, chat_format: str | None = None, threads: int = 1
    ):
        self.name = name
        self.threads = threads  # llama.cpp's n_threads (and n_threads_batch)
        self.path = path
        self.n_ctx = n_ctx
        self.chat_format = chat_format
        self.worker = EngineWorker(name)
        self._llm = None
        self._valid_grammars: set[str] = set()

    def load(self) -> None:
        from llama_cpp import Llama

        self._llm = Llama(
            model_path=str(self.path),
            n_ctx=self.n_ctx,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            chat_format=self.chat_format,
            verbose=False,
        )

    @property
    def llm(self):
        if self._llm is None:
            raise RuntimeError(f"local model {self.name} is not loaded")
        return self._llm

    async def _call(self, fn, *args):
        try:
            return await self.worker.run(fn, *args)
        except ValueError as exc:  # llama-cpp-python's "exceeds context window" and friends
            raise BadRequest(str(exc)) from exc

    def _grammar_parses(self, text: str) -> bool:
        """llama.cpp crashes on a grammar it cannot parse: ask its parser first (it returns NULL)."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode(), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    async def _check_grammar(self, body: dict[str, Any]) -> None:
        text = body.get("grammar")
        if isinstance(text, str) and text not in self._valid_grammars:
            if not await self.worker.run(self._grammar_parses, text):
                raise BadRequest(
                    "grammar: not a valid GBNF grammar (it needs a `root` rule).", param="grammar"
                )
            if len(self._valid_grammars) < 256:
                self._valid_grammars.add(text)

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        kwargs = build_kwargs(body, chat=True)
        await self._check_grammar(body)
        async with self.worker.lock:
            return await self._call(
                lambda: self.llm.create_chat_completion(messages=body["messages"], **kwargs)
            )

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        kwargs = build_kwargs(body, chat=False)
        await self._check_grammar(body)
        prompt = _single_prompt(body["prompt"])
        async with self.worker.lock:
            return await self._call(lambda: self.llm.create_completion(prompt=prompt, **kwargs))

    async def chat_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        kwargs = build_kwargs(body, chat=True)
        await self._check_grammar(body)
        async with self.worker.lock:
            chunks = await self._call(
                lambda: self.llm.create_chat_completion(messages=body["messages"], stream=True, **kwargs)
            )
            async for chunk in self._drain(chunks):
                yield chunk

    async def completion_stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        kwargs = build_kwargs(body, chat=False)
        await self._check_grammar(body)
        prompt = _single_prompt(body["prompt"])
        async with self.worker.lock:
            chunks = await self._call(
                lambda: self.llm.create_completion(prompt=prompt, stream=True, **kwargs)
            )
            async for chunk in self._drain(chunks):
                yield chunk

    async def _drain(self, chunks: Iterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        """Step the generator in the engine thread; closing it (client gone) stops the generation."""
        try:
            while True:
                chunk = await self._call(next, chunks, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            await self.worker.run(chunks.close)

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return await self.worker.run(
            lambda: self.llm.tokenize(text.encode(), add_bos=add_special, special=True)
        )

    async def detokenize(self, tokens: list[int]) -> str:
        return await self.worker.run(lambda: self.llm.detokenize(tokens).decode("utf-8", errors="replace"))

    def close(self) -> None:
        self.worker.close()
        if self._llm is not None:
            self._llm.close()
