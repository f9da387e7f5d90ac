"""OpenTelemetry traces: a server span per HTTP request, a client span per model call (OpenTelemetry GenAI
semantic conventions), a span per RAG retrieval, exported over OTLP/HTTP.

Off unless an OTLP endpoint is configured (`otlp_traces_endpoint`, or the standard
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`). When off, `build_tracing` gives
None and every caller skips on `is None`: no span objects, no context switch, no header on the request
path. The SDK is imported only when on. Prompt and answer text are never put in spans.

W3C `traceparent` is read from clients (the request span continues their trace) and sent to upstream
providers (their server span is a child of the model call's span), through the propagators of
`OTEL_PROPAGATORS` (default: tracecontext, baggage)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from lockgate import __version__

if TYPE_CHECKING:
    import aiohttp
    from opentelemetry.sdk.trace import TracerProvider


# GenAI operation names (gen_ai.operation.name) by gateway endpoint; rerank, transcription and OCR have
# no well-known value: the endpoint's own name is used, as the conventions allow.
OPERATIONS = {
    "chat": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
# gen_ai.provider.name: the conventions' well-known values where one applies, else the provider type.
PROVIDER_NAMES = {"mistral": "mistral_ai", "openai": "openai", "anthropic": "anthropic"}


class TracingSettings(Protocol):
    """What tracing reads of the settings (lockgate.config.Settings; ops sits below config)."""

    @property
    def otlp_traces_endpoint(self) -> str | None: ...


def otlp_endpoint(settings: TracingSettings) -> str | None:
    """The OTLP/HTTP traces URL, or None when tracing is off (unset, or turned off by the standard
    OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return None
    if settings.otlp_traces_endpoint:
        return settings.otlp_traces_endpoint
    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return base.rstrip("/") + "/v1/traces" if base else None


def build_tracing(settings: TracingSettings) -> Tracing | None:
    """None when tracing is off. Otherwise an SDK tracer provider of this app's own (not the process-wide
    one), batching spans to the OTLP/HTTP endpoint; sampler, batch sizes, headers, timeout and resource
    attributes follow the standard OTEL_* variables."""
    endpoint = otlp_endpoint(settings)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {"service.version": __version__}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "lockgate"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider)


