"""/api/v1/monitoring: the four-level snapshot of a train, a service's health now, and its
signal readings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ..monitoring import health_now, recorded, snapshot
from ..reports import performance
from . import schemas
from .auth import Viewer
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])

Name = Annotated[str, Path(min_length=1, max_length=200)]


@router.get(
    "/release-trains/{train}",
    summary="Train, services, gates and dependencies, with recent events (`monitor --json`)",
    responses={**document("The `monitor TRAIN --json` document.", schemas.Status), **errors(404)},
)
def train_snapshot(request: Request, train: Name, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    with ctx.reading() as store:
        # read once, in one read transaction: the run decides whether the services' files
        # are needed (no stored plan), and the snapshot shows that same run
        known = recorded(store, train) if store is not None else None
        catalog = ctx.catalog(services=known is None or known.plan is None, store=store)
        return JSONResponse(snapshot(catalog, store, train, now=ctx.now(), known=known).to_json())


@router.get(
    "/health/{service}",
    summary="The service's health check, run now (bounded by its timeout)",
    responses={
        **document(
            '`{service, health: "healthy" | "unhealthy" | "not verified", detail, checked_at}`',
            schemas.HealthNow,
        ),
        **errors(404),
    },
)
def health(request: Request, service: Name, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    return JSONResponse(health_now(ctx.catalog(), service, now=ctx.now()))


@router.get(
    "/performance/{service}",
    summary="The service's signal readings: one now, then those recorded during runs",
    responses={
        **document("`{service, signals: [{name, value, read_at, source}]}`", schemas.Performance),
        **errors(404),
    },
)
def perf(request: Request, service: Name, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    with ctx.reading() as store:
        return JSONResponse(performance(catalog, store, service, now=ctx.now()))
