"""Local engines as providers: same routers, limits and usage as remote ones, no HTTP in between."""

from __future__ import annotations

import base64
import builtins
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any, TypeVar

from lockgate.accounting.schemas import Usage
from lockgate.errors import BadRequest, UpstreamBadGateway
from lockgate.gateway.events import ChunkEvent, StreamEvents, UsageEvent
from lockgate.gateway.providers.base import FilePart, ProviderAdapter, ProviderConfig, RawResponse
from lockgate.gateway.request import GenerationRequest
from lockgate.gateway.schemas import Endpoint, ModelType, ProbeResult
from lockgate.inference.embeddings import OnnxEmbedder
from lockgate.inference.llama import LlamaEngine, StreamUsage
from lockgate.inference.ocr import OcrEngine
from lockgate.inference.whisper import WhisperEngine
from lockgate.kit.vectors import embedding_items, text_inputs, token_id_inputs

LocalEngine = LlamaEngine | OnnxEmbedder | WhisperEngine | OcrEngine
E = TypeVar("E", LlamaEngine, OnnxEmbedder, WhisperEngine, OcrEngine)

_ENDPOINTS = {
    LlamaEngine: frozenset({Endpoint.CHAT, Endpoint.COMPLETIONS}),
    OnnxEmbedder: frozenset({Endpoint.EMBEDDINGS, Endpoint.RERANK}),
    WhisperEngine: frozenset({Endpoint.TRANSCRIPTION}),
    OcrEngine: frozenset({Endpoint.OCR}),
}
_MODEL_TYPES = {
    LlamaEngine: {ModelType.TEXT_GENERATION},
    OnnxEmbedder: {ModelType.TEXT_EMBEDDINGS, ModelType.TEXT_CLASSIFICATION},
    WhisperEngine: {ModelType.SPEECH_RECOGNITION},
    OcrEngine: {ModelType.IMAGE_TO_TEXT},
}


