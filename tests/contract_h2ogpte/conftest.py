"""h2oGPTe contract tests: a live Lockgate (real local models: MiniLM embeddings, SmolLM2 chat) driven by
the official `h2ogpte` REST client (`h2ogpte.rest_sync`), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import importlib.util
import itertools
import os
from dataclasses import dataclass

import pytest

from lockgate.config import Settings
from tests import backends
from tests.helpers import MASTER_KEY
from tests.inference.conftest import REQUIRED
from tests.live import Live, live_server

_seq = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def lockgate(request, tmp_path_factory, sqlite_template, postgres) -> Live:
    missing = [m for m in (*REQUIRED, "h2ogpte") if importlib.util.find_spec(m) is None]
    if missing:
        message = f"not installed ({', '.join(missing)}): pip install -e '.[local,test]'"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("h2ogpte")
    if request.param == "sqlite":
        url = backends.fresh_sqlite(sqlite_template, directory)
    else:
        found, reason = postgres
        if found is None:
            pytest.skip(reason)
        url = backends.fresh_postgres_sync(*found)
    settings = Settings(
        data_dir=directory, database_url=url, master_key=MASTER_KEY, log_format="text", local_models="on"
    )
    with live_server(settings) as live:
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
