"""Rate limits from role limit rows: exact, checked before the upstream call, shared through Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.accounting.helpers import chat, member_key, router_id
from tests.fakes.upstreams import FakeUpstream, free_port
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer, fresh_minute


def test_rpm_lets_exactly_five_of_eight_through(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "rpm", "value": 5}])
    fresh_minute()
    responses = [chat(live, key) for _ in range(8)]
    assert [r.status_code for r in responses] == [200] * 5 + [429] * 3
    refused = responses[-1]
    assert "rpm = 5" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert len(upstream.calls("/v1/chat/completions")) == 5  # refused before any upstream call


def test_tpm_counts_prompt_and_completion_tokens(fake, lockgate) -> None:
    upstream = fake("openai", "up")  # counts words: "ping" = 1 prompt token, "echo: ping" = 2 completion
    live = lockgate(models=[model("chat", "text-generation", provider(upstream))])
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "tpm", "value": 10}])
    fresh_minute()
    statuses = [chat(live, key).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]  # 3 + 3 + 3 + 3 = 12 > 10 after the fourth


def test_null_limit_is_unlimited_and_other_routers_are_unaffected(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[
            model("chat", "text-generation", provider(upstream)),
            model("other", "text-generation", provider(upstream)),
        ]
    )
    limits = [
        {"router": router_id(live, "chat"), "type": "rpm", "value": None},
        {"router": router_id(live, "other"), "type": "rpd", "value": 1},
    ]
    _, key = member_key(live, limits)
    assert all(chat(live, key).status_code == 200 for _ in range(4))
    assert [chat(live, key, "other").status_code for _ in range(2)] == [200, 429]


def _serve(config: Path, data_dir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKGATE_")}
    env.update(LOCKGATE_DATA_DIR=str(data_dir), LOCKGATE_LOG_FORMAT="text")
    lockgate = str(Path(sys.executable).parent / "lockgate")
    return subprocess.Popen(
        [lockgate, "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "lockgate exited"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not start")


def test_two_processes_sharing_redis_enforce_one_exact_count(tmp_path: Path, redis_url: str) -> None:
    with FakeUpstream("openai", "up") as upstream:
        config = tmp_path / "lockgate.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database_url": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
                    "master_key": MASTER_KEY,
                    "secret_key": "shared-secret-key-for-tests",
                    "redis_url": redis_url,
                    "models": [model("chat", "text-generation", provider(upstream))],
                }
            )
        )
        first_port, second_port = free_port(), free_port()
        first = _serve(config, tmp_path / "a", first_port)
        try:
            _wait_healthy(f"http://127.0.0.1:{first_port}", first)
            second = _serve(config, tmp_path / "b", second_port)  # started after: no migration race
            try:
                _wait_healthy(f"http://127.0.0.1:{second_port}", second)
                a = f"http://127.0.0.1:{first_port}"
                routers = httpx.get(f"{a}/v1/admin/routers", headers=bearer(MASTER_KEY)).json()["data"]
                role = httpx.post(
                    f"{a}/v1/admin/roles",
                    headers=bearer(MASTER_KEY),
                    json={
                        "name": "five",
                        "limits": [{"router": routers[0]["id"], "type": "rpm", "value": 5}],
                    },
                ).json()["id"]
                user = httpx.post(
                    f"{a}/v1/admin/users",
                    headers=bearer(MASTER_KEY),
                    json={"email": "shared@example.org", "password": "pw", "role": role},
                ).json()["id"]
                key = httpx.post(
                    f"{a}/v1/admin/tokens", headers=bearer(MASTER_KEY), json={"name": "k", "user": user}
                ).json()["token"]
                statuses = []
                fresh_minute()
                for i in range(8):
                    port = first_port if i % 2 == 0 else second_port
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/v1/chat/completions",
                        headers=bearer(key),
                        json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
                        timeout=30,
                    )
                    statuses.append(response.status_code)
                assert sorted(statuses) == [200] * 5 + [429] * 3
                assert len(upstream.calls("/v1/chat/completions")) == 5
            finally:
                second.terminate()
                second.wait(timeout=30)
        finally:
            first.terminate()
            first.wait(timeout=30)


def test_redis_down_refuses_limited_users_with_503_and_serves_the_rest(fake, lockgate) -> None:
    upstream = fake("openai", "up")
    live = lockgate(
        models=[model("chat", "text-generation", provider(upstream))],
        redis_url=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    )
    _, key = member_key(live, [{"router": router_id(live, "chat"), "type": "rpm", "value": 100}])
    refused = chat(live, key)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert "Rate limits cannot be checked" in refused.json()["error"]["message"]
    assert upstream.calls("/v1/chat/completions") == []  # never reached the upstream
    assert chat(live, MASTER_KEY).status_code == 200  # no limits to check: served
