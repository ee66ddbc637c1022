"""/api/v1/whoami: the token's name and role, so the dashboard shows only the actions the
token may take (the API still checks every action itself)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from . import schemas
from .auth import Viewer
from .docs import document, errors

router = APIRouter(prefix="/api/v1", tags=["server"])


@router.get(
    "/whoami",
    summary="The request's token: its name and role",
    responses={
        **document("`{name, role}`; `role` one of viewer, operator, admin", schemas.WhoAmI),
        **errors(),
    },
)
def whoami(who: Viewer) -> JSONResponse:
    return JSONResponse({"name": who.name, "role": who.role, "actor": who.actor})
