"""Provider health an operator can act on: the admin API, readiness and the log lines, on a live server."""

from __future__ import annotations

import logging
import time

import pytest

from tests.gateway.conftest import dead_url, model, provider

CHAT = {"messages": [{"role": "user", "content": "ping"}]}


def _records(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "lockgate.providers" and r.getMessage() == message]


def _health(live) -> dict:
    providers = live.admin.get("/v1/admin/providers").json()["data"]
    assert len(providers) == 1
    return providers[0]["health"]


def test_failures_cool_down_and_recovery_are_visible_and_logged(fake, lockgate, caplog) -> None:
    caplog.set_level(logging.INFO)
    upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(upstream))],
        provider_failure_threshold=2,
        provider_cooldown_seconds=1.5,
    )
    before = _health(live)
    assert before["status"] == "healthy" and before["last_error"] is None
    assert live.admin.get("/health/readiness").json()["status"] == "ready"

    upstream.fail_status = 503
    for _ in range(2):
        assert live.admin.post("/v1/chat/completions", json={"model": "chat", **CHAT}).status_code == 502
    cooling = _health(live)
    assert cooling["status"] == "cooling_down"
    assert "503" in cooling["last_error"]
    assert cooling["cooldown_until"] >= cooling["since"] >= before["since"]
    readiness = live.admin.get("/health/readiness")
    assert readiness.status_code == 200  # degraded is still serving
    assert readiness.json()["status"] == "degraded"
    assert readiness.json()["models"]["without_healthy_provider"] == ["chat"]

    failures = _records(caplog, "provider failure")
    assert len(failures) == 2
    name = f"openai:up@127.0.0.1:{upstream.port}"
    assert all(r.provider == name and r.model == "chat" and r.status == 502 for r in failures)
    assert [r.consecutive_failures for r in failures] == [1, 2]
    (started,) = _records(caplog, "provider cool-down started")
    assert started.provider == name and started.seconds == 1.5

    upstream.fail_status = None
    deadline = time.monotonic() + 30
    while not _records(caplog, "provider cool-down ended"):
        assert time.monotonic() < deadline, "no cool-down end logged"
        time.sleep(0.1)
    after = _health(live)
    assert after["status"] == "healthy"
    assert after["last_error"] == cooling["last_error"]  # kept for the operator
    assert live.admin.post("/v1/chat/completions", json={"model": "chat", **CHAT}).status_code == 200
    assert live.admin.get("/health/readiness").json()["status"] == "ready"


def test_an_unreachable_provider_says_so_with_its_error(lockgate, caplog) -> None:
    caplog.set_level(logging.INFO)
    live = lockgate(models=[model("ghost", "text-generation", provider(dead_url(), "vllm"))])
    health = _health(live)
    assert health["status"] == "unreachable"
    assert "unreachable" in health["last_error"]
    assert health["since"] <= time.time() + 1
    (record,) = _records(caplog, "provider unreachable")
    assert record.model == "ghost" and record.provider.startswith("vllm:ghost-model@127.0.0.1:")
    readiness = live.admin.get("/health/readiness").json()
    assert readiness["status"] == "degraded"
    assert readiness["models"] == {"total": 1, "without_healthy_provider": ["ghost"]}
