"""/api/v1/services/{service}/status: what runs now, and the service's last release."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ..catalog import resolve
from ..deploy_reports import report_deploy
from ..monitoring import service_status
from ..reports import Window, service_report
from . import schemas
from .auth import Operator, Viewer
from .bodies import ServiceReport
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1/services", tags=["services"])

ServiceName = Annotated[
    str, Path(min_length=1, max_length=200, description="A service name or alias.")
]


@router.get(
    "/{service}/status",
    summary="The service's version, status, health and last release",
    responses={
        **document(
            "`{service, environment, version, status, health, last_release: {train, run_id, "
            "from_version, to_version, finished_at} | null}`",
            schemas.ServiceStatus,
        ),
        **errors(404),
    },
)
def get_status(request: Request, service: ServiceName, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    with ctx.reading() as store:
        return JSONResponse(service_status(catalog, store, service))


@router.get(
    "/{service}/history",
    summary="Versions per environment, health now and every release (`report --service --json`)",
    responses={
        **document(
            "The `report --service S --format json` document: `deployed` (environment -> "
            "version), `health` (checked now, bounded by its timeout), `metrics` (read now), "
            "`releases` (one per run that had the service, oldest first) and the rates.",
            schemas.ServiceHistory,
        ),
        **errors(400, 404),
    },
)
def get_history(
    request: Request,
    service: ServiceName,
    who: Viewer,
    since: Annotated[
        str | None, Query(max_length=20, description="Only newer than this: 30m, 12h, 7d, 2w.")
    ] = None,
) -> JSONResponse:
    ctx = context_of(request)
    now = ctx.now()
    window = Window.of(since, now=now)  # a bad value is 400 before anything is read
    catalog = ctx.catalog()
    with ctx.reading() as store:
        report = service_report(catalog, store, service, now=now, window=window)
    return JSONResponse(report.to_json())


@router.put(
    "/{service}/status",
    summary="An external pipeline reports a deploy (the `external` deployer)",
    status_code=202,
    responses={
        **document(
            "A deploy was waiting for this report: the report, and `waiting: {train, run_id, "
            "to_version, matches}` (the run carries on, or fails the service when the report "
            "does not match).",
            schemas.DeployReportDoc,
        ),
        **document(
            "No deploy was waiting: the report is recorded (`waiting: null`) and shows in the "
            "service's status.",
            schemas.DeployReportDoc,
            status=202,
        ),
        **errors(404, body=True),
    },
)
def put_status(
    request: Request, service: ServiceName, who: Operator, body: ServiceReport
) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    resolve(catalog, service)  # an unknown service creates no store
    with ctx.writing() as store:
        doc = report_deploy(
            catalog,
            store,
            service,
            status=body.status,
            version=body.version,
            health_status=body.health_status,
            detail=body.detail,
            who=who.actor,
            now=ctx.now(),
        )
    return JSONResponse(doc, status_code=200 if doc["waiting"] is not None else 202)
