"""Fixtures for gateway tests: fake upstreams and live Lockgate servers in front of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from lockgate.config import Settings
from tests import backends
from tests.fakes.upstreams import FakeUpstream
from tests.helpers import MASTER_KEY
from tests.live import Live, live_server


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    return backends.fresh_sqlite(sqlite_template, tmp_path)


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeUpstream]]:
    """Start fake upstreams: fake("vllm", "model-x", api_key=...)."""
    with ExitStack() as stack:
        yield lambda *args, **kwargs: stack.enter_context(FakeUpstream(*args, **kwargs))


@pytest.fixture
def lockgate(sqlite_url: str, tmp_path) -> Iterator[Callable[..., Live]]:
    """Start Lockgate: lockgate(models=[...], provider_cooldown_seconds=...)."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> Live:
            settings = Settings(
                data_dir=tmp_path,
                database_url=sqlite_url,
                master_key=MASTER_KEY,
                log_format="text",
                # fake upstreams live on 127.0.0.1: allowed for providers added through the API (SSRF
                # guard), on purpose
                **{"local_models": "off", "provider_allowed_networks": ["127.0.0.0/8"], **overrides},
            )
            return stack.enter_context(live_server(settings))

        yield start


def model(name: str, type_: str, *providers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "providers": list(providers), **fields}


def provider(upstream: FakeUpstream | str, type_: str | None = None, **fields: Any) -> dict[str, Any]:
    if isinstance(upstream, FakeUpstream):
        url, model_name = upstream.url, upstream.model
        type_ = type_ or upstream.flavor
        if upstream.api_key:
            fields.setdefault("key", upstream.api_key)
    else:
        url, model_name = upstream, "ghost-model"
    return {"type": type_, "url": url, "model_name": model_name, **fields}


def dead_url() -> str:
    """A loopback URL where nothing listens."""
    from tests.fakes.upstreams import free_port

    return f"http://127.0.0.1:{free_port()}"