class LocalAdapter(ProviderAdapter):
    type = "local"
    endpoints = frozenset(Endpoint)
    model_types = frozenset(ModelType)

    def __init__(self, config: ProviderConfig, engine: LocalEngine | None):
        self.config = config
        self.engine = engine
        if isinstance(engine, LlamaEngine):
            self.tokenizer = engine
        self.label = f"local:{config.model_name}"
        # An engine that failed to load keeps every endpoint: its provider is unhealthy (503), not absent.
        self.endpoints = _ENDPOINTS.get(type(engine), frozenset(Endpoint))

    async def aclose(self) -> None:
        return None  # engines are owned by the process, not by one provider

    def _need(self, kind: builtins.type[E]) -> E:
        if not isinstance(self.engine, kind):
            raise UpstreamBadGateway(f"Local model {self.config.model_name} cannot do this.")
        return self.engine

    async def probe(self, model_type: ModelType) -> ProbeResult:
        if self.engine is None:
            raise UpstreamBadGateway(f"Local model {self.config.url} is not loaded in this process.")
        if model_type not in _MODEL_TYPES[type(self.engine)]:
            raise UpstreamBadGateway(
                f"Local model {self.config.url} cannot serve a {model_type.value} router."
            )
        if isinstance(self.engine, LlamaEngine):
            return ProbeResult(max_context_length=self.engine.n_ctx)
        if isinstance(self.engine, OnnxEmbedder):
            vector_size = self.engine.dimensions if model_type == ModelType.TEXT_EMBEDDINGS else None
            return ProbeResult(max_context_length=self.engine.max_tokens, vector_size=vector_size)
        return ProbeResult()

    # -- generation --------------------------------------------------------------------------------

    # llama-cpp-python's server speaks OpenAI's shapes plus its own sampling fields (spec 003): the
    # engine's request is the OpenAI body with the client's extras (grammar, mirostat_mode, min_p...).

    async def chat(self, request: GenerationRequest) -> dict[str, Any]:
        return await self._need(LlamaEngine).chat(request.openai_body(self.config.model_name))

    async def completions(self, request: GenerationRequest) -> dict[str, Any]:
        return await self._need(LlamaEngine).completion(request.openai_body(self.config.model_name))

    def chat_stream(self, request: GenerationRequest) -> StreamEvents:
        engine = self._need(LlamaEngine)
        return self._events(engine.chat_stream(request.openai_body(self.config.model_name, stream=True)))

    def completions_stream(self, request: GenerationRequest) -> StreamEvents:
        engine = self._need(LlamaEngine)
        return self._events(
            engine.completion_stream(request.openai_body(self.config.model_name, stream=True))
        )

    async def _events(self, chunks: AsyncGenerator[dict[str, Any] | StreamUsage, None]) -> StreamEvents:
        try:
            async for item in chunks:
                if isinstance(item, StreamUsage):
                    yield UsageEvent(Usage.counted(item.prompt_tokens, item.completion_tokens))
                else:
                    yield ChunkEvent(item)
        finally:
            await chunks.aclose()

    # -- embeddings and similarity rerank ----------------------------------------------------------

    async def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        engine = self._need(OnnxEmbedder)
        sequences = token_id_inputs(body["input"])
        if sequences is not None:  # ids of this model's own tokenizer (WordPiece for MiniLM)
            vectors, tokens = await engine.embed_token_ids(sequences)
        else:
            vectors, tokens = await engine.embed(text_inputs(body["input"]))
        data = embedding_items(vectors, body.get("dimensions"), body.get("encoding_format"))
        usage = {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}
        return {"object": "list", "data": data, "model": self.config.model_name, "usage": usage}

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        """Cosine similarity of embeddings — what this model is; no cross-encoder weights are available."""
        vectors, tokens = await self._need(OnnxEmbedder).embed([query, *documents])
        q = vectors[0]
        scored = [
            {"index": i, "relevance_score": sum(a * b for a, b in zip(q, v, strict=True))}
            for i, v in enumerate(vectors[1:])
        ]
        scored.sort(key=lambda r: r["relevance_score"], reverse=True)
        return {"results": scored[:top_n] if top_n else scored, "prompt_tokens": tokens}

    # -- speech and OCR ----------------------------------------------------------------------------

    async def transcribe(self, file: FilePart, fields: dict[str, str]) -> dict[str, Any] | RawResponse:
        engine = self._need(WhisperEngine)
        transcript = await engine.transcribe(
            file.content, fields.get("language"), fields.get("prompt"), float(fields.get("temperature") or 0)
        )
        fmt = fields.get("response_format", "json")
        if fmt == "text":
            return RawResponse(transcript.text.encode(), "text/plain; charset=utf-8")
        if fmt in {"srt", "vtt"}:
            return RawResponse(_subtitles(transcript.segments, fmt).encode(), "text/plain; charset=utf-8")
        if fmt == "verbose_json":
            return {
                "task": "transcribe",
                "language": transcript.language,
                "duration": transcript.duration,
                "text": transcript.text,
                "segments": transcript.segments,
            }
        return {"text": transcript.text}

    async def ocr(self, body: dict[str, Any]) -> dict[str, Any]:
        engine = self._need(OcrEngine)
        data = _document_bytes(body.get("document") or {})
        pages = body.get("pages")
        recognized = await engine.recognize(data, pages=pages)
        return {
            "id": f"ocr-{uuid.uuid4().hex}",
            "object": "ocr",
            "created": int(time.time()),
            "model": self.config.model_name,
            "pages": [
                {
                    "index": page.index,
                    "markdown": page.markdown,
                    "images": [],
                    "dimensions": {"dpi": page.dpi, "height": page.height, "width": page.width},
                }
                for page in recognized
            ],
            "document_annotation": None,
            "usage_info": {"pages_processed": len(recognized), "doc_size_bytes": len(data)},
        }


def _document_bytes(document: dict[str, Any]) -> bytes:
    """The document's bytes from a data: URL. Remote URLs are not fetched by local OCR (no server-side
    fetches of user-supplied addresses)."""
    kind = document.get("type")
    url = document.get("document_url") if kind == "document_url" else document.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    if not isinstance(url, str) or not url:
        raise BadRequest("document: give a document_url or an image_url.", param="document")
    if not url.startswith("data:"):
        raise BadRequest(
            "document: local OCR reads data: URLs (base64); it does not fetch remote addresses.",
            param="document",
        )
    header, _, payload = url.partition(",")
    if ";base64" not in header:
        raise BadRequest("document: the data: URL must be base64-encoded.", param="document")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise BadRequest("document: invalid base64 data.", param="document") from exc


def _subtitles(segments: list[dict[str, Any]], fmt: str) -> str:
    def stamp(seconds: float) -> str:
        ms = round(seconds * 1000)
        h, rest = divmod(ms, 3_600_000)
        m, rest = divmod(rest, 60_000)
        s, ms = divmod(rest, 1000)
        sep = "," if fmt == "srt" else "."
        return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"

    lines = ["WEBVTT", ""] if fmt == "vtt" else []
    for number, segment in enumerate(segments, start=1):
        if fmt == "srt":
            lines.append(str(number))
        lines += [f"{stamp(segment['start'])} --> {stamp(segment['end'])}", segment["text"].strip(), ""]
    return "\n".join(lines)
