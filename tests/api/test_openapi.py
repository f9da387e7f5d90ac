"""/openapi.json is a valid OpenAPI document that /docs can use: a bearer scheme on every operation that
needs a key (the Authorize button), none on the public ones, summaries and error statuses."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.helpers import Api

PUBLIC = {
    ("/health", "get"),
    ("/health/liveness", "get"),
    ("/health/readiness", "get"),
    ("/v1/auth/login", "post"),
}


async def _document(api: Api) -> dict:
    response = await api.get("/openapi.json", key=None)
    assert response.status_code == 200
    return response.json()


async def test_the_document_validates_and_declares_bearer_security(api: Api) -> None:
    document = await _document(api)
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    operations = [
        (path, method, op) for path, item in document["paths"].items() for method, op in item.items()
    ]
    assert len(operations) > 100
    for path, method, operation in operations:
        assert operation.get("summary"), (path, method)
        if (path, method) in PUBLIC:
            assert "security" not in operation, (path, method)
        else:
            assert operation.get("security") == [{"bearer": []}], (path, method)
            assert "401" in operation["responses"], (path, method)


async def test_error_statuses_are_documented_where_they_apply(api: Api) -> None:
    paths = (await _document(api))["paths"]
    assert "403" in paths["/v1/admin/users"]["get"]["responses"]
    assert "403" not in paths["/v1/me/info"]["get"]["responses"]
    assert "404" in paths["/v1/admin/users/{user}"]["get"]["responses"]
    chat = paths["/v1/chat/completions"]["post"]["responses"]
    # an exhausted budget is OpenGateLLM's 400 on the routes it shares, 402 on the other surfaces
    assert {"400", "401", "429", "502", "503", "504"} <= set(chat) and "402" not in chat
    assert "402" in paths["/v1/responses"]["post"]["responses"]
    assert "422" in chat
    assert set(paths["/health/readiness"]["get"]["responses"]) >= {"200", "503"}


async def test_a_documented_key_works_the_way_docs_sends_it(api: Api) -> None:
    """What the Authorize button does: the scheme's header on a secured operation."""
    document = await _document(api)
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme["scheme"] == "bearer"
    me = await api.get(
        "/v1/me/info", key=None, headers={"Authorization": "Bearer sk-test-master-key-0123456789"}
    )
    assert me.status_code == 200


async def test_the_documents_can_be_kept_for_key_holders(settings) -> None:
    """public_api_docs: false — the schema answers only to a key, the browsable pages are not served."""
    import httpx

    from lockgate.app import create_app
    from tests.helpers import MASTER_KEY, bearer

    app = create_app(settings.model_copy(update={"public_api_docs": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lockgate.test") as client:
            assert (await client.get("/openapi.json")).status_code == 401
            assert (await client.get("/openapi.json", headers=bearer("sk-guess"))).status_code == 401
            keyed = await client.get("/openapi.json", headers=bearer(MASTER_KEY))
            assert keyed.status_code == 200 and "/v1/chat/completions" in keyed.json()["paths"]
            assert "/openapi.json" not in keyed.json()["paths"]
            assert (await client.get("/docs")).status_code == 404
            assert (await client.get("/redoc")).status_code == 404
            assert (await client.get("/health")).status_code == 200
