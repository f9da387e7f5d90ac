"""Stored responses (owner-only) and file search over the caller's collections."""

from __future__ import annotations

from lockgate.accounting.service import CallContext
from lockgate.errors import NotFound
from lockgate.identity.schemas import Principal
from lockgate.kit.db import Database
from lockgate.rag.schemas import SearchQuery
from lockgate.rag.service import RagService
from lockgate.responses import repository
from lockgate.responses.models import StoredResponse
from lockgate.responses.schemas import Citation, ResponseRecord


def _record(row: StoredResponse) -> ResponseRecord:
    return ResponseRecord(
        row.id, row.model, row.created, row.previous_response_id, row.body, row.input_items, row.history
    )


class ResponsesService:
    def __init__(self, db: Database, rag: RagService):
        self._db = db
        self._rag = rag

    async def get(self, principal: Principal, response_id: str) -> ResponseRecord:
        """The caller's stored response; 404 when absent or someone else's (indistinguishable)."""
        async with self._db.transaction() as session:
            row = await repository.get(session, response_id, principal.user_id)
            if row is None:
                raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")
            return _record(row)

    async def save(self, principal: Principal, record: ResponseRecord) -> None:
        async with self._db.transaction() as session:
            session.add(
                StoredResponse(
                    id=record.id,
                    user_id=principal.user_id,
                    created=record.created,
                    model=record.model,
                    previous_response_id=record.previous_response_id,
                    body=record.body,
                    input_items=record.input_items,
                    history=record.history,
                )
            )

    async def delete(self, principal: Principal, response_id: str) -> None:
        async with self._db.transaction() as session:
            if not await repository.remove(session, response_id, principal.user_id):
                raise NotFound(f"Response with id '{response_id}' not found.", param="response_id")

    async def file_search(
        self, ctx: CallContext, query: str, collection_ids: list[int], limit: int
    ) -> list[Citation]:
        """Chunks of the named collections the caller can read (others are silently out of scope), best
        first. The embedding call is billed to the caller like any search."""
        search_ctx = CallContext(ctx.principal, "/v1/search", ctx.method)
        search = SearchQuery(query, "hybrid", collection_ids, limit=limit, unreadable_is_missing=False)
        hits, _ = await self._rag.search(search_ctx, search)
        names = await self._rag.document_names([chunk.document_id for _, _, chunk in hits])
        return [
            Citation(
                chunk.document_id,
                names.get(chunk.document_id, f"document-{chunk.document_id}"),
                chunk.collection_id,
                score,
                chunk.content,
            )
            for _, score, chunk in hits
        ]
