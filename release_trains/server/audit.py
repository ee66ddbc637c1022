"""/api/v1/audit: the audit records (`audit --json [--train T]`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ..reports import Window, train_audit
from . import schemas
from .auth import Viewer
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get(
    "/audit",
    summary="The audit records, oldest first (`audit --json`)",
    responses={
        **document(
            "`[{ts, actor, action, train, service, detail}]`, as `audit --json`",
            list[schemas.AuditRecord],
        ),
        **errors(400, 404),
    },
)
def records(
    request: Request,
    who: Viewer,
    train: Annotated[str | None, Query(max_length=200, description="Only this train's.")] = None,
    since: Annotated[
        str | None, Query(max_length=20, description="Only newer than this: 30m, 12h, 7d, 2w.")
    ] = None,
) -> JSONResponse:
    ctx = context_of(request)
    window = Window.of(since, now=ctx.now())
    with ctx.reading() as store:
        return JSONResponse(train_audit(ctx.root, store, train=train, window=window))
