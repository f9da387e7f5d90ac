"""The master key may be chosen by a person (`master_key`): it is stored salted, never as its bare
SHA-256, and shows only a few characters of itself."""

from __future__ import annotations

import hashlib

from tests.helpers import MASTER_KEY, Api


async def _master_row(api: Api) -> tuple[str, str]:
    [(key_hash, display)] = await api.sql("SELECT key_hash, display FROM api_keys WHERE kind = 'master'")
    return key_hash, display


async def test_the_master_key_is_stored_salted_and_still_works(api: Api) -> None:
    key_hash, display = await _master_row(api)
    assert key_hash != hashlib.sha256(MASTER_KEY.encode()).hexdigest()
    assert len(key_hash) == 64 and MASTER_KEY[3:-2] not in display
    assert (await api.get("/v1/me/info")).status_code == 200
    assert (await api.get("/v1/me/info", key=MASTER_KEY + "x")).status_code == 401
    # the salt is random: the same key on another install (or after a restart) is stored differently
    await api.sql("UPDATE api_keys SET key_hash = 'x' WHERE kind = 'master'")
    await api.state.access.bootstrap(MASTER_KEY)
    assert (await _master_row(api))[0] not in (key_hash, "x")
    assert (await api.get("/v1/me/info")).status_code == 200


async def test_a_restart_with_the_same_master_key_keeps_its_row(api: Api) -> None:
    before = await _master_row(api)
    await api.state.access.bootstrap(MASTER_KEY)
    assert await _master_row(api) == before


async def test_a_master_key_stored_by_an_older_version_is_salted_on_first_use(api: Api) -> None:
    legacy = hashlib.sha256(MASTER_KEY.encode()).hexdigest()
    await api.sql("UPDATE api_keys SET key_hash = :h WHERE kind = 'master'", h=legacy)
    api.state.authenticator.clear()  # forget the key cached before the change
    assert (await api.get("/v1/me/info")).status_code == 200
    assert (await _master_row(api))[0] != legacy
    api.state.authenticator.clear()
    assert (await api.get("/v1/me/info")).status_code == 200
