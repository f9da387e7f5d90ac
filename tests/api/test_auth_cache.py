"""Authentication is served from memory: a warm key costs no database round trip."""

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
