"""What an h2oGPTe client gets for a route of h2oGPTe that Lockgate does not serve: 501 in the
dialect of the caller (the REST client raises HTTPError 501, the H2OGPTE class's /rpc calls
NotImplementedError), never a bare 404 that the client cannot parse. Mounted after every surface."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from lockgate.api.h2ogpte.common import PREFIX

router = APIRouter(include_in_schema=False)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _message(request: Request) -> str:
    return f"{request.method} {request.url.path} is an h2oGPTe feature that Lockgate does not serve."


@router.api_route(PREFIX + "/{path:path}", methods=METHODS)
async def not_served(request: Request, path: str) -> JSONResponse:
    return JSONResponse({"code": 501, "message": _message(request)}, status_code=501)


@router.api_route("/rpc/{path:path}", methods=METHODS)
async def rpc_not_served(request: Request, path: str) -> JSONResponse:
    return JSONResponse({"error": _message(request)}, status_code=501)
