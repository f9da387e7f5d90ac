"""Chat and text completion with any GGUF model through llama-cpp-python.

Every value a request carries is checked before llama.cpp sees it (`llama_request`, `bounds`): some bad
values abort the process from C++ rather than raise. What still fails inside the engine is a 400 when
the request is the cause (ValueError, a template refusing the conversation) or a 503 for that request."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from contextlib import aclosing
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from lockgate.errors import AppError, BadRequest, UpstreamError
from lockgate.inference import bounds, tool_calls
from lockgate.inference.llama_request import LlamaCall, build_call, single_prompt
from lockgate.inference.messages import for_template, parse_messages
from lockgate.inference.stops import StopMatcher
from lockgate.inference.worker import EngineWorker

log = logging.getLogger("lockgate.inference")

T = TypeVar("T")


class EngineFailed(UpstreamError):
    """A local engine failed on a request that passed every check: 503 for that request only."""

    status_code = 503
    code = "local_engine_error"


@dataclass(frozen=True, slots=True)
class StreamUsage:
    """The last item of an engine stream: tokens read and generated, summed over its choices."""

    prompt_tokens: int
    completion_tokens: int


@lru_cache(maxsize=64)
def _grammar(text: str) -> Any:  # a llama_cpp LlamaGrammar
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(text, verbose=False)


def _merge(answers: list[dict[str, Any]]) -> dict[str, Any]:
    """n answers of one prompt as one answer with n choices (the prompt counted once)."""
    merged = answers[0]
    merged["choices"] = [{**answer["choices"][0], "index": index} for index, answer in enumerate(answers)]
    completion = sum(a["usage"]["completion_tokens"] for a in answers)
    prompt = merged["usage"]["prompt_tokens"]
    merged["usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return merged


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
        self.n_vocab = 0
        self.template: str | None = None  # the GGUF's Jinja chat template, when that is what renders
        self._llm: Any = None  # a llama_cpp Llama once loaded (its methods return untyped dicts)
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
        self.n_vocab = self._llm.n_vocab()
        if self._llm.chat_format == "chat_template.default":
            self.template = self._llm.metadata.get("tokenizer.chat_template")

    @property
    def llm(self) -> Any:
        if self._llm is None:
            raise RuntimeError(f"local model {self.name} is not loaded")
        return self._llm

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await self.worker.run(fn, *args)
        except AppError:
            raise
        except ValueError as exc:  # llama-cpp-python's "exceeds context window" and friends
            raise BadRequest(str(exc)) from exc
        except Exception as exc:
            import jinja2

            if isinstance(exc, jinja2.TemplateError):  # the chat template refused the conversation
                raise BadRequest(
                    f"messages: this model's chat template refused them ({exc}).", param="messages"
                ) from exc
            log.exception("local engine failure", extra={"engine": self.name})
            raise EngineFailed(f"Local model {self.name} failed on this request.") from exc

    def _grammar_parses(self, text: str) -> bool:
        """llama.cpp crashes on a grammar it cannot parse: ask its parser first (it returns NULL)."""
        import llama_cpp

        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode(), b"root")
        if not sampler:
            return False
        llama_cpp.llama_sampler_free(sampler)
        return True

    async def _prepare(self, body: dict[str, Any], chat: bool) -> LlamaCall:
        call = build_call(body, chat, self.n_vocab, self.n_ctx)
        for text in call.grammars:
            if text in self._valid_grammars:
                continue
            param = (
                "grammar"
                if text == body.get("grammar")
                else "tools"
                if call.kwargs.get("tools")
                else "response_format"
            )
            bounds.grammar_shape(text, param)  # before llama.cpp's recursive parser sees it
            if not await self.worker.run(self._grammar_parses, text):
                raise BadRequest(f"{param}: not a valid GBNF grammar (it needs a `root` rule).", param=param)
            if len(self._valid_grammars) < 256:
                self._valid_grammars.add(text)
        return call

    @property
    def knows_tools(self) -> bool:
        """Whether the chat template (or format) shows the model its tools itself."""
        if self.template is not None:
            return "tools" in self.template
        return (self.chat_format or "").startswith(("functionary", "chatml-function-calling"))

    def _messages(self, body: dict[str, Any], call: LlamaCall) -> list[dict[str, Any]]:
        messages = parse_messages(body.get("messages"))
        # Every message renders into at least one token, and the chat template's rendering time grows
        # faster than the message count (50,000 messages held the model for minutes before its 400).
        bounds.message_count(len(messages), self.n_ctx)
        rendered = for_template(messages, self.template)
        if call.kwargs.get("tools") and not self.knows_tools:
            return tool_calls.with_tools_prompt(rendered, call.kwargs["tools"])
        return rendered

    def _kwargs(self, call: LlamaCall) -> dict[str, Any]:
        kwargs = dict(call.kwargs)
        if call.grammar is not None:
            kwargs["grammar"] = _grammar(call.grammar)
        return kwargs

    def _chat_once(self, messages: list[dict[str, Any]], call: LlamaCall) -> dict[str, Any]:
        answer: dict[str, Any] = self.llm.create_chat_completion(messages=messages, **self._kwargs(call))
        if not call.legacy_functions:
            _drop_function_call(answer, "message")
        if call.required_tools:
            return tool_calls.forced_call(answer)
        if call.auto_tools:
            return tool_calls.answer_with_calls(answer, call.auto_tools)
        return answer

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        call = await self._prepare(body, chat=True)
        messages = self._messages(body, call)
        kwargs = self._kwargs(call)
        if not call.required_tools and (stops := _own_stops(kwargs)):
            opener = lambda: self.llm.create_chat_completion(messages=messages, stream=True, **kwargs)  # noqa: E731
            async with self.worker.lock, aclosing(self._choices(opener, call.n, stops)) as items:
                return _answer_of([item async for item in items])
        async with self.worker.lock:
            return _merge([await self._call(self._chat_once, messages, call) for _ in range(call.n)])

    async def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        call = await self._prepare(body, chat=False)
        prompt = single_prompt(body.get("prompt"), self.n_vocab)
        kwargs = self._kwargs(call)
        async with self.worker.lock:
            answers = [
                await self._call(lambda: self.llm.create_completion(prompt=prompt, **kwargs))
                for _ in range(call.n)
            ]
        return _merge(answers)

    async def chat_stream(self, body: dict[str, Any]) -> AsyncGenerator[dict[str, Any] | StreamUsage, None]:
        """Chunks of each choice in turn (choice index set), then one StreamUsage."""
        call = await self._prepare(body, chat=True)
        messages = self._messages(body, call)
        async with self.worker.lock:
            if call.required_tools:  # the call is parsed whole, then sent as one delta
                prompt = completion = 0
                for index in range(call.n):
                    answer = await self._call(self._chat_once, messages, call)
                    for chunk in tool_calls.forced_call_chunks(answer, index):
                        yield chunk
                    prompt = answer["usage"]["prompt_tokens"]
                    completion += answer["usage"]["completion_tokens"]
                yield StreamUsage(prompt, completion)
                return
            kwargs = self._kwargs(call)
            stops = _own_stops(kwargs)
            opener = lambda: self.llm.create_chat_completion(messages=messages, stream=True, **kwargs)  # noqa: E731
            calls = tool_calls.StreamCalls(call.auto_tools) if call.auto_tools else None
            named: set[tuple[int, int]] = set()  # (choice, call) whose id and name went out
            async with aclosing(self._choices(opener, call.n, stops)) as items:  # closed inside the lock
                async for item in items:
                    if isinstance(item, dict):
                        if not call.legacy_functions:
                            _drop_function_call(item, "delta")
                        tool_calls.name_once(item, named)
                    if calls is None or not isinstance(item, dict):
                        yield item
                        continue
                    for chunk in calls.rewrite(item):
                        yield chunk

    async def completion_stream(
        self, body: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any] | StreamUsage, None]:
        call = await self._prepare(body, chat=False)
        prompt = single_prompt(body.get("prompt"), self.n_vocab)
        kwargs = self._kwargs(call)
        async with self.worker.lock:
            opener = lambda: self.llm.create_completion(prompt=prompt, stream=True, **kwargs)  # noqa: E731
            async with aclosing(self._choices(opener, call.n)) as items:
                async for item in items:
                    yield item

    async def _choices(
        self,
        opener: Callable[[], Generator[dict[str, Any], None, None]],
        n: int,
        stops: list[str] | None = None,
    ) -> AsyncGenerator[dict[str, Any] | StreamUsage, None]:
        """With `stops`, the stop sequences are matched here (not by llama.cpp), so the finishing
        chunk can name the one that stopped it (`stop_reason`, as vLLM does)."""
        prompt = completion = 0
        for index in range(n):
            produced = 0
            finish = None
            matcher = StopMatcher(stops) if stops else None
            async with aclosing(self._drain(await self._call(opener))) as chunks:
                async for chunk in chunks:
                    choice = (chunk.get("choices") or [{}])[0]
                    choice["index"] = index
                    delta = choice.get("delta") or {}
                    if delta.get("content") or delta.get("tool_calls") or choice.get("text"):
                        produced += 1  # llama.cpp streams one token per chunk (a named tool's too)
                    finish = choice.get("finish_reason") or finish
                    if matcher is not None and not _stopped(choice, matcher):
                        continue  # held back: it may be the start of a stop sequence
                    yield chunk
                    if matcher is not None and matcher.matched is not None:
                        break  # closing the generator stops the generation
            # The context holds the prompt and every generated token fed back; the last one sampled is
            # not fed back when the generation stops on max_tokens or on a stop sequence found here.
            processed = await self.worker.run(lambda: self.llm.n_tokens)
            cut = finish == "length" or (matcher is not None and matcher.matched is not None)
            prompt = max(0, processed - produced + (1 if cut else 0))
            completion += produced
        yield StreamUsage(prompt, completion)

    async def _drain(
        self, chunks: Generator[dict[str, Any], None, None]
    ) -> AsyncGenerator[dict[str, Any], None]:
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
        """Text of token ids; 400 for an id outside the vocabulary (llama.cpp would abort the process)."""
        bounds.token_ids(tokens, self.n_vocab, "tokens")
        return await self._call(lambda: self.llm.detokenize(tokens).decode("utf-8", errors="replace"))

    def close(self) -> None:
        self.worker.close()
        if self._llm is not None:
            self._llm.close()


def _drop_function_call(answer: dict[str, Any], part: str) -> None:
    """llama-cpp-python adds the deprecated `function_call` beside a named tool's call (in each
    choice's `message`, or `delta` when streamed); OpenAI sends it only to requests that used
    `functions`."""
    for choice in answer.get("choices") or []:
        (choice.get(part) or {}).pop("function_call", None)


def _own_stops(kwargs: dict[str, Any]) -> list[str] | None:
    """The stop sequences this engine matches itself (taken out of `kwargs`): not beside tools or
    logprobs, which llama-cpp-python's own handling keeps consistent."""
    stop = kwargs.get("stop")
    if not stop or kwargs.get("tools") or kwargs.get("logprobs") or kwargs.get("top_logprobs"):
        return None
    del kwargs["stop"]
    return [stop] if isinstance(stop, str) else list(stop)


