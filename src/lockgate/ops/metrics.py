"""Prometheus metrics, in a registry owned by the app (not the process-global one).

Counters and histograms are updated on the request path (a dict lookup and an add each); everything
that can be read from live state (in-flight, queues, provider health) is read at scrape time instead."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector


@dataclass(frozen=True, slots=True)
class ProviderSample:
    """One provider as read at scrape time. `status`: healthy, cooling_down or unreachable."""

    model: str
    provider: str
    status: str
    inflight: int
    cooldown_seconds: float  # remaining, 0 when not cooling down
    failures: int  # since start
    cooldowns: int  # since start


@dataclass(frozen=True, slots=True)
class LiveState:
    providers: list[ProviderSample]
    queued: list[tuple[str, int]]  # (model, requests waiting for capacity)


HEALTH_STATUSES = ("healthy", "cooling_down", "unreachable")

_Metric = TypeVar("_Metric", Counter, Histogram)


class _Children(Generic[_Metric]):
    """A metric's labelled children by label values, looked up in one dict. prometheus_client's
    `labels()` checks the values and takes a lock on every call (~0.9 µs, seven calls per chat
    request); the child it returns for given values is always the same object, kept as long as the
    metric (nothing here removes children), so holding it here counts exactly the same."""

    __slots__ = ("_known", "_metric")

    def __init__(self, metric: _Metric):
        self._metric: _Metric = metric
        self._known: dict[tuple[str, ...], _Metric] = {}

    def __call__(self, *values: str) -> _Metric:
        child = self._known.get(values)
        if child is None:
            child = self._known[values] = self._metric.labels(*values)
        return child


class Metrics:
    """`registry` holds the counters and histograms; `/metrics` renders `exposed`. With several worker
    processes (`PROMETHEUS_MULTIPROC_DIR` set by `lockgate serve --workers N`), prometheus_client keeps
    each process's counters and histograms in a file of that directory, and `exposed` sums every
    worker's files (a dead worker's counts stay in); the scrape-time gauges and process series are the
    answering worker's."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.exposed = self.registry
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, shared)  # type: ignore[no-untyped-call]  # unannotated upstream
        ProcessCollector(registry=self.exposed)  # CPU, memory, open files (Linux)
        PlatformCollector(registry=self.exposed)  # Python version
        GCCollector(registry=self.exposed)  # collections per generation
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
        self._accounting_metrics()
        self._requests, self._latency = _Children(self.requests), _Children(self.latency)
        self._model_requests = _Children(self.model_requests)
        self._model_tokens, self._spend = _Children(self.model_tokens), _Children(self.spend)
        self._model_latency, self._model_ttft = _Children(self.model_latency), _Children(self.model_ttft)

    def _model_metrics(self) -> None:
        buckets = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
        self.model_requests = Counter(
            "lockgate_model_requests_total",
            "Admitted inference requests by model, provider name and status.",
            ["model", "provider", "status"],
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

    def _accounting_metrics(self) -> None:
        self.model_tokens = Counter(
            "lockgate_model_tokens_total",
            "Tokens by model, caller's role and kind (prompt or completion).",
            ["model", "role", "kind"],
            registry=self.registry,
        )
        self.spend = Counter(
            "lockgate_spend_total",
            "Cost charged (the routers' cost units) by model and caller's role.",
            ["model", "role"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "lockgate_limit_refusals_total",
            "Requests refused before any upstream call, by model and kind: rpm, rpd, tpm, tpd, budget, "
            "or limiter_unavailable (Redis down).",
            ["model", "kind"],
            registry=self.registry,
        )

    def observe_model(
        self,
        model: str,
        provider: str,
        role: str,
        status: int,
        prompt_tokens: int,
        completion_tokens: int,
        spent: float,
        latency_s: float,
        ttft_s: float | None,
    ) -> None:
        self._model_requests(model, provider, str(status)).inc()
        if prompt_tokens:
            self._model_tokens(model, role, "prompt").inc(prompt_tokens)
        if completion_tokens:
            self._model_tokens(model, role, "completion").inc(completion_tokens)
        if spent:
            self._spend(model, role).inc(spent)
        if status < 400:
            self._model_latency(model).observe(latency_s)
            if ttft_s is not None:
                self._model_ttft(model).observe(ttft_s)

    def refused(self, model: str, kind: str) -> None:
        self.refusals.labels(model, kind).inc()

    def watch(self, read: Callable[[], LiveState]) -> None:
        """Gauges read from the gateway at scrape time (free on the request path)."""
        self.exposed.register(_LiveCollector(read))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests(method, route, str(status)).inc()
        self._latency(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.exposed)


class _LiveCollector:
    def __init__(self, read: Callable[[], LiveState]):
        self._read = read

    def collect(self) -> Iterator[Metric]:
        state = self._read()
        labels = ["model", "provider"]
        inflight = GaugeMetricFamily("lockgate_model_inflight", "Requests in flight.", labels=labels)
        health = GaugeMetricFamily(
            "lockgate_provider_health",
            "1 for the provider's current status (healthy, cooling_down, unreachable), 0 for the others.",
            labels=[*labels, "status"],
        )
        cooldown = GaugeMetricFamily(
            "lockgate_provider_cooldown_remaining_seconds", "Seconds left in the cool-down.", labels=labels
        )
        failures = CounterMetricFamily(
            "lockgate_provider_failures", "Calls failed through the provider's fault.", labels=labels
        )
        cooldowns = CounterMetricFamily("lockgate_provider_cooldowns", "Cool-downs started.", labels=labels)
        for p in state.providers:
            key = [p.model, p.provider]
            inflight.add_metric(key, p.inflight)
            for status in HEALTH_STATUSES:
                health.add_metric([*key, status], 1 if p.status == status else 0)
            cooldown.add_metric(key, round(p.cooldown_seconds, 3))
            failures.add_metric(key, p.failures)
            cooldowns.add_metric(key, p.cooldowns)
        queue = GaugeMetricFamily(
            "lockgate_model_queue_depth", "Requests waiting for a saturated model (QoS).", labels=["model"]
        )
        for model, waiting in state.queued:
            queue.add_metric([model], waiting)
        yield from (inflight, health, cooldown, failures, cooldowns, queue)
