"""Budgets, usage history with cost and carbon, durable usage records, priority queueing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from lockgate.config import Settings
from tests.accounting.helpers import chat, member_key
from tests.fakes.upstreams import FakeUpstream
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer
from tests.live import live_server

PRICED = {"cost_prompt_tokens": 1_000_000.0, "cost_completion_tokens": 0.0}  # 1.0 per prompt token


def test_exhausted_budget_is_refused_before_the_upstream(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), **PRICED)])
    _, key = member_key(live, budget=0.5)
    response = chat(live, key)
    assert response.status_code == 400  # as OpenGateLLM 0.4.1, the code tells it apart
    assert response.json()["error"]["code"] == "insufficient_budget"
    assert "Budget exhausted" in response.json()["error"]["message"]
    assert upstream.calls("/v1/chat/completions") == []
    _, rich = member_key(live, budget=100.0)
    assert chat(live, rich).status_code == 200


def test_concurrent_requests_never_overspend(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    upstream.delay = 0.3  # every request is in flight at the same time
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), **PRICED)])
    user_id, key = member_key(live, budget=5.0)  # worth five one-token prompts
    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda _: chat(live, key, max_tokens=1).status_code, range(20)))
    assert statuses.count(200) <= 5
    assert statuses.count(400) >= 15
    live.admin.get("/v1/admin/usage")  # writes pending usage rows (and their budget charges) out
    remaining = live.admin.get(f"/v1/admin/users/{user_id}").json()["budget"]
    assert remaining == pytest.approx(5.0 - statuses.count(200))
    assert remaining >= 0


def test_usage_rows_carry_cost_carbon_and_metrics(fake, lockgate) -> None:
    chat_up, embed_up = fake("openai", "up"), fake("openai", "emb")
    params = {"model_total_params": 8, "model_active_params": 8, "model_hosting_zone": "FRA"}
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(chat_up, **params), **PRICED),
            model("embed", "text-embeddings-inference", provider(embed_up), cost_prompt_tokens=2.0),
        ]
    )
    _, key = member_key(live)
    answer = chat(live, key).json()
    assert answer["usage"]["cost"] == pytest.approx(1.0)
    assert answer["usage"]["carbon"]["kWh"]["max"] > 0
    assert answer["usage"]["carbon"]["kgCO2eq"]["min"] > 0
    with httpx.stream(
        "POST",
        f"{live.url}/v1/chat/completions",
        headers=bearer(key),
        json={
            "model": "chat",
            "messages": [{"role": "user", "content": "ping"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        frames = [line for line in response.iter_lines() if '"usage"' in line]
    assert '"cost"' in frames[-1] and '"kgCO2eq"' in frames[-1]
    httpx.post(f"{live.url}/v1/embeddings", headers=bearer(key), json={"model": "embed", "input": "a b c"})
    mine = httpx.get(f"{live.url}/v1/me/usage", headers=bearer(key), params={"limit": 100}).json()
    assert mine["object"] == "list"
    rows = mine["data"]
    assert [r["endpoint"] for r in rows] == ["/v1/embeddings", "/v1/chat/completions", "/v1/chat/completions"]
    chat_row = rows[-1]
    assert chat_row["object"] == "me.usage" and chat_row["model"] == "chat" and chat_row["status"] == 200
    assert chat_row["usage"]["cost"] > 0 and chat_row["usage"]["carbon"]["kWh"]["min"] > 0
    assert chat_row["usage"]["metrics"]["latency"] > 0
    assert rows[0]["usage"]["carbon"]["kWh"]["max"] == 0  # no declared parameters: no estimate
    only_embed = httpx.get(
        f"{live.url}/v1/me/usage", headers=bearer(key), params={"endpoint": "/v1/embeddings"}
    ).json()["data"]
    assert len(only_embed) == 1
    future = httpx.get(
        f"{live.url}/v1/me/usage", headers=bearer(key), params={"start_time": int(time.time()) + 3600}
    ).json()["data"]
    assert future == []
    totals = live.admin.get("/v1/admin/usage", params={"limit": 1}).json()["totals"]
    assert totals["requests"] == 3 and totals["cost"] > 1


def test_failed_requests_are_recorded_without_cost(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream), **PRICED)])
    _, key = member_key(live, budget=50.0)
    upstream.fail_status = 500
    assert chat(live, key).status_code == 502
    rows = httpx.get(f"{live.url}/v1/me/usage", headers=bearer(key)).json()["data"]
    assert [(r["status"], r["usage"]["cost"]) for r in rows] == [(502, 0.0)]


def test_graceful_stop_mid_load_loses_no_usage_row(tmp_path, sqlite_url) -> None:
    with FakeUpstream("openai", "up") as upstream:
        upstream.delay = 0.1
        settings = Settings(
            data_dir=tmp_path,
            database_url=sqlite_url,
            master_key=MASTER_KEY,
            local_models="off",
            usage_flush_seconds=3600,  # nothing is written before the stop
            models=[model("chat", "text-generation", provider(upstream))],
        )
        answered: list[int] = []

        def send(live) -> None:
            for _ in range(10):
                try:
                    answered.append(chat(live, MASTER_KEY).status_code)
                except httpx.TransportError:
                    return  # the server is stopping: no more requests get in

        with live_server(settings) as live:
            senders = [threading.Thread(target=send, args=(live,)) for _ in range(6)]
            for sender in senders:
                sender.start()
            deadline = time.monotonic() + 20
            while len(upstream.calls("/v1/chat/completions")) < 12 and time.monotonic() < deadline:
                time.sleep(0.01)
        # the server stopped while requests were in flight; the senders see the rest refused
        for sender in senders:
            sender.join()
    served = answered.count(200)
    assert 12 <= served < 60
    with live_server(settings.model_copy(update={"models": []})) as live:
        total = live.admin.get("/v1/admin/usage").json()["totals"]["requests"]
    assert total == served


async def test_journal_left_by_a_crash_is_replayed_once(tmp_path, sqlite_url) -> None:
    from sqlalchemy import func, select

    from lockgate.accounting.models import Usage
    from lockgate.accounting.recorder import UsageRecorder
    from lockgate.kit.db import Database

    db = Database(sqlite_url)
    try:
        crashed = UsageRecorder(db, tmp_path / "journal", flush_seconds=3600)
        await crashed.start()
        for i in range(5):
            crashed.record(_row(f"req-{i}"))
        await crashed.flush()  # these two are in the database *and* journaled again below
        crashed.record(_row("req-5"))
        crashed.record(_row("req-6"))
        crashed._segment.close()  # the process dies: no flush, the journal stays on disk
        crashed._task.cancel()
        torn = orjson.dumps(_row("req-0")) + b"\n" + b'{"request_id": "req-'  # cut mid-line
        (tmp_path / "journal" / "usage-torn.jsonl").write_bytes(torn)
        restarted = UsageRecorder(db, tmp_path / "journal", flush_seconds=3600)
        await restarted.start()
        await restarted.stop()
        async with db.transaction() as session:
            count = await session.scalar(select(func.count(Usage.id)))
        assert count == 7
        assert list((tmp_path / "journal").glob("*.jsonl")) == []
    finally:
        await db.dispose()


async def test_a_flush_larger_than_one_statement_stores_every_row_whole(tmp_path, database_url) -> None:
    """SQLite writes many rows per INSERT (400 a statement): 1,001 rows cross two statement boundaries and
    a short last one; every value lands in its own column, and omitted columns take their defaults."""
    from sqlalchemy import func, select

    from lockgate.accounting.models import Usage
    from lockgate.accounting.recorder import UsageRecorder
    from lockgate.kit.db import Database

    db = Database(database_url)
    try:
        recorder = UsageRecorder(db, tmp_path / "journal", flush_seconds=3600)
        await recorder.start()
        for i in range(1001):
            recorder.record(
                {**_row(f"req-{i}"), "prompt_tokens": i, "latency_ms": i / 4, "estimated": i % 2 == 1}
            )
        await recorder.stop()
        async with db.transaction() as session:
            assert await session.scalar(select(func.count(Usage.id))) == 1001
            last = (await session.execute(select(Usage).where(Usage.request_id == "req-1000"))).scalar_one()
            odd = (await session.execute(select(Usage).where(Usage.request_id == "req-401"))).scalar_one()
        assert (last.prompt_tokens, last.latency_ms, last.estimated) == (1000, 250.0, False)
        assert (odd.prompt_tokens, odd.latency_ms, odd.estimated, odd.endpoint) == (
            401,
            100.25,
            True,
            "/v1/chat/completions",
        )
        assert (last.kwh_min, last.key_id, last.ttft_ms) == (0.0, None, None)  # defaults for omitted columns
    finally:
        await db.dispose()


async def test_stop_lets_a_flush_in_progress_finish(tmp_path, sqlite_url) -> None:
    """Stopping must not cut a flush mid-statement (the next flush would find SQLite's write lock held):
    the flush in progress completes, and every row is stored once."""
    import asyncio

    from sqlalchemy import func, select

    from lockgate.accounting.models import Usage
    from lockgate.accounting.recorder import UsageRecorder
    from lockgate.kit.db import Database

    db = Database(sqlite_url)
    try:
        recorder = UsageRecorder(db, tmp_path / "journal", flush_seconds=3600, batch_size=3)
        store, entered, release, calls = recorder._store, asyncio.Event(), asyncio.Event(), []

        async def slow_store(rows, fresh=False):
            calls.append("started")
            entered.set()
            try:
                await release.wait()
            except asyncio.CancelledError:
                calls.append("cancelled")
                raise
            await store(rows, fresh)
            calls.append(f"stored {len(rows)}")

        recorder._store = slow_store  # type: ignore[method-assign]
        await recorder.start()
        for i in range(3):
            recorder.record(_row(f"req-{i}"))  # the third wakes the loop: a flush starts
        await asyncio.wait_for(entered.wait(), timeout=10)
        stopping = asyncio.create_task(recorder.stop())
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.wait_for(stopping, timeout=30)
        assert calls == ["started", "stored 3"]  # the flush in progress ran to its end, alone
        async with db.transaction() as session:
            assert await session.scalar(select(func.count(Usage.id))) == 3
    finally:
        await db.dispose()


def _row(request_id: str) -> dict:
    return {
        "request_id": request_id,
        "created": int(time.time()),
        "user_id": 1,
        "endpoint": "/v1/chat/completions",
        "method": "POST",
        "status": 200,
        "prompt_tokens": 1,
        "completion_tokens": 1,
        "total_tokens": 2,
        "cost": 0.0,
    }


def test_higher_priority_users_are_served_first_when_saturated(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(upstream, qos_metric="inflight", qos_limit=1))],
        qos_queue_seconds=30,
    )
    _, low = member_key(live, priority=0)
    _, high = member_key(live, priority=5)
    upstream.delay = 1.0
    results: dict[str, int] = {}

    def send(name: str, key: str) -> None:
        body = {"model": "chat", "messages": [{"role": "user", "content": name}]}
        response = httpx.post(f"{live.url}/v1/chat/completions", headers=bearer(key), json=body, timeout=60)
        results[name] = response.status_code

    def wait_for(condition) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    blocker = threading.Thread(target=send, args=("blocker", low))
    blocker.start()
    wait_for(lambda: len(upstream.calls("/v1/chat/completions")) == 1)
    threads = []
    for name, key in (("low-1", low), ("low-2", low), ("high", high)):
        thread = threading.Thread(target=send, args=(name, key))
        thread.start()
        threads.append(thread)
        time.sleep(0.1)  # arrival order: low-1, low-2, high (all queued behind the blocker)
    for thread in [blocker, *threads]:
        thread.join()
    order = [r.json["messages"][0]["content"] for r in upstream.calls("/v1/chat/completions")]
    assert order == ["blocker", "high", "low-1", "low-2"]
    assert set(results.values()) == {200}