class Tracing:
    def __init__(self, provider: TracerProvider):
        self.provider = provider
        self.tracer = provider.get_tracer("lockgate", __version__)

    def shutdown(self) -> None:
        """Export what is left (a graceful stop loses no span) and stop the exporter's thread."""
        self.provider.shutdown()

    # -- the request (server span) -----------------------------------------------------------------

    def start_request(self, scope: Mapping[str, Any], request_id: str) -> tuple[Span, object]:
        """The request's span, made current; continues the client's trace when it sent `traceparent`.
        Returns the span and the token `end_request` needs."""
        parent = propagate.extract(_HeaderCarrier(scope.get("headers") or ()))
        method = scope["method"]
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
                "lockgate.request_id": request_id,
            },
        )
        return span, otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def end_request(span: Span, token: object, route: str | None, status: int, user_id: int | None) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]
        if route is not None:
            span.update_name(f"{span.name} {route}")  # type: ignore[attr-defined]
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if user_id is not None:
            span.set_attribute("enduser.id", str(user_id))
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", str(status))
        span.end()

    # -- model calls (client spans, GenAI conventions) ---------------------------------------------

    def start_model_call(
        self, endpoint: str | None, router_name: str, provider_type: str, model_name: str, url: str
    ) -> Span:
        """A span for one try of one provider, a child of the current span (not made current here)."""
        operation = OPERATIONS.get(endpoint or "", endpoint or "model_call")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER_NAMES.get(provider_type, provider_type),
            "gen_ai.system": PROVIDER_NAMES.get(provider_type, provider_type),  # before semconv 1.37
            "gen_ai.request.model": model_name,
            "lockgate.model": router_name,
        }
        host, port = _server(url)
        if host:
            attributes["server.address"] = host
            if port:
                attributes["server.port"] = port
        return self.tracer.start_span(
            f"{operation} {model_name}", kind=SpanKind.CLIENT, attributes=attributes
        )

    @staticmethod
    @contextmanager
    def current(span: Span) -> Iterator[None]:
        """`span` is the current one inside the block (upstream calls made there carry its traceparent).
        Attach and detach happen in the same context: never hold it across a `yield` of a generator."""
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            otel_context.detach(token)

    @staticmethod
    def answered(span: Span, answer: object) -> None:
        """Response attributes from an OpenAI-shaped answer (id, model, finish reasons, usage)."""
        if not isinstance(answer, dict):
            return
        if isinstance(answer.get("id"), str):
            span.set_attribute("gen_ai.response.id", answer["id"])
        if isinstance(answer.get("model"), str):
            span.set_attribute("gen_ai.response.model", answer["model"])
        reasons = [
            c["finish_reason"]
            for c in answer.get("choices") or ()
            if isinstance(c, dict) and isinstance(c.get("finish_reason"), str)
        ]
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)
        Tracing.usage(span, answer.get("usage"))

    @staticmethod
    def chunk(span: Span, payload: dict[str, Any], first: bool) -> None:
        """What a streamed chunk tells: the response id and model (first chunk), finish reasons."""
        if first:
            Tracing.answered(span, {"id": payload.get("id"), "model": payload.get("model")})
        reasons = [
            c["finish_reason"]
            for c in payload.get("choices") or ()
            if isinstance(c, dict) and isinstance(c.get("finish_reason"), str)
        ]
        if reasons:
            span.set_attribute("gen_ai.response.finish_reasons", reasons)

    @staticmethod
    def usage(span: Span, usage: object) -> None:
        if not isinstance(usage, dict):
            return
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if isinstance(prompt, int | float) and not isinstance(prompt, bool):
            span.set_attribute("gen_ai.usage.input_tokens", int(prompt))
        if isinstance(completion, int | float) and not isinstance(completion, bool):
            span.set_attribute("gen_ai.usage.output_tokens", int(completion))

    @staticmethod
    def failed(span: Span, error: Exception) -> None:
        status = getattr(error, "status_code", None)
        span.set_attribute("error.type", str(status) if status else type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, getattr(error, "message", None) or type(error).__name__))

    # -- RAG ---------------------------------------------------------------------------------------

    @contextmanager
    def retrieval(self, method: str, collection_ids: list[int] | None, limit: int) -> Iterator[Span]:
        """A span around one search (current inside: the query's embedding and rerank calls are its
        children). `gen_ai.data_source.id`: the collections asked for (empty: all readable)."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "retrieval",
            "lockgate.rag.method": method,
            "lockgate.rag.limit": limit,
        }
        if collection_ids:
            attributes["gen_ai.data_source.id"] = ",".join(str(c) for c in collection_ids)
        with self.tracer.start_as_current_span(
            f"retrieval {method}", kind=SpanKind.INTERNAL, attributes=attributes
        ) as span:
            yield span

    # -- upstream HTTP -----------------------------------------------------------------------------

    def client_trace_config(self) -> aiohttp.TraceConfig:
        """For the providers' aiohttp sessions: every upstream request carries the current trace."""
        import aiohttp

        async def inject(_session: object, _ctx: object, params: aiohttp.TraceRequestStartParams) -> None:
            propagate.inject(params.headers)

        config = aiohttp.TraceConfig()
        config.on_request_start.append(inject)
        return config


class _HeaderCarrier:
    """The ASGI scope's raw headers, as the propagators' getter reads them (names are lower case)."""

    def __init__(self, headers: Any):
        self._headers = headers

    def get(self, name: str, default: Any = None) -> Any:
        wanted = name.encode("latin-1")
        values = [v.decode("latin-1") for k, v in self._headers if k == wanted]
        return values or default

    def keys(self) -> list[str]:
        return [k.decode("latin-1") for k, _ in self._headers]


def _server(url: str) -> tuple[str | None, int | None]:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None, None  # a local engine
        return parts.hostname, parts.port
    except ValueError:
        return None, None
