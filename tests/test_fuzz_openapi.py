"""Schemathesis over /openapi.json: every operation, with the master key and with a plain user's key,
answers no unexpected 5xx (see EXPECTED_5XX) and only bodies its declared response schemas allow.

Bounded so it stays within a few minutes on 2 busy cores: `EXAMPLES` generated cases per operation and
key, derandomized (the same cases every run), no shrinking. Models are fake upstreams (remote providers
speak their real wire format) so inference routes are exercised end to end without local models.

A 5xx passes only when the operation declares that very status (502/503/504 on the inference routes:
upstream failures; 501 on /v1/parse-beta); a 500 never does, nor a status only covered by a "5XX" range.

The destructive operations (they could revoke or demote the keys the fuzzer uses) are fuzzed last, in
their own test, with keys made for them: the master key (the master user can be neither deleted,
expired nor stripped of its permissions, and its key is no token) and a plain user's throwaway key.
Operations left out entirely, each with its reason:"""

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


def no_undeclared_server_error(ctx, response, case) -> None:
    """A 5xx only where the operation declares that exact status (never 500, never via "5XX")."""
    status = response.status_code
    if status >= 500 and (status == 500 or str(status) not in case.operation.definition.raw["responses"]):
        raise AssertionError(f"server error {status} not declared here: {response.text[:300]}")


# Fuzzed last, by `test_destructive_operations` (they can revoke or demote the keys the fuzzer uses:
# any small id is the master's or the plain user's, and every later case would be a 401).
DESTRUCTIVE = {
    ("DELETE", "/v1/admin/users/{user}"),
    ("PATCH", "/v1/admin/users/{user}"),
    ("DELETE", "/v1/admin/tokens/{token}"),
    ("PATCH", "/v1/admin/tokens/{token}"),
    ("DELETE", "/v1/me/keys/{key}"),
    ("DELETE", "/v1/admin/roles/{role}"),
    ("PATCH", "/v1/admin/roles/{role}"),
}
EXCLUDED: dict[tuple[str, str], str] = {}  # none: every operation is fuzzed
__doc__ += "".join(f"\n- {method} {path}: {why}" for (method, path), why in EXCLUDED.items()) or " none."


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
                checks=[no_undeclared_server_error, response_schema_conformance],
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
        if (operation.method.upper(), operation.path) in EXCLUDED.keys() | DESTRUCTIVE:
            continue
        seen += 1
        failures += _fuzz(operation, live.url, keys[who])
    assert seen > 60  # every operation of every surface was fuzzed
    assert live.admin.get("/health").status_code == 200
    assert failures == [], "\n".join(dict.fromkeys(failures))


def test_destructive_operations(server) -> None:
    """After the others (same module server): a throwaway user's key first (403s, or revoking itself),
    then the master key, which survives whatever the cases do to other users, roles and tokens."""
    live, _ = server
    role = live.admin.post("/v1/admin/roles", json={"name": "throwaway", "permissions": []}).json()
    user = live.admin.post(
        "/v1/admin/users", json={"email": "throwaway@example.org", "password": "pw", "role": role["id"]}
    ).json()
    throwaway = live.admin.post("/v1/admin/tokens", json={"name": "t", "user": user["id"]}).json()["token"]
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    destructive = [o for o in operations if (o.method.upper(), o.path) in DESTRUCTIVE]
    assert len(destructive) == len(DESTRUCTIVE)
    for key in (throwaway, MASTER_KEY):
        for operation in destructive:
            failures += _fuzz(operation, live.url, key)
    assert live.admin.get("/v1/me/info").status_code == 200  # the master key still works
    assert live.admin.get("/health").status_code == 200
    assert failures == [], "\n".join(dict.fromkeys(failures))
