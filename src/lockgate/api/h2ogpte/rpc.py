"""The calls the `H2OGPTE` class makes outside /api/v1: GET /rpc/meta (its constructor checks the
server version there) and the upload store at /rpc/fs (upload, list and delete pending uploads).
Errors here are {"error": message}, which is what the class reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile

from lockgate import __version__
from lockgate.api.deps import Caller, ChatCaller, Context, State
from lockgate.api.errors import Dialect
from lockgate.api.h2ogpte.common import from_public_id, to_public_id
from lockgate.api.h2ogpte.library_views import UploadsDep
from lockgate.api.uploads import read_upload
from lockgate.identity.schemas import Permission

# The h2oGPTe API version this surface follows: the client warns (or, strict, refuses) on any other.
H2OGPTE_VERSION = "1.7.5"


async def rpc_dialect(request: Request) -> None:
    request.state.dialect = Dialect.H2OGPTE_RPC


router = APIRouter(prefix="/rpc", tags=["h2oGPTe client"], dependencies=[Depends(rpc_dialect)])


@router.get("/meta")
async def get_meta(principal: ChatCaller) -> dict[str, Any]:
    """Meta: the version, the license (none to expire) and who is calling. A collection key may ask."""
    permissions = sorted({p.value for p in Permission if principal.has(p)})
    return {
        "version": H2OGPTE_VERSION,
        "build": f"lockgate-{__version__}",
        "username": principal.email,
        "user_id": str(principal.user_id),
        "subject": str(principal.user_id),
        "email": principal.email,
        "is_guest": False,
        "license_expired": False,
        "license_expiry_date": "",
        "global_configs": [],
        "user_configs": [],
        "picture": None,
        "groups": [],
        "workspaces": [],
        "permissions": permissions,
        "ui_config": {
            "logo": "",
            "chat_logo": "",
            "primary_color": "",
            "chat_name": "Lockgate",
            "greeting": "",
            "show_private_button": False,
            "show_workers_status": False,
            "show_live_logs": False,
            "show_eval": False,
            "show_extractors": False,
            "public_mode": False,
        },
    }


@router.put("/fs")
async def upload(
    ctx: Context,
    state: State,
    uploads: UploadsDep,
    file: Annotated[UploadFile, File()],
    mtime: Annotated[str, Form()] = "",
    uri: Annotated[str, Form()] = "",
) -> dict[str, str]:
    """A file kept until ingested into a collection: {"id": upload id}."""
    data = await read_upload(file, state.settings.max_upload_bytes)
    upload_id = await uploads.save(ctx.principal, file.filename or "document", file.content_type, data)
    return {"id": to_public_id("upload", upload_id)}


@router.get("/fs")
async def list_uploads(principal: Caller, uploads: UploadsDep) -> list[str]:
    """The caller's pending upload ids."""
    return [to_public_id("upload", u) for u in await uploads.pending(principal)]


@router.delete("/fs")
async def delete_upload(
    principal: Caller, uploads: UploadsDep, id: Annotated[str, Query()]
) -> dict[str, Any]:
    await uploads.forget(principal, from_public_id("upload", id))
    return {"id": id}
