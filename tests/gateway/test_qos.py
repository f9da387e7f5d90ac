"""QoS rules on measured values (sliding windows), without timing: samples carry their own clock."""

import time

from lockgate.gateway.qos import ProviderStats, SlidingWindow


def test_window_median_forgets_old_samples() -> None:
    window = SlidingWindow(seconds=60)
    now = time.monotonic()
    window.add(1000, now=now - 120)  # outside the window
    window.add(10, now=now - 1)
    window.add(30, now=now)
    assert window.median(now=now) == 20


def test_each_metric_is_enforced_against_its_limit() -> None:
    stats = ProviderStats()
    assert not stats.over_limit("ttft", 100)  # nothing measured yet: not over
    stats.record_success(latency_ms=900, ttft_ms=300, completion_tokens=30)
    assert stats.over_limit("ttft", 100) and not stats.over_limit("ttft", 500)
    assert stats.over_limit("latency", 500) and not stats.over_limit("latency", 1000)
    assert stats.over_limit("performance", 20) and not stats.over_limit("performance", 40)  # 30 ms/token
    stats.inflight = 2
    assert stats.over_limit("inflight", 2) and not stats.over_limit("inflight", 3)
    assert not stats.over_limit(None, None)


def test_consecutive_failures_trigger_a_cool_down_and_success_resets() -> None:
    stats = ProviderStats()
    stats.record_failure(threshold=3, cooldown_seconds=30)
    stats.record_success(latency_ms=1, ttft_ms=1, completion_tokens=None)
    stats.record_failure(threshold=3, cooldown_seconds=30)
    stats.record_failure(threshold=3, cooldown_seconds=30)
    assert not stats.cooling_down(time.monotonic())
    stats.record_failure(threshold=3, cooldown_seconds=30)
    assert stats.cooling_down(time.monotonic())
