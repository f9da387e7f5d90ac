"""HuggingFace text-embeddings-inference (TEI): /info, /health, /embed, /rerank and /v1/embeddings.

TEI's native errors are {"error": ..., "error_type": "Validation" | "Backend" | ...}; its OpenAI route
answers errors as {"message": ..., "code": <status>, "type": ...}.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.common import Reject, embeddings_payload, overlap, tei_error, vector, words
from tests.fakes.server import Endpoint

if TYPE_CHECKING:
    from tests.fakes.server import FakeUpstream, Recorded

MAX_CLIENT_BATCH = 32
UNNORMALIZED_SCALE = 3.0  # /embed with normalize=false returns the unit vector times this


def endpoints(flavor: str) -> list[Endpoint]:
    return [
        Endpoint("GET", "/info", info, "probe"),
        Endpoint("GET", "/health", health, "health"),
        Endpoint("POST", "/embed", embed),
        Endpoint("POST", "/rerank", rerank),
        Endpoint("POST", "/v1/embeddings", openai_embeddings),
    ]


def _error(path: str, status: int, message: str, error_type: str) -> JSONResponse:
    if path == "/v1/embeddings":
        return JSONResponse({"message": message, "code": status, "type": error_type}, status_code=status)
    return tei_error(status, message, error_type)


def failure(fake: FakeUpstream, status: int, path: str) -> Response:
    return _error(path, status, "fake upstream failure", "Backend")


def unauthorized(path: str) -> Response:
    return _error(path, 401, "Unauthorized", "Unauthorized")


def not_found(method: str, path: str) -> Response:
    return Response(status_code=404)  # TEI (axum) answers unknown routes with an empty 404


def _body(rec: Recorded) -> dict[str, Any]:
    if not isinstance(rec.json, dict):
        raise Reject(_error(rec.path, 422, "Failed to deserialize the JSON body", "Validation"))
    return rec.json


def _validate(fake: FakeUpstream, texts: list[str], truncate: bool) -> int:
    """Check batch size and lengths like TEI; return the total token count."""
    if len(texts) > MAX_CLIENT_BATCH:
        message = f"batch size {len(texts)} > maximum allowed batch size {MAX_CLIENT_BATCH}"
        raise Reject(tei_error(413, message, "Validation"))
    sizes = [len(words(t)) for t in texts]
    longest = max(sizes, default=0)
    if longest > fake.context_length and not truncate:
        limit = fake.context_length
        message = f"Input validation error: `inputs` must have less than {limit} tokens. Given: {longest}"
        raise Reject(tei_error(413, message, "Validation"))
    return sum(min(size, fake.context_length) for size in sizes)


def _compute_headers(tokens: int, characters: int, started: float) -> dict[str, str]:
    elapsed = str(int((time.perf_counter() - started) * 1000))
    return {
        "x-compute-type": "cpu",
        "x-compute-time": elapsed,
        "x-compute-characters": str(characters),
        "x-compute-tokens": str(tokens),
        "x-total-time": elapsed,
        "x-tokenization-time": "0",
        "x-queue-time": "0",
        "x-inference-time": elapsed,
    }


async def info(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    if fake.tei_kind == "reranker":
        model_type: dict[str, Any] = {"reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}}
    else:
        model_type = {"embedding": {"pooling": "mean"}}
    return JSONResponse(
        {
            "model_id": fake.model,
            "model_sha": None,
            "model_dtype": "float32",
            "model_type": model_type,
            "max_concurrent_requests": 512,
            "max_input_length": fake.context_length,
            "max_batch_tokens": 16384,
            "max_batch_requests": None,
            "max_client_batch_size": MAX_CLIENT_BATCH,
            "auto_truncate": False,
            "tokenization_workers": 4,
            "version": "1.5.0",
            "sha": None,
            "docker_label": None,
        }
    )


async def health(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    return Response(status_code=200)


async def embed(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    started = time.perf_counter()
    body = _body(rec)
    inputs = body.get("inputs")
    texts = [inputs] if isinstance(inputs, str) else inputs
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise Reject(tei_error(422, "`inputs` must be a string or a list of strings", "Validation"))
    if not texts:
        raise Reject(tei_error(400, "`inputs` cannot be empty", "Empty"))
    tokens = _validate(fake, texts, bool(body.get("truncate", False)))
    vectors = [vector(t, fake.embedding_dim) for t in texts]
    if body.get("normalize", True) is False:
        vectors = [[v * UNNORMALIZED_SCALE for v in vec] for vec in vectors]
    headers = _compute_headers(tokens, sum(len(t) for t in texts), started)
    return JSONResponse(vectors, headers=headers)


async def rerank(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    started = time.perf_counter()
    body = _body(rec)
    query, texts = body.get("query"), body.get("texts")
    if (
        not isinstance(query, str)
        or not isinstance(texts, list)
        or not all(isinstance(t, str) for t in texts)
    ):
        raise Reject(tei_error(422, "`query` must be a string and `texts` a list of strings", "Validation"))
    if not texts:
        raise Reject(tei_error(400, "`texts` cannot be empty", "Empty"))
    tokens = _validate(fake, [f"{query} {t}" for t in texts], bool(body.get("truncate", False)))
    results = []
    for index, text in enumerate(texts):
        score = overlap(query, text)
        item: dict[str, Any] = {"index": index, "score": score * 10 - 5 if body.get("raw_scores") else score}
        if body.get("return_text"):
            item["text"] = text
        results.append(item)
    results.sort(key=lambda r: (-r["score"], r["index"]))
    characters = len(query) * len(texts) + sum(len(t) for t in texts)
    return JSONResponse(results, headers=_compute_headers(tokens, characters, started))


async def openai_embeddings(fake: FakeUpstream, request: Request, rec: Recorded) -> Response:
    body = _body(rec)  # TEI serves one model and ignores `model`
    try:
        payload = embeddings_payload(body, fake.model, fake.embedding_dim, fake.send_usage)
    except ValueError as exc:
        raise Reject(_error(rec.path, 422, str(exc), "Validation")) from exc
    if len(payload["data"]) > MAX_CLIENT_BATCH:
        message = f"batch size {len(payload['data'])} > maximum allowed batch size {MAX_CLIENT_BATCH}"
        raise Reject(_error(rec.path, 413, message, "Validation"))
    return JSONResponse(payload)
