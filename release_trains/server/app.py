"""The ASGI application of `release-trains serve`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from .. import __version__
from ..state import DEFAULT_BUSY_TIMEOUT_S
from . import (
    audit,
    dashboard,
    freeze,
    jobs,
    monitoring,
    problems,
    reports,
    services,
    trains,
    whoami,
)
from .context import ServerContext
from .schemas import Healthz

DESCRIPTION = """The REST API of release-trains: the same documents the CLI prints with
`--json`, built by the same code. Every `/api/v1/` route needs `Authorization: Bearer TOKEN`
(`release-trains token create NAME --role viewer|operator|admin`); errors are
`application/problem+json` with the CLI's message and exit code."""


def create_app(
    *,
    root: Path,
    state_url: str | None,
    clock: Callable[[], datetime],
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
) -> FastAPI:
    """The API over the project at `root` and the state store `state_url` names (None: the
    embedded default). `clock` gives every "now" (aware, UTC)."""
    app = FastAPI(
        title="release-trains",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # Swagger UI loads assets from a CDN; every asset must be ours
        redoc_url=None,
    )
    app.state.context = ServerContext(
        root=root, state_url=state_url, clock=clock, busy_timeout_s=busy_timeout_s
    )
    problems.install(app)

    @app.get(
        "/healthz",
        tags=["server"],
        summary="The server answers (no token needed)",
        responses={200: {"description": '`{"status": "ok", "version": V}`', "model": Healthz}},
    )
    def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    for module in (trains, jobs, services, monitoring, audit, reports, whoami, freeze):
        app.include_router(module.router)
    app.include_router(dashboard.router)  # `/`, the pages and their assets: no token
    app.add_middleware(problems.BodyLimit)
    return app
