"""One h2oGPTe answer: read the session (short transaction, the question is stored), retrieve and call
the gateway with no transaction open, then store the answer, its meta and its references (another
short transaction). References are exactly the chunks that were laid into the prompt."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from lockgate.accounting.service import CallContext
from lockgate.conversations import prompts as P
from lockgate.conversations import repository
from lockgate.conversations.models import ChatMessage, MessageReference
from lockgate.conversations.service import ConversationService
from lockgate.errors import AppError, UpstreamBadGateway
from lockgate.gateway.events import ErrorEvent, UsageEvent
from lockgate.gateway.request import read_chat
from lockgate.gateway.service import GatewayService
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.rag.service import RagService

HISTORY_TURNS = 2
CUT_SHORT = "The client went away before the answer was complete."
ALL_DATA_CHUNKS = 64


@dataclass(slots=True)
class Used:
    """A chunk laid into a prompt."""

    chunk_id: int
    document_id: int
    collection_id: int
    score: float
    page: Any
    content: str


@dataclass(slots=True)
class Run:
    """What one answer accumulated: prompts sent, usage, meta and the chunks used."""

    model: str
    llm_args: dict[str, Any]
    prompts: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 0, "output_tokens": 0})
    meta: dict[str, str] = field(default_factory=dict)
    used: list[Used] = field(default_factory=list)
    on_delta: Callable[[str], Awaitable[None]] | None = None  # set when the answer is streamed
    streamed: list[str] = field(default_factory=list)  # what was streamed so far (kept if cut short)


class CompletionService:
    def __init__(
        self, db: Database, rag: RagService, gateway: GatewayService, conversations: ConversationService
    ):
        self._db = db
        self._rag = rag
        self._gateway = gateway
        self._conversations = conversations

    def default_llm(self) -> str:
        model = self._gateway.registry.default_chat_model()
        if model is None:
            raise UpstreamBadGateway("No chat model is configured.")
        return model

    async def complete(
        self,
        ctx: CallContext,
        session_id: int,
        request: dict[str, Any],
        on_delta: Callable[[str], Awaitable[None]] | None = None,
        on_question: Callable[[int], Awaitable[None]] | None = None,
    ) -> tuple[int, str]:
        """Answer `request["message"]` in the session: (the answer's message id, its text).
        `on_question` gets the stored question's id before the model is called; `on_delta` each piece
        of the final answer as it arrives. Cancelled mid-answer (the client went away), the answer is
        stored with what was streamed and an error, the model calls made so far are metered, and the
        cancellation goes on."""
        rag_config = dict(request.get("rag_config") or {})
        async with self._db.transaction() as session:
            chat = await self._conversations.owned(session, ctx.principal, session_id)
            collection_id, session_template_id = chat.collection_id, chat.prompt_template_id
        if collection_id is not None:  # still readable? (a share may have been withdrawn since)
            await self._rag.get_collection(ctx.principal, collection_id)
        async with self._db.transaction() as session:
            kind = P.rag_type(rag_config, collection_id is not None)
            collection = await repository.collection(session, collection_id) if collection_id else None
            layers = [
                await repository.template_prompts(
                    session, collection.prompt_template_id if collection else None
                ),
                await repository.template_prompts(session, session_template_id),
                {k: request.get(k) for k in ("system_prompt", "pre_prompt_query", "prompt_query")},
                {k: rag_config.get(k) for k in ("hyde_no_rag_llm_prompt_extension",)},
            ]
            if collection_id is not None and request.get("tags"):
                rag_config["document_ids"] = await self._tagged(session, collection_id, request["tags"])
            if collection_id is not None and request.get("metadata_filter"):
                matched = await repository.documents_with_metadata(
                    session, collection_id, request["metadata_filter"]
                )
                tagged = rag_config.get("document_ids")
                rag_config["document_ids"] = matched if tagged is None else sorted(set(tagged) & set(matched))
            history = await self._history(session, session_id, request.get("include_chat_history"))
            llm_args = dict(request.get("llm_args") or {})
            question = await repository.add_message(
                session,
                ChatMessage(session_id=session_id, content=request["message"], llm_args=llm_args, meta={}),
            )
            question_id = question.id
        llm = request.get("llm")
        run = Run(llm if llm not in (None, "", "auto") else self.default_llm(), llm_args, on_delta=on_delta)
        prompts = P.merged_prompts(*layers)
        started = time.monotonic()
        try:
            if on_question is not None:
                await on_question(question_id)
            text = await self._answer(
                ctx, run, kind, prompts, history, request["message"], collection_id, rag_config
            )
            reflection = request.get("self_reflection_config") or {}
            if reflection.get("llm_reflection"):
                await self._reflect(ctx, run, prompts, reflection, text)
            error = None
        except AppError as exc:
            text, error, failure = "", exc.message, exc
        except Exception as exc:  # an engine failing in an unexpected way is still the upstream's failure
            text, error, failure = "", str(exc), UpstreamBadGateway(f"The model failed: {exc}")
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                self._usage_meta(run, started)
                await self._store(session_id, question_id, run, "".join(run.streamed), CUT_SHORT, kind)
            raise
        self._usage_meta(run, started)
        answer_id = await self._store(session_id, question_id, run, text, error, kind)
        if error is not None:
            raise failure
        return answer_id, text

    @staticmethod
    def _usage_meta(run: Run, started: float) -> None:
        run.meta["usage_stats"] = json.dumps(
            {
                **run.usage,
                "llm": run.model,
                "response_time": round(time.monotonic() - started, 3),
                "cost": 0.0,
            }
        )

    @staticmethod
    async def _tagged(session, collection_id: int, tags: Any) -> list[int]:
        """h2oGPTe `tags`: a list of tag names (documents with any of them), {include, exclude}, or
        {document_ids} (those documents' copies in the collection; the tags are then ignored)."""
        if isinstance(tags, dict) and tags.get("document_ids"):
            return await repository.copies_in(session, collection_id, tags["document_ids"])
        if isinstance(tags, dict):
            include, exclude = tags.get("include"), tags.get("exclude")
        else:
            include, exclude = list(tags), None
        return await repository.tagged_documents(session, collection_id, include, exclude)

    async def _history(self, session, session_id: int, include: Any) -> list[tuple[str, str]]:
        if include in ("off", False, "false"):  # the spec says on/off/auto, the client true/false/auto
            return []
        found = await repository.list_messages(session, session_id)
        questions = {m.id: m.content for m in found if m.reply_to is None}
        pairs = [(questions[m.reply_to], m.content) for m in found if m.reply_to in questions and not m.error]
        return [(q[:500], a[:500]) for q, a in pairs[-HISTORY_TURNS:]]

    async def _generate(
        self, ctx: CallContext, run: Run, system: str, history, user: str, record=True, final=False
    ) -> str:
        messages = P.messages_for(system, history, user)
        call = CallContext(ctx.principal, ctx.endpoint, ctx.method)  # one usage record per model call
        body = P.chat_body(run.model, run.llm_args, messages)
        if record:
            run.prompts.append(P.render_raw(messages))
        if final and run.on_delta is not None:
            return await self._stream(call, run, body)
        answer = await self._gateway.generate(call, read_chat(body))
        run.usage["input_tokens"] += answer.usage.prompt_tokens
        run.usage["output_tokens"] += answer.usage.completion_tokens
        return (answer.answer["choices"][0]["message"].get("content") or "").strip()

    async def _stream(self, call: CallContext, run: Run, body: dict[str, Any]) -> str:
        """The final answer streamed: each piece goes to `run.on_delta` as it arrives."""
        parts: list[str] = []
        async for event in await self._gateway.generate_stream(call, read_chat({**body, "stream": True})):
            if isinstance(event, ErrorEvent):
                raise UpstreamBadGateway(event.message)
            if isinstance(event, UsageEvent):
                run.usage["input_tokens"] += event.usage.prompt_tokens
                run.usage["output_tokens"] += event.usage.completion_tokens
                continue
            for choice in event.payload.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    parts.append(piece)
                    run.streamed.append(piece)
                    await run.on_delta(piece)
        return "".join(parts).strip()

    async def _answer(
        self, ctx, run: Run, kind: str, prompts, history, message: str, collection_id, rag_config
    ) -> str:
        system = prompts["system_prompt"]
        if kind == "llm_only":
            return await self._generate(ctx, run, system, history, message, final=True)
        if kind == "all_data":
            return await self._all_data(ctx, run, prompts, message, collection_id, rag_config)
        query = message
        if kind in ("hyde1", "hyde2"):
            guess = await self._generate(
                ctx, run, system, [], message + prompts["hyde_no_rag_llm_prompt_extension"]
            )
            run.meta["llm_only"] = guess
            run.meta["hyde1"] = guess
            query = f"{message} {guess}"
        if kind == "hyde2":
            hits = await self._retrieve(ctx, query, collection_id, rag_config, neighbours=False)
            first = await self._generate(
                ctx, run, system, [], P.rag_prompt(prompts, self._context(hits), message)
            )
            run.meta["hyde2"] = first
            query = f"{message} {first}"
        hits = await self._retrieve(ctx, query, collection_id, rag_config, neighbours=kind == "rag+")
        include = dict(rag_config.get("meta_data_to_include") or {})
        texts = [await self._label(h, include) for h in hits]
        n = P.fit(texts)
        run.used = hits[:n]
        return await self._generate(
            ctx, run, system, history, P.rag_prompt(prompts, "\n\n".join(texts[:n]), message), final=True
        )

    def _context(self, hits: list[Used]) -> str:
        texts = [h.content for h in hits]
        return "\n\n".join(texts[: P.fit(texts)])

    async def _label(self, hit: Used, include: dict[str, Any]) -> str:
        if not include.get("name") and not include.get("page"):
            return hit.content
        async with self._db.transaction() as session:
            names = await repository.document_names(session, {hit.document_id})
        return P.chunk_text(hit.content, names.get(hit.document_id, ""), hit.page, include)

    async def _retrieve(
        self, ctx, query: str, collection_id: int, rag_config, neighbours: bool
    ) -> list[Used]:
        limit = int(rag_config.get("rag_max_chunks") or 0)
        limit = limit if limit > 0 else 4
        min_score = rag_config.get("rag_min_chunk_score")
        method = "semantic" if min_score is not None else "hybrid"
        documents = rag_config.get("document_ids")
        if documents is not None and not documents:
            return []  # the tags leave no document
        search_ctx = CallContext(ctx.principal, "/v1/search", ctx.method)
        hits, _ = await self._rag.search(
            search_ctx,
            query,
            method,
            [collection_id],
            document_ids=documents,
            limit=limit,
            score_threshold=float(min_score or 0.0),
        )
        used = [Used(c.id, c.document_id, c.collection_id, float(s), c.page, c.content) for _, s, c in hits]
        if neighbours and used:
            async with self._db.transaction() as session:
                extra = await repository.neighbour_chunks(session, [u.chunk_id for u in used])
            scores = {u.document_id: u.score for u in used}
            used += [
                Used(
                    c.id,
                    c.document_id,
                    c.collection_id,
                    scores.get(c.document_id, 0.0) / 2,
                    c.page,
                    c.content,
                )
                for c in extra
            ]
        return used

    async def _all_data(self, ctx, run: Run, prompts, message: str, collection_id: int, rag_config) -> str:
        """Recursive summarisation: summarise the collection batch by batch, then the summaries, until
        one prompt holds everything; that last prompt answers the question."""
        async with self._db.transaction() as session:
            chunks = await repository.collection_chunks(
                session, collection_id, ALL_DATA_CHUNKS, rag_config.get("document_ids")
            )
        run.used = [Used(c.id, c.document_id, c.collection_id, 1.0, c.page, c.content) for c in chunks]
        texts = [c.content for c in chunks]
        while len(texts) > P.fit(texts):
            batches: list[str] = []
            while texts:
                n = P.fit(texts)
                batches.append("\n\n".join(texts[:n]))
                texts = texts[n:]
            texts = [
                await self._generate(ctx, run, "", [], P.summary_prompt(prompts, batch, message))
                for batch in batches
            ]
        return await self._generate(
            ctx,
            run,
            prompts["system_prompt"],
            [],
            P.summary_prompt(prompts, "\n\n".join(texts), message),
            final=True,
        )

    async def _reflect(self, ctx, run: Run, prompts, config: dict[str, Any], text: str) -> None:
        template = config.get("prompt_reflection") or prompts["prompt_reflection"]
        last = run.prompts[-1] if run.prompts else ""
        user = template % (last, text) if template.count("%s") == 2 else f"{template}\n\n{last}\n\n{text}"
        reflector = Run(config["llm_reflection"], dict(config.get("llm_args_reflection") or run.llm_args))
        system = config.get("system_prompt_reflection") or prompts["system_prompt_reflection"]
        run.meta["self_reflection"] = json.dumps(
            {"reflection": await self._generate(ctx, reflector, system, [], user), "llm": reflector.model}
        )
        run.usage["input_tokens"] += reflector.usage["input_tokens"]
        run.usage["output_tokens"] += reflector.usage["output_tokens"]

    async def _store(self, session_id: int, question_id: int, run: Run, text: str, error, kind: str) -> int:
        run.meta["prompt_raw"] = "\n\n-----\n\n".join(run.prompts)
        run.meta["rag_type"] = kind
        async with self._db.transaction() as session:
            answer = await repository.add_message(
                session,
                ChatMessage(
                    session_id=session_id,
                    reply_to=question_id,
                    content=text,
                    error=error,
                    llm=run.model,
                    llm_args=run.llm_args,
                    meta=run.meta,
                ),
            )
            names = await repository.document_names(session, {u.document_id for u in run.used})
            await repository.add_references(
                session,
                [
                    MessageReference(
                        message_id=answer.id,
                        chunk_id=u.chunk_id,
                        document_id=u.document_id,
                        collection_id=u.collection_id,
                        document_name=names.get(u.document_id, ""),
                        score=u.score,
                        pages=str(u.page) if u.page is not None else "",
                        content=u.content,
                    )
                    for u in run.used
                ],
            )
            await repository.touch_session(session, session_id, now_ts())
            return answer.id

    async def questions(self, ctx: CallContext, session_id: int, limit: int) -> list[str]:
        """Suggested follow-up questions: the template's defaults, else asked of the model."""
        async with self._db.transaction() as session:
            chat = await self._conversations.owned(session, ctx.principal, session_id)
            prompts = await repository.template_prompts(session, chat.prompt_template_id)
            found = await repository.list_messages(session, session_id)
        if prompts.get("default_sample_questions"):
            return list(prompts["default_sample_questions"])[:limit]
        last = "\n\n".join(m.content for m in found[-2:]) or "(no conversation yet)"
        user = f"Conversation:\n{last[:2000]}\n\nWrite {limit} short follow-up questions, one per line."
        run = Run(self.default_llm(), {"max_new_tokens": 24 * limit, "temperature": 0})
        text = await self._generate(ctx, run, "", [], user)
        lines = [line.strip(" -*0123456789.)\t") for line in text.splitlines()]
        return [line for line in lines if len(line) > 3][:limit]
