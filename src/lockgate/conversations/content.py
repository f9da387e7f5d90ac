"""Model calls on text a client sends (h2oGPTe `summarize_content`, `extract_data`) and on stored
documents (`process_document`): through the gateway, so limits, usage and carbon apply as to any
chat call. Long inputs are summarised batch by batch, then the summaries, until one prompt holds all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lockgate.accounting.service import CallContext
from lockgate.conversations import prompts as P
from lockgate.errors import InvalidRequest, UpstreamBadGateway
from lockgate.gateway.request import read_chat
from lockgate.gateway.service import GatewayService

EXTRACT_PROMPT = "Extract the information asked for from the text above. "


@dataclass(slots=True)
class ModelAnswer:
    """What a model wrote, with the model's name, the tokens used and the last prompt sent."""

    llm: str
    content: str = ""
    parts: list[str] = field(default_factory=list)  # extraction: one answer per input text
    input_tokens: int = 0
    output_tokens: int = 0
    prompt_raw: str = ""


class ContentService:
    def __init__(self, gateway: GatewayService):
        self._gateway = gateway

    def model(self, name: str | None) -> str:
        """The model to call: `name`, or the default chat model for None or "auto"."""
        if name not in (None, "", "auto"):
            return str(name)
        model = self._gateway.registry.default_chat_model()
        if model is None:
            raise UpstreamBadGateway("No chat model is configured.")
        return model

    async def summarize(
        self,
        ctx: CallContext,
        llm: str | None,
        texts: Sequence[str | None],
        prompts: dict[str, Any],
        llm_args: dict[str, Any],
    ) -> ModelAnswer:
        """One summary of all `texts` (recursive when they do not fit one prompt). `prompts` may set
        system_prompt, pre_prompt_summary and prompt_summary; unset ones take the defaults."""
        left = _non_empty(texts)
        merged = P.merged_prompts(prompts)
        answer = ModelAnswer(self.model(llm))
        while True:
            n = P.fit(left)
            batch, left = "\n\n".join(left[:n]), left[n:]
            summary = await self._ask(ctx, answer, merged, P.summary_prompt(merged, batch, ""), llm_args)
            if not left:
                answer.content = summary
                return answer
            left = [summary, *left]

    async def extract(
        self,
        ctx: CallContext,
        llm: str | None,
        texts: list[str],
        prompts: dict[str, Any],
        llm_args: dict[str, Any],
    ) -> ModelAnswer:
        """One answer per text (map): `pre_prompt_extract` before each text, `prompt_extract` after."""
        texts = _non_empty(texts)
        merged = P.merged_prompts(prompts)
        before = prompts.get("pre_prompt_extract") or ""
        after = prompts.get("prompt_extract") or EXTRACT_PROMPT
        answer = ModelAnswer(self.model(llm))
        for text in texts:
            user = f'{before}"""\n{text}\n"""\n{after}'
            answer.parts.append(await self._ask(ctx, answer, merged, user, llm_args))
        return answer

    async def answer(
        self,
        ctx: CallContext,
        llm: str | None,
        question: str,
        texts: list[str],
        prompts: dict[str, Any],
        history: list[tuple[str, str]],
        llm_args: dict[str, Any],
    ) -> ModelAnswer:
        """h2oGPTe `answer_question`: the question alone, or after the texts as context (as many as
        fit the prompt, in order, between `pre_prompt_query` and `prompt_query`), following the
        earlier (question, answer) turns of `history`."""
        merged = P.merged_prompts(prompts)
        texts = [t for t in texts if t]
        user = P.rag_prompt(merged, "\n\n".join(texts[: P.fit(texts)]), question) if texts else question
        answer = ModelAnswer(self.model(llm))
        answer.content = await self._ask(ctx, answer, merged, user, llm_args, history)
        return answer

    async def _ask(
        self,
        ctx: CallContext,
        answer: ModelAnswer,
        prompts: dict[str, Any],
        user: str,
        llm_args: dict[str, Any],
        history: list[tuple[str, str]] | None = None,
    ) -> str:
        system = prompts.get("system_prompt") or ""
        messages = P.messages_for("" if system == "auto" else system, history or [], user)
        call = CallContext(ctx.principal, ctx.endpoint, ctx.method)  # one usage record per model call
        reply = await self._gateway.generate(call, read_chat(P.chat_body(answer.llm, llm_args, messages)))
        answer.input_tokens += reply.usage.prompt_tokens
        answer.output_tokens += reply.usage.completion_tokens
        answer.prompt_raw = P.render_raw(messages)
        return (reply.answer["choices"][0]["message"].get("content") or "").strip()


def _nonempty(texts: list[str]) -> list[str]:
    found = [t for t in texts if t]
    if not found:
        raise InvalidRequest(
            "text_context_list: give at least one non-empty text.", param="text_context_list"
        )
    return found


def _non_empty(texts: Sequence[str | None]) -> list[str]:
    """The texts to summarize or extract from; 400 naming the field when none has content."""
    kept = [t for t in texts if t]
    if not kept:
        raise InvalidRequest(
            "text_context_list: give at least one non-empty text.", param="text_context_list"
        )
    return kept
