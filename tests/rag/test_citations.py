"""Citations: the `[n]` labels laid into a grounded prompt and the answer's markers mapped back to hits."""

from __future__ import annotations

import asyncio

from lockgate.accounting.schemas import Usage
from lockgate.conversations.search_chat import GroundedChat
from lockgate.gateway.events import ChunkEvent, UsageEvent
from lockgate.rag.citations import cited, source_label
from lockgate.rag.hits import search_result
from lockgate.rag.models import Chunk
from lockgate.rag.schemas import ChunkView, chunk_view


def chunk(chunk_id: int, name: str, page: int | None = None) -> ChunkView:
    # global id 1000 + n, numbered n within its document: citations name the latter
    return ChunkView(1000 + chunk_id, chunk_id, 1, 100 + chunk_id, f"text {chunk_id}", None, page, 0, name)


HITS = [chunk(11, "guide.pdf", 3), chunk(12, "notes.md"), chunk(13, "faq.txt", 9)]


def test_labels_number_each_source_with_its_document_and_page() -> None:
    assert source_label(1, HITS[0]) == "[1] (guide.pdf, page 3)\ntext 11"
    assert source_label(2, HITS[1]) == "[2] (notes.md)\ntext 12"
    assert source_label(3, chunk(5, "")) == "[3] (document 105)\ntext 5"


def test_markers_map_back_to_hits_in_order_of_first_use() -> None:
    found = cited("Boil it [3]. Salt matters [1, 3][2]; see [1] again, not [4] or [0].", HITS)
    assert [(c.index, c.chunk_id, c.document_name, c.page) for c in found] == [
        (3, 13, "faq.txt", 9),
        (1, 11, "guide.pdf", 3),
        (2, 12, "notes.md", None),
    ]
    assert cited("No sources used.", HITS) == []
    assert cited("[1]", []) == []


def test_a_page_key_in_the_users_metadata_is_not_the_chunks_page() -> None:
    # the page is the parser's (a column); the user's metadata stays theirs, exactly as sent
    for value in ("iv", True, 7):
        row = Chunk(id=1, position=0, collection_id=1, document_id=2, content="x", metadata_={"page": value})
        row.created = 0
        view = chunk_view(row, "a")
        assert view.page is None and view.metadata == {"page": value}


def test_a_search_hit_keeps_the_opengate_shape_and_adds_name_and_page() -> None:
    hit = search_result("hybrid", 0.5, HITS[0])
    assert set(hit["chunk"]) == {
        "object",
        "id",
        "collection_id",
        "document_id",
        "content",
        "metadata",
        "page",
        "created",
    }
    assert (hit["method"], hit["score"], hit["document_name"], hit["page"]) == ("hybrid", 0.5, "guide.pdf", 3)


def test_a_streamed_answer_carries_its_citations_on_the_finishing_chunk() -> None:
    def delta(text: str, finish: str | None = None) -> ChunkEvent:
        return ChunkEvent({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})

    async def upstream():
        for event in (
            delta("Ten minutes [2"),
            delta("]."),
            delta("", "stop"),
            UsageEvent(Usage.counted(1, 2)),
        ):
            yield event

    async def run() -> list:
        return [e async for e in GroundedChat._with_results(upstream(), ["r1", "r2"], HITS[:2])]

    events = asyncio.run(run())
    assert events[0].payload["search_results"] == ["r1", "r2"]
    assert "citations" not in events[0].payload and "citations" not in events[1].payload
    assert events[2].payload["citations"] == [
        {"index": 2, "chunk_id": 12, "document_id": 112, "document_name": "notes.md", "page": None}
    ]
