"""Prices, budgets and QoS limits are finite numbers: Infinity, NaN and 1e400 (which JSON parsers read as
infinity) are refused with 422 naming the field, instead of being stored and shown as null."""

from __future__ import annotations

import pytest

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("number", [b"1e400", b"Infinity", b"NaN"])
async def test_a_budget_must_be_finite(api, number: bytes) -> None:
    role = await api.create_role()
    body = b'{"email": "inf@example.org", "password": "pw", "role": %d, "budget": %s}' % (role, number)
    response = await api.post("/v1/admin/users", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert "budget" in str(response.json()["detail"])


@pytest.mark.parametrize("number", [b"1e400", b"Infinity"])
async def test_a_price_must_be_finite(api, number: bytes) -> None:
    body = b'{"name": "priced", "type": "text-generation", "cost_prompt_tokens": %s}' % number
    response = await api.post("/v1/admin/routers", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert "cost_prompt_tokens" in str(response.json()["detail"])
