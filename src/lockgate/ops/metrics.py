"""Prometheus metrics, in a registry owned by the app (not the process-global one)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lockgate_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lockgate_http_request_duration_seconds",
            "Time to the end of the response, by route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self._model_metrics()

    def _model_metrics(self) -> None:
        buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
        self.model_requests = Counter(
            "lockgate_model_requests_total",
            "Inference requests by model, provider and status.",
            ["model", "provider", "status"],
            registry=self.registry,
        )
        self.model_tokens = Counter(
            "lockgate_model_tokens_total",
            "Tokens by model and kind.",
            ["model", "kind"],
            registry=self.registry,
        )
        self.model_latency = Histogram(
            "lockgate_model_latency_seconds",
            "Inference latency.",
            ["model"],
            registry=self.registry,
            buckets=buckets,
        )
        self.model_ttft = Histogram(
            "lockgate_model_ttft_seconds",
            "Time to first token.",
            ["model"],
            registry=self.registry,
            buckets=buckets,
        )

    def observe_model(
        self,
        model: str,
        provider: str,
        status: int,
        prompt_tokens: int,
        completion_tokens: int,
        latency_s: float,
        ttft_s: float | None,
    ) -> None:
        self.model_requests.labels(model, provider, str(status)).inc()
        if prompt_tokens:
            self.model_tokens.labels(model, "prompt").inc(prompt_tokens)
        if completion_tokens:
            self.model_tokens.labels(model, "completion").inc(completion_tokens)
        if status < 400:
            self.model_latency.labels(model).observe(latency_s)
            if ttft_s is not None:
                self.model_ttft.labels(model).observe(ttft_s)

    def watch_inflight(self, read: Callable[[], list[tuple[str, str, int]]]) -> None:
        """In-flight requests per model and provider, read from the gateway at scrape time (free on the
        request path)."""

        class _Collector:
            def collect(self):
                family = GaugeMetricFamily(
                    "lockgate_model_inflight", "Requests in flight.", labels=["model", "provider"]
                )
                for model, provider, value in read():
                    family.add_metric([model, provider], value)
                yield family

        self.registry.register(_Collector())

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
