"""Config-declared models written by several processes starting at once."""

from __future__ import annotations

import asyncio

from lockgate.config import ModelSettings
from lockgate.gateway.config_sync import sync_config_models
from tests.gateway.conftest import dead_url, model, provider
from tests.helpers import Api


async def test_processes_starting_together_declare_each_model_once(api: Api) -> None:
    """`lockgate serve --workers 2` (or replicas on one database) sync the config's models at the same
    moment: the process that loses the race on a router's name retries and finds the winner's rows. It
    used to fail its startup on the unique name, and uvicorn then stopped the whole server."""
    declared = [
        ModelSettings(
            **model("racer", "text-generation", provider(dead_url(), "openai"), aliases=["racer-alias"])
        )
    ]
    box = api.state.gateway_admin.box
    await asyncio.gather(*(sync_config_models(api.state.db, box, declared) for _ in range(4)))
    routers = await api.sql("SELECT id FROM routers WHERE name = 'racer'")
    assert len(routers) == 1
    providers = await api.sql("SELECT id FROM providers WHERE router_id = :r", r=routers[0][0])
    assert len(providers) == 1
    aliases = await api.sql("SELECT count(*) FROM router_aliases WHERE alias = 'racer-alias'")
    assert aliases[0][0] == 1
