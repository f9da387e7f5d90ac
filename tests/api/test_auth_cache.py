"""Authentication is served from memory: a warm key costs no database round trip."""

import asyncio

from sqlalchemy import event

from tests.helpers import Api


async def test_warm_key_authenticates_without_touching_the_database(api: Api) -> None:
    reader = await api.create_member(["read_metric"])
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = api.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert (await api.get("/metrics", key=reader.key)).status_code == 200  # cold: loads the key
        cold = len(statements)
        for _ in range(5):
            assert (await api.get("/metrics", key=reader.key)).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert cold >= 1
    assert len(statements) == cold


async def test_concurrent_requests_with_a_cold_key_share_one_load(api: Api) -> None:
    """When a hot key's entry expires under load, the requests in flight read it once, not each."""
    reader = await api.create_member(["read_metric"])
    api.state.authenticator.clear()
    loads: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        if "api_keys" in statement:
            loads.append(statement)

    engine = api.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        statuses = await asyncio.gather(*(api.get("/metrics", key=reader.key) for _ in range(20)))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [r.status_code for r in statuses] == [200] * 20
    assert len(loads) == 1


async def test_a_wrong_key_fails_every_waiter(api: Api) -> None:
    statuses = await asyncio.gather(*(api.get("/metrics", key="sk-wrong") for _ in range(5)))
    assert [r.status_code for r in statuses] == [401] * 5


async def test_a_load_begun_before_a_change_does_not_answer_calls_made_after_it() -> None:
    """A key deleted (or a role changed) while its load is in flight: later calls read again."""
    from lockgate.identity.authenticator import Authenticator

    authenticator = Authenticator(db=None, ttl_seconds=10)  # type: ignore[arg-type]
    release, loads = asyncio.Event(), []

    async def load(key_hash: str, raw_key: str):
        loads.append(key_hash)
        generation = len(loads)
        await release.wait()
        return generation

    authenticator._load = load  # type: ignore[method-assign]
    first = asyncio.create_task(authenticator._shared_load("h", "sk-h"))
    joined = asyncio.create_task(authenticator._shared_load("h", "sk-h"))
    await asyncio.sleep(0)
    authenticator.forget(["h"])
    after = asyncio.create_task(authenticator._shared_load("h", "sk-h"))
    await asyncio.sleep(0)
    release.set()
    assert (await first, await joined, await after) == (1, 1, 2)
    assert authenticator._loading == {}
