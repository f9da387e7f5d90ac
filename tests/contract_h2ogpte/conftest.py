"""h2oGPTe contract tests: a live Lockgate (real local models: MiniLM embeddings, SmolLM2 chat) driven by
the official `h2ogpte` REST client (`h2ogpte.rest_sync`), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.gateway.conftest import dead_url, model, provider
from tests.live import Live, local_models_server

_seq = itertools.count(1)


# Small enough that a test can exceed it without shipping 25 MB.
MAX_UPLOAD_BYTES = 2_000_000


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def lockgate(request, tmp_path_factory, sqlite_template, postgres) -> Live:
    """Besides the local models, a chat model "ghost" whose only upstream is down."""
    directory = tmp_path_factory.mktemp("h2ogpte")
    ghost = model("ghost", "text-generation", provider(dead_url(), "openai"))
    with local_models_server(
        request.param,
        directory,
        sqlite_template,
        postgres,
        needs=("h2ogpte",),
        models=[ghost],
        max_upload_bytes=MAX_UPLOAD_BYTES,
    ) as live:
        yield live


@dataclass
class H2oUser:
    """One user of the h2oGPTe surface: their key, username (email) and an authenticated REST client."""

    key: str
    username: str
    user_id: int
    client: object  # h2ogpte.rest_sync.ApiClient

    def api(self, name: str):
        """e.g. user.api("CollectionsApi") → h2ogpte.rest_sync.CollectionsApi bound to this user."""
        import h2ogpte.rest_sync as rest

        return getattr(rest, name)(self.client)


def rest_client(live: Live, key: str):
    import h2ogpte.rest_sync as rest

    configuration = rest.Configuration(host=f"{live.url}/api/v1", access_token=key)
    return rest.ApiClient(configuration)


@pytest.fixture
def new_user(lockgate: Live):
    """A factory of fresh users (own role with no special permission) with a global API key."""

    def make(permissions: list[str] | None = None) -> H2oUser:
        n = next(_seq)
        admin = lockgate.admin
        role = admin.post("/v1/admin/roles", json={"name": f"h2o-{n}", "permissions": permissions or []})
        assert role.status_code == 201, role.text
        email = f"h2o{n}@example.org"
        user = admin.post(
            "/v1/admin/users", json={"email": email, "password": "pw", "role": role.json()["id"]}
        )
        assert user.status_code == 201, user.text
        key = admin.post("/v1/admin/tokens", json={"name": "k", "user": user.json()["id"]}).json()["token"]
        return H2oUser(key, email, user.json()["id"], rest_client(lockgate, key))

    return make