def _stopped(choice: dict[str, Any], matcher: StopMatcher) -> bool:
    """Pass a chunk's text through the matcher (in place): whether the chunk is still worth sending
    (it has text, another field of note, or it finishes the choice)."""
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        return True
    had = bool(delta.get("content"))
    released = matcher.feed(delta.get("content") or "")
    if matcher.matched is not None:
        choice["finish_reason"], choice["stop_reason"] = "stop", matcher.matched
    elif choice.get("finish_reason"):
        released += matcher.flush()
    if had or released:
        delta["content"] = released
    return bool(released) or not had or choice.get("finish_reason") is not None


def _answer_of(items: list[dict[str, Any] | StreamUsage]) -> dict[str, Any]:
    """A streamed generation's chunks (then its StreamUsage) as one chat.completion."""
    chunks = [i for i in items if isinstance(i, dict)]
    usage = next(i for i in items if isinstance(i, StreamUsage))
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for part in chunk.get("choices") or ():
            choice = choices.setdefault(
                part["index"],
                {
                    "index": part["index"],
                    "message": {"role": "assistant", "content": ""},
                    "logprobs": None,
                    "finish_reason": None,
                },
            )
            choice["message"]["content"] += (part.get("delta") or {}).get("content") or ""
            choice["finish_reason"] = part.get("finish_reason") or choice["finish_reason"]
            if part.get("stop_reason"):
                choice["stop_reason"] = part["stop_reason"]
    first = chunks[0] if chunks else {}
    return {
        "id": first.get("id", f"chatcmpl-{uuid.uuid4()}"),
        "object": "chat.completion",
        "created": first.get("created", int(time.time())),
        "model": first.get("model"),
        "choices": [choices[i] for i in sorted(choices)],
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        },
    }
