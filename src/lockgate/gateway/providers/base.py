"""What every provider adapter offers, and the HTTP plumbing they share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
import orjson

from lockgate.errors import (
    UpstreamBadGateway,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from lockgate.gateway import answers
from lockgate.gateway.bounds import UpstreamBounds
from lockgate.gateway.egress import EgressRefused
from lockgate.gateway.events import ChunkEvent, StreamEvents, UsageEvent
from lockgate.gateway.providers.reading import read_bounded, sse_data
from lockgate.gateway.request import GenerationRequest
from lockgate.gateway.schemas import Endpoint, ModelType, ProbeResult

# Upstream 4xx that mean "this provider is misconfigured", not "the request is wrong": try another.
_MISCONFIGURED = {401, 403, 404, 405}


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    type: str
    url: str
    key: str | None
    model_name: str
    timeout: float
    guarded: bool = False  # added through the API: only public addresses (see gateway/egress.py)


@dataclass(slots=True)
class FilePart:
    filename: str
    content: bytes
    content_type: str


@dataclass(slots=True)
class RawResponse:
    """A non-JSON upstream answer passed through as is (e.g. transcription as text)."""

    content: bytes
    media_type: str


def error_text(error: Any) -> str:
    """The message of an upstream's `error` value (a string, or an object with a message)."""
    if isinstance(error, dict):
        error = error.get("message") or error
    return str(error)[:500]


def error_message(status: int, content: bytes, reason: str = "") -> str:
    """The human message inside an upstream error body, whatever its flavor."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:500].decode(errors="replace") or reason or str(status)
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if error is not None:
            return error_text(error)
    return str(body)[:500]


def retry_after_seconds(value: str | None) -> float | None:
    """An HTTP Retry-After (delta-seconds or HTTP-date) in seconds from now, or None when unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ProviderAddressRefused(UpstreamBadGateway):
    """The provider's address is one this server may not reach (gateway/egress.py)."""


class ProbeMismatch(UpstreamBadGateway):
    """The upstream answers, but is not what the provider says (another model, another kind)."""


def raise_for_upstream(
    status: int, content: bytes, provider: str, reason: str = "", headers: Mapping[str, str] | None = None
) -> None:
    if status < 400:
        return
    try:
        _raise_for_status(status, error_message(status, content, reason), provider, headers)
    except UpstreamError as exc:
        exc.upstream_status = status
        raise


def _raise_for_status(status: int, message: str, provider: str, headers: Mapping[str, str] | None) -> None:
    if status in _MISCONFIGURED:
        raise UpstreamBadGateway(f"Provider {provider} refused the call ({status}): {message}")
    if status == 429:
        retry_after = retry_after_seconds((headers or {}).get("Retry-After"))
        raise UpstreamRateLimited(f"Provider {provider} is rate limiting: {message}", retry_after)
    if status < 500:
        raise UpstreamRejected(status, message)
    raise UpstreamBadGateway(f"Provider {provider} failed ({status}): {message}")


def translate_transport_error(exc: BaseException, provider: str) -> UpstreamError:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return UpstreamTimeout(f"Provider {provider} timed out.")
    refused = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(refused, EgressRefused):
        return ProviderAddressRefused(f"Provider {provider} is refused: {refused}.")
    return UpstreamBadGateway(f"Provider {provider} is unreachable: {type(exc).__name__}")


TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class Tokenizer(Protocol):
    """A local model's own tokenizer (llama-cpp-python's /extras routes, exact prompt counts)."""

    async def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...

    async def detokenize(self, tokens: list[int]) -> str:
        """Raises BadRequest for an id outside the vocabulary."""
        ...


