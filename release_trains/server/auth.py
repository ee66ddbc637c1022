"""`Authorization: Bearer TOKEN` on every /api/v1/ route: none, unknown or revoked -> 401,
a role below the route's -> 403 (release_trains/tokens.py decides both)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from .. import tokens
from .context import ServerContext, context_of

# auto_error=False: a missing header is our 401 problem document, not FastAPI's 403
bearer = HTTPBearer(
    auto_error=False,
    description="A token from `release-trains token create NAME --role viewer|operator|admin`.",
)


def needs(role: str) -> Callable[..., Awaitable[tokens.Principal]]:
    """A dependency giving the request's principal, when its role is at least `role`.

    A coroutine: with the active tokens kept while the store is unchanged (unchanged.py), a
    request's token is checked on the event loop, with no hand-off to the thread pool; the
    tokens are read, and a last-used time written, in the thread pool."""

    async def principal(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> tokens.Principal:
        ctx = context_of(request)
        now = ctx.now()
        mark = await ctx.mark_async(request)  # before any read: what is kept is as new
        active = await ctx.unchanged.get_async(mark, "tokens", lambda: _active_tokens(ctx))
        who, due = tokens.identify(request.headers.get("authorization"), active, now=now)
        tokens.authorize(who, role)
        if due:
            await run_in_threadpool(_touch, ctx, who.name, now)
        return who

    principal.__name__ = f"needs_{role}"
    return principal


def _active_tokens(ctx: ServerContext) -> tuple[tokens.TokenRecordLike, ...]:
    with ctx.reading() as store:
        return () if store is None else tuple(store.active_tokens())


def _touch(ctx: ServerContext, name: str, now: datetime) -> None:
    with ctx.writing() as store:
        store.touch_token(name, now=now.isoformat(timespec="milliseconds"))


Viewer = Annotated[tokens.Principal, Depends(needs("viewer"))]
Operator = Annotated[tokens.Principal, Depends(needs("operator"))]
Admin = Annotated[tokens.Principal, Depends(needs("admin"))]
