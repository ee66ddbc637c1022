"""/api/v1/reports/trains/{train}: the train report (`report --train T --output -`); nothing
is written (the CLI writes a file; the API only answers)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ..reports import DEFAULT_RUNS, MAX_RUNS, Window, render, train_report
from .auth import Viewer
from .context import context_of
from .docs import errors

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MEDIA = {
    "html": "text/html; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
    "json": "application/json",
}


@router.get(
    "/trains/{train}",
    summary="The train report: the latest run in full, earlier runs summarised (?runs, ?since)",
    responses={
        200: {
            "description": "The report in the format asked for.",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/markdown": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},  # `report --json`
            },
        },
        **errors(400, 404),
    },
)
def train(
    request: Request,
    train: Annotated[str, Path(min_length=1, max_length=200)],
    who: Viewer,
    format: Annotated[Literal["html", "markdown", "json"], Query()] = "markdown",
    since: Annotated[str | None, Query(max_length=20)] = None,
    runs: Annotated[int, Query(ge=1, le=MAX_RUNS)] = DEFAULT_RUNS,
) -> Response:
    ctx = context_of(request)
    now = ctx.now()
    window = Window.of(since, now=now)
    catalog = ctx.catalog()
    with ctx.reading() as store:
        report = train_report(catalog, store, train, now=now, window=window, runs=runs)
    return Response(render(report, format), media_type=MEDIA[format])
