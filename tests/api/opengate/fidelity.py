"""Shared steps of the OpenGateLLM 0.4.1 fidelity tests: a model served by a fake upstream."""

from __future__ import annotations

from tests.fakes.upstreams import FakeUpstream
from tests.helpers import Api


async def serve(
    api: Api, upstream: FakeUpstream, name: str, type_: str, provider_type: str | None = None
) -> int:
    """A router `name` of `type_` with `upstream` as its one provider; returns the router id."""
    router = await api.post("/v1/admin/routers", json={"name": name, "type": type_})
    assert router.status_code == 201, router.text
    body = {
        "router": router.json()["id"],
        "type": provider_type or upstream.flavor,
        "url": upstream.url,
        "model_name": upstream.model,
    }
    if upstream.api_key:
        body["key"] = upstream.api_key
    provider = await api.post("/v1/admin/providers", json=body)
    assert provider.status_code == 201, provider.text
    return router.json()["id"]
