"""Fixtures of the dialect tests (Anthropic Messages, OpenAI Responses): fake upstreams and live servers."""

from tests.gateway.conftest import fake, lockgate, sqlite_url  # noqa: F401
