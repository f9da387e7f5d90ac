from tests.gateway.conftest import fake, lockgate, sqlite_url  # noqa: F401  (shared fixtures)
