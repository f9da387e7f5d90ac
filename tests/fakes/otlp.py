"""A real OTLP/HTTP trace receiver on 127.0.0.1: decodes the protobuf export requests the SDK's exporter
sends to POST /v1/traces (opentelemetry-proto), and keeps the spans for tests to read.

    with OtlpReceiver() as receiver:
        ... settings otlp_traces_endpoint=receiver.endpoint ...
        span = receiver.wait_for(lambda s: s.name == "chat up-model")
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from opentelemetry.proto.trace.v1.trace_pb2 import Status


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    kind: str  # SERVER, CLIENT, INTERNAL...
    attributes: dict[str, Any]
    error: bool
    service: str


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class OtlpReceiver:
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.content_types: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._store(ExportTraceServiceRequest.FromString(body), self.headers["Content-Type"])
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _store(self, request: ExportTraceServiceRequest, content_type: str) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            kind=SpanProto.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            error=span.status.code == Status.STATUS_CODE_ERROR,
                            service=resource.get("service.name", ""),
                        )
                    )
        with self._lock:
            self.content_types.append(content_type)
            self.spans.extend(received)

    def wait_for(self, predicate: Callable[[ReceivedSpan], bool], timeout: float = 60.0) -> ReceivedSpan:
        """The first received span matching `predicate` (spans are exported in batches: wait)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [s for s in self.spans if predicate(s)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                names = [s.name for s in self.spans]
                raise AssertionError(f"no such span received within {timeout}s; received: {names}")
            time.sleep(0.05)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
