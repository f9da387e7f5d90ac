"""/health, /metrics and request ids."""

from tests.helpers import Api


async def test_health_needs_no_key_and_carries_a_request_id(api: Api) -> None:
    response = await api.get("/health", key=None)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_incoming_request_id_is_echoed(api: Api) -> None:
    response = await api.get("/health", key=None, headers={"X-Request-ID": "trace-abc-123"})
    assert response.headers["x-request-id"] == "trace-abc-123"


async def test_metrics_require_read_metric_permission(api: Api) -> None:
    assert (await api.get("/metrics", key=None)).status_code == 401
    plain = await api.create_member([])
    denied = await api.get("/metrics", key=plain.key)
    assert denied.status_code == 403
    assert "read_metric" in denied.json()["detail"]
    reader = await api.create_member(["read_metric"])
    allowed = await api.get("/metrics", key=reader.key)
    assert allowed.status_code == 200
    assert 'lockgate_http_requests_total{method="GET",route="/metrics",status="403"}' in allowed.text


async def test_docs_and_openapi_are_served(api: Api) -> None:
    assert (await api.get("/docs", key=None)).status_code == 200
    paths = (await api.get("/openapi.json", key=None)).json()["paths"]
    assert "/v1/admin/users/{user}" in paths
    assert "/v1/me/keys/{key}" in paths


async def test_liveness_and_readiness_need_no_key(api: Api) -> None:
    live = await api.get("/health/liveness", key=None)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await api.get("/health/readiness", key=None)
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "up"
    assert "redis" not in body["checks"]  # not configured
    assert body["models"] == {"total": 0, "without_healthy_provider": []}