class ProviderAdapter:
    """Base adapter speaking the OpenAI wire format under /v1. Subclasses override what differs."""

    type: str = "openai"
    endpoints: frozenset[Endpoint] = frozenset()
    model_types: frozenset[ModelType] = frozenset()
    tokenizer: Tokenizer | None = None  # set by adapters of a model whose tokenizer runs here

    def __init__(
        self, config: ProviderConfig, client: aiohttp.ClientSession, bounds: UpstreamBounds | None = None
    ):
        self.config = config
        self.client = client
        self.bounds = bounds or UpstreamBounds()
        self.base = config.url.rstrip("/")
        # in messages callers may read: never the upstream's address (logs name it, see ProviderRuntime.name)
        self.label = f"{config.type}:{config.model_name}"

    async def aclose(self) -> None:
        await self.client.close()

    # -- plumbing ----------------------------------------------------------------------------------

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes, Any]:
        """Status, body (at most `bounds.max_body_bytes`) and headers of one upstream call; transport
        failures become UpstreamError."""
        try:
            async with self.client.request(method, self.base + path, **kwargs) as response:
                body = await read_bounded(response, self.bounds.max_body_bytes, self.label)
                return response.status, body, response.headers
        except TRANSPORT_ERRORS as exc:
            raise translate_transport_error(exc, self.label) from exc

    async def _post_json(self, path: str, body: Any) -> Any:
        status, content, headers = await self._request("POST", path, data=orjson.dumps(body), headers=_JSON)
        raise_for_upstream(status, content, self.label, headers=headers)
        return _json(content, self.label)

    async def _get_json(self, path: str) -> Any:
        status, content, headers = await self._request("GET", path)
        raise_for_upstream(status, content, self.label, headers=headers)
        return _json(content, self.label)

    async def _stream_sse(self, path: str, body: dict[str, Any]) -> StreamEvents:
        """POST and yield the upstream's SSE `data:` payloads as typed events (shapes unchecked: the
        gateway's attempt checks them)."""
        try:
            response = await self.client.post(self.base + path, data=orjson.dumps(body), headers=_JSON)
        except TRANSPORT_ERRORS as exc:
            raise translate_transport_error(exc, self.label) from exc
        try:
            if response.status >= 400:
                content = await read_bounded(response, self.bounds.max_body_bytes, self.label)
                raise_for_upstream(
                    response.status, content, self.label, response.reason or "", response.headers
                )
            finished = False
            async for data in sse_data(response.content, self.bounds, self.label):
                if data == b"[DONE]":
                    finished = True
                    break
                payload = orjson.loads(data)
                if not isinstance(payload, dict):
                    raise UpstreamBadGateway(
                        f"Provider {self.label} sent a stream chunk that is not an object."
                    )
                if "error" in payload and "choices" not in payload:
                    raise UpstreamBadGateway(
                        f"Provider {self.label} stream error: {error_text(payload['error'])}"
                    )
                if payload.get("usage") and not payload.get("choices"):
                    if (reported := answers.reported_usage(payload["usage"])) is not None:
                        yield UsageEvent(reported)
                    continue
                usage = payload.pop("usage", None)
                yield ChunkEvent(payload)
                if usage and (reported := answers.reported_usage(usage)) is not None:
                    yield UsageEvent(reported)
            if not finished:
                raise UpstreamBadGateway(f"Provider {self.label} ended the stream without [DONE].")
        except TRANSPORT_ERRORS as exc:
            raise translate_transport_error(exc, self.label) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadGateway(f"Provider {self.label} sent an unreadable stream chunk.") from exc
        finally:
            response.close()

    # -- capabilities (override per provider) ------------------------------------------------------

    async def probe(self, model_type: ModelType) -> ProbeResult:
        models = await self._get_json("/v1/models")
        entry = next((m for m in models.get("data", []) if m.get("id") == self.config.model_name), None)
        if entry is None:  # what it serves instead is not told: the URL may not be a model server at all
            raise ProbeMismatch(f"Provider {self.label} does not serve model '{self.config.model_name}'.")
        context = entry.get("max_model_len") or entry.get("max_context_length") or entry.get("context_length")
        vector_size = None
        if model_type == ModelType.TEXT_EMBEDDINGS:
            vector_size = await self._probe_vector_size()
        return ProbeResult(max_context_length=context, vector_size=vector_size)

    async def _probe_vector_size(self) -> int:
        result = await self.embeddings({"input": "probe", "model": self.config.model_name})
        return len(result["data"][0]["embedding"])

    # OpenAI-compatible upstreams take the OpenAI body: typed fields and the client's extras as sent.
    # What an upstream answers is unchecked JSON (Any) until gateway/answers.py has checked its shape.

    async def chat(self, request: GenerationRequest) -> Any:
        return await self._post_json("/v1/chat/completions", request.openai_body(self.config.model_name))

    def chat_stream(self, request: GenerationRequest) -> StreamEvents:
        return self._stream_sse(
            "/v1/chat/completions", request.openai_body(self.config.model_name, stream=True)
        )

    async def completions(self, request: GenerationRequest) -> Any:
        return await self._post_json("/v1/completions", request.openai_body(self.config.model_name))

    def completions_stream(self, request: GenerationRequest) -> StreamEvents:
        return self._stream_sse("/v1/completions", request.openai_body(self.config.model_name, stream=True))

    async def embeddings(self, body: dict[str, Any]) -> Any:
        return await self._post_json("/v1/embeddings", body)

    async def rerank(self, query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
        raise NotImplementedError

    async def transcribe(self, file: FilePart, fields: dict[str, str]) -> Any:
        """The upstream's JSON answer, or its text as a RawResponse (srt, vtt, text formats)."""
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        form.add_field("file", file.content, filename=file.filename, content_type=file.content_type)
        status, content, headers = await self._request("POST", "/v1/audio/transcriptions", data=form)
        raise_for_upstream(status, content, self.label, headers=headers)
        media_type = headers.get("Content-Type", "text/plain")
        if media_type.startswith("application/json"):
            return _json(content, self.label)
        return RawResponse(content, media_type)

    async def ocr(self, body: dict[str, Any]) -> Any:
        raise NotImplementedError


_JSON = {"Content-Type": "application/json"}


def _json(content: bytes, label: str) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamBadGateway(f"Provider {label} answered with invalid JSON.") from exc
