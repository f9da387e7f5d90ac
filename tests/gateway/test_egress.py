"""SSRF guard: providers added through the API reach public addresses only, unless the operator allows a
network; a failed provider check never echoes what the target answered."""

from __future__ import annotations

import pytest

from lockgate.config import Settings
from lockgate.gateway.egress import EgressPolicy
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY
from tests.live import live_server


@pytest.mark.parametrize(
    ("address", "permitted"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("not-an-address", False),
    ],
)
def test_only_public_addresses_by_default(address: str, permitted: bool) -> None:
    assert EgressPolicy().permits(address) is permitted


def test_an_allowed_network_is_permitted() -> None:
    policy = EgressPolicy(["10.0.0.0/8", "::1/128"])
    assert policy.permits("10.1.2.3") and policy.permits("::1")
    assert not policy.permits("192.168.1.1")


def _router(live) -> int:
    created = live.admin.post("/v1/admin/routers", json={"name": "guarded", "type": "text-generation"})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_a_private_provider_url_is_refused_without_a_request(fake, lockgate) -> None:
    target = fake("openai", "secret-model")
    live = lockgate(provider_allowed_networks=[])
    router = _router(live)
    for url in (target.url, target.url.replace("127.0.0.1", "localhost"), "http://169.254.169.254"):
        body = {"router": router, "type": "openai", "url": url, "model_name": "secret-model", "timeout": 5}
        response = live.admin.post("/v1/admin/providers", json=body)
        assert response.status_code == 422, (url, response.text)
        assert "refused" in response.text
    assert target.requests == []  # never contacted


def test_a_failed_provider_check_does_not_echo_the_target(fake, lockgate) -> None:
    target = fake("openai", "internal-secret-id")
    live = lockgate()  # 127.0.0.0/8 allowed: the check reaches the target
    router = _router(live)
    wrong_model = {"router": router, "type": "openai", "url": target.url, "model_name": "x", "timeout": 5}
    response = live.admin.post("/v1/admin/providers", json=wrong_model)
    assert response.status_code == 424
    assert "internal-secret-id" not in response.text  # what the target serves is not told
    target.fail_probe, target.fail_status = True, 500
    right_model = {**wrong_model, "model_name": "internal-secret-id"}
    response = live.admin.post("/v1/admin/providers", json=right_model)
    assert response.status_code == 424
    assert "HTTP 500" in response.text
    assert "fake upstream failure" not in response.text  # the target's error body is not echoed
    assert target.calls("/v1/models")


def test_config_file_providers_are_the_operators_own(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(upstream))], provider_allowed_networks=[]
    )
    answer = live.admin.post(
        "/v1/chat/completions", json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert answer.status_code == 200


def test_the_guard_follows_the_providers_origin_not_its_owner(fake, sqlite_url, tmp_path) -> None:
    """Config providers belong to the master user, as providers the master adds through the API do: only
    where a provider was declared decides whether the guard applies (checked again on every call)."""
    declared, added = fake("openai", "declared-model"), fake("openai", "added-model")
    base = {
        "data_dir": tmp_path,
        "database_url": sqlite_url,
        "master_key": MASTER_KEY,
        "log_format": "text",
        "local_models": "off",
        "models": [model("chat", "text-generation", provider(declared))],
    }
    with live_server(Settings(**base, provider_allowed_networks=["127.0.0.0/8"])) as live:
        body = {"router": _router(live), "type": "openai", "url": added.url, "model_name": "added-model"}
        assert live.admin.post("/v1/admin/providers", json={**body, "timeout": 5}).status_code == 201
        owners = {p["user_id"] for p in live.admin.get("/v1/admin/providers").json()["data"]}
        assert len(owners) == 1 and None not in owners  # same owner: the master
    # The operator no longer allows loopback: the API's provider is refused, the config file's is not.
    with live_server(Settings(**base, provider_allowed_networks=[])) as live:
        hello = {"messages": [{"role": "user", "content": "hi"}]}
        assert live.admin.post("/v1/chat/completions", json={**hello, "model": "chat"}).status_code == 200
        refused = live.admin.post("/v1/chat/completions", json={**hello, "model": "guarded"})
        assert refused.status_code == 503, refused.text
    assert added.calls("/v1/chat/completions") == []
