from tests.inference.conftest import local  # noqa: F401  (a live Lockgate with the real local models)
