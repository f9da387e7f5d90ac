"""Live provider statistics: in-flight counts, sliding windows of measured times, circuit breaker."""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass, field

from lockgate.gateway.schemas import QosMetric

WINDOW_SECONDS = 60.0
MAX_SAMPLES = 512


class SlidingWindow:
    """Samples of the last WINDOW_SECONDS; the median is what QoS compares to its limit."""

    def __init__(self, seconds: float = WINDOW_SECONDS):
        self.seconds = seconds
        self._samples: deque[tuple[float, float]] = deque(maxlen=MAX_SAMPLES)

    def add(self, value: float, now: float | None = None) -> None:
        self._samples.append((now if now is not None else time.monotonic(), value))

    def median(self, now: float | None = None) -> float | None:
        horizon = (now if now is not None else time.monotonic()) - self.seconds
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()
        if not self._samples:
            return None
        return statistics.median(v for _, v in self._samples)


@dataclass
class ProviderStats:
    inflight: int = 0
    healthy: bool = True
    consecutive_failures: int = 0
    cooldown_until: float = 0.0  # time.monotonic()
    next_probe_at: float | None = None  # time.monotonic(): when an unreachable provider is probed again
    last_error: str | None = None
    last_error_at: float | None = None  # time.time()
    status_since: float = field(default_factory=time.time)  # last change of health status, time.time()
    failures_total: int = 0
    cooldowns_total: int = 0
    ttft_ms: SlidingWindow = field(default_factory=SlidingWindow)
    latency_ms: SlidingWindow = field(default_factory=SlidingWindow)
    ms_per_token: SlidingWindow = field(default_factory=SlidingWindow)

    def cooling_down(self, now: float) -> bool:
        return self.cooldown_until > now

    def record_success(self, latency_ms: float, ttft_ms: float | None, completion_tokens: int | None) -> None:
        self.consecutive_failures = 0
        self.latency_ms.add(latency_ms)
        if ttft_ms is not None:
            self.ttft_ms.add(ttft_ms)
        if completion_tokens:
            self.ms_per_token.add(latency_ms / completion_tokens)

    def record_failure(self, threshold: int, cooldown_seconds: float, error: str | None = None) -> bool:
        """Count a failure; True when it starts a cool-down."""
        self.consecutive_failures += 1
        self.failures_total += 1
        self.last_error, self.last_error_at = error, time.time()
        if self.consecutive_failures >= threshold:
            now = time.monotonic()
            if not self.cooling_down(now):
                self.status_since = self.last_error_at
            self.cooldown_until = now + cooldown_seconds
            self.consecutive_failures = 0
            self.cooldowns_total += 1
            return True
        return False

    def over_limit(self, metric: str | None, limit: float | None) -> bool:
        if metric is None or limit is None:
            return False
        if metric == QosMetric.INFLIGHT:
            return self.inflight >= limit
        window = {
            QosMetric.TTFT: self.ttft_ms,
            QosMetric.LATENCY: self.latency_ms,
            QosMetric.PERFORMANCE: self.ms_per_token,
        }.get(QosMetric(metric))
        value = window.median() if window is not None else None
        return value is not None and value > limit
