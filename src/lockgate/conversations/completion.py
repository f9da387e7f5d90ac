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
from sqlalchemy.ext.asyncio import AsyncSession

from lockgate.accounting.service import CallContext
from lockgate.conversations import prompts as P
from lockgate.conversations import repository
from lockgate.conversations.access import owned_session
from lockgate.conversations.grounding import Grounding
from lockgate.conversations.models import ChatMessage, MessageReference
from lockgate.conversations.schemas import Answer, AnswerRequest, RagType, Reflection, Retrieval, TagFilter
from lockgate.errors import AppError, UpstreamBadGateway
from lockgate.gateway.events import ErrorEvent, UsageEvent
from lockgate.kit.clock import now_ts
from lockgate.kit.db import Database
from lockgate.rag.access import readable_collection
from lockgate.rag.schemas import SearchQuery

HISTORY_TURNS = 2
CUT_SHORT = "The client went away before the answer was complete."
ALL_DATA_CHUNKS = 64


@dataclass(frozen=True, slots=True)
class Used:
    """A chunk laid into a prompt."""

    chunk_id: int
    document_id: int
    collection_id: int
    score: float
    page: int | None  # 1-based page of a paged file
    content: str


@dataclass(frozen=True, slots=True)
class Turn:
    """One question as the first transaction stored and read it: what the answer needs."""

    session_id: int
    question_id: int
    message: str
    collection_id: int | None
    kind: RagType  # resolved: never AUTO
    prompts: dict[str, Any]  # the defaults under the collection's and session's templates and the request
    history: list[tuple[str, str]]  # (question, answer) of the last turns, when asked for
    document_ids: list[int] | None  # the documents the tags leave, None when no tags were given


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
    def __init__(self, db: Database, grounding: Grounding):
        self._db = db
        self._grounding = grounding  # every search and model call of an answer goes through it

    async def complete(
        self,
        ctx: CallContext,
        session_id: int,
        request: AnswerRequest,
        on_delta: Callable[[str], Awaitable[None]] | None = None,
        on_question: Callable[[int], Awaitable[None]] | None = None,
    ) -> Answer:
        """Answer `request.message` in the session, storing the question and the answer.
        `on_question` gets the stored question's id before the model is called; `on_delta` each piece
        of the final answer as it arrives. A failure is stored as the answer's error and raised (an
        AppError; an engine failing in an unexpected way is a 502). Cancelled mid-answer (the client
        went away), the answer is stored with what was streamed and an error, the model calls made so
        far are metered, and the cancellation goes on."""
        turn = await self._begin(ctx, session_id, request)
        run = Run(request.llm or self._grounding.default_model(), dict(request.llm_args), on_delta=on_delta)
        started = time.monotonic()
        try:
            if on_question is not None:
                await on_question(turn.question_id)
            text = await self._answer(ctx, run, turn, request.retrieval)
            if request.reflection is not None:
                await self._reflect(ctx, run, turn.prompts, request.reflection, text)
        except asyncio.CancelledError:
            with anyio.CancelScope(shield=True):
                await self._finish(turn, run, started, "".join(run.streamed), CUT_SHORT)
            raise
        except AppError as exc:
            await self._finish(turn, run, started, "", exc.message)
            raise
        except Exception as exc:  # an engine failing in an unexpected way is still the upstream's failure
            await self._finish(turn, run, started, "", str(exc))
            raise UpstreamBadGateway(f"The model failed: {exc}") from exc
        return Answer(await self._finish(turn, run, started, text, None), text)

    async def _begin(self, ctx: CallContext, session_id: int, request: AnswerRequest) -> Turn:
        """Check the session (and that its collection is still readable: a share may have been
        withdrawn), read the prompts, history and tagged documents, and store the question."""
        async with self._db.transaction() as session:
            chat = await owned_session(session, ctx.principal, session_id)
            collection_id, session_template_id = chat.collection_id, chat.prompt_template_id
            collection = (
                await readable_collection(session, ctx.principal, collection_id)
                if collection_id is not None
                else None
            )
            layers = [
                await repository.template_prompts(
                    session, collection.prompt_template_id if collection else None
                ),
                await repository.template_prompts(session, session_template_id),
                {
                    "system_prompt": request.system_prompt,
                    "pre_prompt_query": request.pre_prompt_query,
                    "prompt_query": request.prompt_query,
                },
                {"hyde_no_rag_llm_prompt_extension": request.retrieval.hyde_extension},
            ]
            document_ids = None
            if collection_id is not None and request.tags is not None:
                document_ids = await self._tagged(session, collection_id, request.tags)
            if collection_id is not None and request.metadata_filter:
                matched = await repository.documents_with_metadata(
                    session, collection_id, dict(request.metadata_filter)
                )
                document_ids = matched if document_ids is None else sorted(set(document_ids) & set(matched))
            history = await self._history(session, session_id) if request.include_history else []
            question = await repository.add_message(
                session,
                ChatMessage(
                    session_id=session_id, content=request.message, llm_args=dict(request.llm_args), meta={}
                ),
            )
            return Turn(
                session_id,
                question.id,
                request.message,
                collection_id,
                request.retrieval.rag_type.resolved(collection_id is not None),
                P.merged_prompts(*layers),
                history,
                document_ids,
            )

    async def _finish(self, turn: Turn, run: Run, started: float, text: str, error: str | None) -> int:
        """Store the answer (or its error) with its meta and references: the answer's message id."""
        run.meta["usage_stats"] = json.dumps(
            {
                **run.usage,
                "llm": run.model,
                "response_time": round(time.monotonic() - started, 3),
                "cost": 0.0,
            }
        )
        return await self._store(turn, run, text, error)

    @staticmethod
    async def _tagged(session: AsyncSession, collection_id: int, tags: TagFilter) -> list[int]:
        """The collection's documents the tag filter leaves: those with any `include` tag (all when
        none) and no `exclude` tag, or, when `document_ids` is given, those documents' copies in the
        collection (the tags are then ignored)."""
        if tags.document_ids:
            return await repository.copies_in(session, collection_id, list(tags.document_ids))
        include = list(tags.include) if tags.include else None
        exclude = list(tags.exclude) if tags.exclude else None
        return await repository.tagged_documents(session, collection_id, include, exclude)

    @staticmethod
    async def _history(session: AsyncSession, session_id: int) -> list[tuple[str, str]]:
        found = await repository.list_messages(session, session_id)
        questions = {m.id: m.content for m in found if m.reply_to is None}
        pairs = [(questions[m.reply_to], m.content) for m in found if m.reply_to in questions and not m.error]
        return [(q[:500], a[:500]) for q, a in pairs[-HISTORY_TURNS:]]

    async def _generate(
        self,
        ctx: CallContext,
        run: Run,
        system: str,
        history: list[tuple[str, str]],
        user: str,
        record: bool = True,
        final: bool = False,
    ) -> str:
        messages = P.messages_for(system, history, user)
        call = CallContext(ctx.principal, ctx.endpoint, ctx.method)  # one usage record per model call
        body = P.chat_body(run.model, run.llm_args, messages)
        if record:
            run.prompts.append(P.render_raw(messages))
        if final and run.on_delta is not None:
            return await self._stream(call, run, body)
        answer = await self._grounding.answer(call, body)
        run.usage["input_tokens"] += answer.usage.prompt_tokens
        run.usage["output_tokens"] += answer.usage.completion_tokens
        return (answer.answer["choices"][0]["message"].get("content") or "").strip()

    async def _stream(self, call: CallContext, run: Run, body: dict[str, Any]) -> str:
        """The final answer streamed: each piece goes to `run.on_delta` as it arrives."""
        assert run.on_delta is not None
        parts: list[str] = []
        async for event in await self._grounding.stream(call, body):
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

    async def _answer(self, ctx: CallContext, run: Run, turn: Turn, retrieval: Retrieval) -> str:
        system, message = turn.prompts["system_prompt"], turn.message
        if turn.kind is RagType.LLM_ONLY:
            return await self._generate(ctx, run, system, turn.history, message, final=True)
        if turn.kind is RagType.ALL_DATA:
            return await self._all_data(ctx, run, turn)
        query = message
        if turn.kind in (RagType.HYDE1, RagType.HYDE2):
            guess = await self._generate(
                ctx, run, system, [], message + turn.prompts["hyde_no_rag_llm_prompt_extension"]
            )
            run.meta["llm_only"] = guess
            run.meta["hyde1"] = guess
            query = f"{message} {guess}"
        if turn.kind is RagType.HYDE2:
            hits = await self._retrieve(ctx, query, turn, retrieval, neighbours=False)
            first = await self._generate(
                ctx, run, system, [], P.rag_prompt(turn.prompts, self._context(hits), message)
            )
            run.meta["hyde2"] = first
            query = f"{message} {first}"
        hits = await self._retrieve(ctx, query, turn, retrieval, neighbours=turn.kind is RagType.RAG_PLUS)
        texts = [await self._label(h, retrieval) for h in hits]
        n = P.fit(texts)
        run.used = hits[:n]
        prompt = P.rag_prompt(turn.prompts, "\n\n".join(texts[:n]), message)
        return await self._generate(ctx, run, system, turn.history, prompt, final=True)

    def _context(self, hits: list[Used]) -> str:
        texts = [h.content for h in hits]
        return "\n\n".join(texts[: P.fit(texts)])

    async def _label(self, hit: Used, retrieval: Retrieval) -> str:
        if not retrieval.include_name and not retrieval.include_page:
            return hit.content
        async with self._db.transaction() as session:
            names = await repository.document_names(session, {hit.document_id})
        return P.chunk_text(
            hit.content,
            names.get(hit.document_id, "") if retrieval.include_name else None,
            hit.page if retrieval.include_page else None,
        )

    async def _retrieve(
        self, ctx: CallContext, query: str, turn: Turn, retrieval: Retrieval, neighbours: bool
    ) -> list[Used]:
        if turn.document_ids is not None and not turn.document_ids:
            return []  # the tags leave no document
        assert turn.collection_id is not None
        search = SearchQuery(
            query,
            "semantic" if retrieval.min_score is not None else "hybrid",
            [turn.collection_id],
            turn.document_ids,
            limit=retrieval.max_chunks,
            score_threshold=retrieval.min_score or 0.0,
        )
        hits = await self._grounding.retrieve(ctx, search)
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

    async def _all_data(self, ctx: CallContext, run: Run, turn: Turn) -> str:
        """Recursive summarisation: summarise the collection batch by batch, then the summaries, until
        one prompt holds everything; that last prompt answers the question."""
        assert turn.collection_id is not None
        async with self._db.transaction() as session:
            chunks = await repository.collection_chunks(
                session, turn.collection_id, ALL_DATA_CHUNKS, turn.document_ids
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
                await self._generate(ctx, run, "", [], P.summary_prompt(turn.prompts, batch, turn.message))
                for batch in batches
            ]
        return await self._generate(
            ctx,
            run,
            turn.prompts["system_prompt"],
            [],
            P.summary_prompt(turn.prompts, "\n\n".join(texts), turn.message),
            final=True,
        )

    async def _reflect(
        self, ctx: CallContext, run: Run, prompts: dict[str, Any], reflection: Reflection, text: str
    ) -> None:
        template = reflection.prompt or prompts["prompt_reflection"]
        last = run.prompts[-1] if run.prompts else ""
        user = template % (last, text) if template.count("%s") == 2 else f"{template}\n\n{last}\n\n{text}"
        reflector = Run(reflection.llm, dict(reflection.llm_args or run.llm_args))
        system = reflection.system_prompt or prompts["system_prompt_reflection"]
        run.meta["self_reflection"] = json.dumps(
            {"reflection": await self._generate(ctx, reflector, system, [], user), "llm": reflector.model}
        )
        run.usage["input_tokens"] += reflector.usage["input_tokens"]
        run.usage["output_tokens"] += reflector.usage["output_tokens"]

    async def _store(self, turn: Turn, run: Run, text: str, error: str | None) -> int:
        run.meta["prompt_raw"] = "\n\n-----\n\n".join(run.prompts)
        run.meta["rag_type"] = turn.kind.value
        async with self._db.transaction() as session:
            answer = await repository.add_message(
                session,
                ChatMessage(
                    session_id=turn.session_id,
                    reply_to=turn.question_id,
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
            await repository.touch_session(session, turn.session_id, now_ts())
            return answer.id

    async def questions(self, ctx: CallContext, session_id: int, limit: int) -> list[str]:
        """Suggested follow-up questions: the template's defaults, else asked of the model."""
        async with self._db.transaction() as session:
            chat = await owned_session(session, ctx.principal, session_id)
            prompts = await repository.template_prompts(session, chat.prompt_template_id)
            found = await repository.list_messages(session, session_id)
        if prompts.get("default_sample_questions"):
            return list(prompts["default_sample_questions"])[:limit]
        last = "\n\n".join(m.content for m in found[-2:]) or "(no conversation yet)"
        user = f"Conversation:\n{last[:2000]}\n\nWrite {limit} short follow-up questions, one per line."
        run = Run(self._grounding.default_model(), {"max_new_tokens": 24 * limit, "temperature": 0})
        text = await self._generate(ctx, run, "", [], user)
        lines = [line.strip(" -*0123456789.)\t") for line in text.splitlines()]
        return [line for line in lines if len(line) > 3][:limit]
