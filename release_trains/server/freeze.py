"""/api/v1/freeze: the freeze in force, and the platform-wide "stop the line" (`freeze`,
`unfreeze`), through the same library functions as the CLI."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .. import audit
from ..freezes import freeze_doc, freeze_platform, unfreeze_platform
from . import schemas
from .auth import Admin, Viewer
from .bodies import FreezeBody
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1", tags=["freeze"])


@router.get(
    "/freeze",
    summary="The freeze in force now (config windows included), null if none",
    responses={
        **document(
            "`{name, reason, until, since, source, actor}` or null", schemas.FreezeDoc | None
        ),
        **errors(),
    },
)
def get_freeze(request: Request, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog(services=False)
    with ctx.reading() as store:
        return JSONResponse(freeze_doc(catalog.config, store, ctx.now()))


@router.post(
    "/freeze",
    summary="Stop the line for every train (`freeze --reason R [--until T]`)",
    status_code=201,
    responses={
        **document("The `freeze --json` document.", schemas.FreezeChange, status=201),
        **errors(body=True),
    },
)
def post_freeze(request: Request, who: Admin, body: FreezeBody) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog(services=False)
    with ctx.writing() as store:
        doc = freeze_platform(
            catalog.config,
            store,
            reason=body.reason,
            until=body.until,
            who=who.actor,
            now=ctx.now(),
            audit_path=audit.path_for(ctx.root),
            notify=catalog,
            wait=False,  # the workers' senders deliver it: a request does not wait
        )
    return JSONResponse(doc, status_code=201)


@router.delete(
    "/freeze",
    summary="Lift the platform freeze (`unfreeze`); 409 when none is in force",
    responses={**document("The `unfreeze --json` document.", schemas.FreezeChange), **errors()},
)
def delete_freeze(request: Request, who: Admin) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog(services=False)
    with ctx.writing() as store:
        doc = unfreeze_platform(
            catalog.config,
            store,
            who=who.actor,
            now=ctx.now(),
            audit_path=audit.path_for(ctx.root),
            notify=catalog,
            wait=False,
        )
    return JSONResponse(doc)
