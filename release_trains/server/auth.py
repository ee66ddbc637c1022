"""`Authorization: Bearer TOKEN` on every /api/v1/ route: none, unknown or revoked -> 401,
a role below the route's -> 403 (release_trains/tokens.py decides both)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .. import tokens
from .context import context_of

# auto_error=False: a missing header is our 401 problem document, not FastAPI's 403
bearer = HTTPBearer(
    auto_error=False,
    description="A token from `release-trains token create NAME --role viewer|operator|admin`.",
)


def needs(role: str) -> Callable[..., Iterator[tokens.Principal]]:
    """A dependency giving the request's principal, when its role is at least `role`."""

    def principal(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Iterator[tokens.Principal]:
        ctx = context_of(request)
        with ctx.reading() as store:
            who = tokens.authenticate(store, request.headers.get("authorization"), now=ctx.now())
            tokens.authorize(who, role)
            # the route reads through it (ctx.reading(request)); closed when the request ends
            request.state.store = store
            try:
                yield who
            finally:
                request.state.store = None

    principal.__name__ = f"needs_{role}"
    return principal


Viewer = Annotated[tokens.Principal, Depends(needs("viewer"))]
Operator = Annotated[tokens.Principal, Depends(needs("operator"))]
Admin = Annotated[tokens.Principal, Depends(needs("admin"))]
