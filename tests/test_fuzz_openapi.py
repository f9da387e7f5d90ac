"""Schemathesis over /openapi.json: every operation, with the master key and with a plain user's key,
answers no unexpected 5xx (see EXPECTED_5XX) and only bodies its declared response schemas allow.

Bounded so it stays within a few minutes on 2 busy cores: `EXAMPLES` generated cases per operation and
key, derandomized (the same cases every run), no shrinking. Models are fake upstreams (remote providers
speak their real wire format) so inference routes are exercised end to end without local models.

Excluded operations, each with its reason (they are covered by their own tests):"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

from lockgate.config import Settings
from tests import backends
from tests.gateway.conftest import model, provider
from tests.helpers import MASTER_KEY, bearer
from tests.live import live_server

EXAMPLES = 12

# 5xx statuses that are the right answer in this setup, not faults: 503 when no provider can serve
# the model asked for (no OCR model, no embedding model for search here), 501 for the declared
# not-implemented /v1/parse-beta. Anything else >= 500 (a 500 above all) fails.
EXPECTED_5XX = {501, 503}


def no_unexpected_server_error(ctx, response, case) -> None:
    if response.status_code >= 500 and response.status_code not in EXPECTED_5XX:
        raise AssertionError(f"server error {response.status_code}: {response.text[:300]}")


EXCLUDED = {
    # The fuzzer would revoke or demote the very keys it fuzzes with (any small id is the master's
    # or the plain user's): every later case would be a 401, which proves nothing.
    ("DELETE", "/v1/admin/users/{user}"): "can delete the fuzzing users",
    ("PATCH", "/v1/admin/users/{user}"): "can expire or demote the fuzzing users",
    ("DELETE", "/v1/admin/tokens/{token}"): "can revoke the fuzzing keys",
    ("PATCH", "/v1/admin/tokens/{token}"): "can expire the fuzzing keys",
    ("DELETE", "/v1/me/keys/{key}"): "can revoke the fuzzing key",
    ("DELETE", "/v1/admin/roles/{role}"): "can delete the fuzzing user's role",
    ("PATCH", "/v1/admin/roles/{role}"): "can strip the master role's permissions",
}
__doc__ += "".join(f"\n- {method} {path}: {why}" for (method, path), why in EXCLUDED.items())


@pytest.fixture(scope="module")
def server(tmp_path_factory, sqlite_template):
    from tests.fakes.upstreams import FakeUpstream

    directory = tmp_path_factory.mktemp("fuzz")
    chat, embed = FakeUpstream("vllm", "up-chat"), FakeUpstream("openai", "up-embed", embedding_dim=8)
    with chat, embed:
        settings = Settings(
            data_dir=directory,
            database_url=backends.fresh_sqlite(sqlite_template, directory),
            master_key=MASTER_KEY,
            log_format="text",
            local_models="off",
            rag_embedding_model="embed",  # a RAG deployment is configured with a model it serves
            models=[
                model("chat", "text-generation", provider(chat)),
                model("embed", "text-embeddings-inference", provider(embed)),
            ],
        )
        with live_server(settings) as live:
            role = live.admin.post("/v1/admin/roles", json={"name": "plain", "permissions": []}).json()
            user = live.admin.post(
                "/v1/admin/users", json={"email": "plain@example.org", "password": "pw", "role": role["id"]}
            ).json()
            token = live.admin.post("/v1/admin/tokens", json={"name": "fuzz", "user": user["id"]})
            key = token.json()["token"]
            yield live, {"master": MASTER_KEY, "user": key}


def _fuzz(operation, base_url: str, key: str) -> list[str]:
    failures: list[str] = []

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy())
    def run(case) -> None:
        try:
            case.call_and_validate(
                base_url=base_url,
                headers=bearer(key),
                checks=[no_unexpected_server_error, response_schema_conformance],
                timeout=120,
            )
        except (Exception, BaseExceptionGroup) as exc:  # collected: one report for all operations
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc).splitlines()[0:6]}")

    run()
    return failures


@pytest.mark.parametrize("who", ["master", "user"])
def test_no_server_error_and_no_schema_violation(server, who: str) -> None:
    live, keys = server
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    seen = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        seen += 1
        failures += _fuzz(operation, live.url, keys[who])
    assert seen > 60  # every operation of every surface was fuzzed
    assert live.admin.get("/health").status_code == 200
    assert failures == [], "\n".join(dict.fromkeys(failures))
