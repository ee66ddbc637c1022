"""/api/v1/jobs: the work queued through the API and what the workers made of it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ..errors import UnknownTrainError
from ..state import Job, Store
from . import schemas
from .auth import Viewer
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


def job_document(store: Store, job: Job) -> dict[str, Any]:
    """The job as stored; a run the worker has created but not yet reported is named too
    (the train's newest run, when it is newer than the one the job was queued against)."""
    doc = job.to_json()
    if doc["run_id"] is None and job.status == "running" and job.kind == "execute":
        run = store.latest_run(job.train)
        if run is not None and run.id > (job.base_run_id or 0):
            doc["run_id"] = run.id
    return doc


@router.get(
    "",
    summary="The newest jobs (all, or one train's), newest first",
    responses={**document("`{jobs: [...]}`", schemas.JobList), **errors()},
)
def list_jobs(
    request: Request,
    who: Viewer,
    train: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    with context_of(request).reading() as store:
        if store is None:
            return JSONResponse({"jobs": []})
        return JSONResponse(
            {"jobs": [job_document(store, j) for j in store.jobs(train, limit=limit)]}
        )


@router.get(
    "/{job_id}",
    summary="One job: queued, running, done or failed, with its run and outcome",
    responses={
        **document(
            "The job. `status` is `done` when a worker carried it through (the run's own "
            "result is in `outcome`: completed, failed, paused, rolled back) and `failed` "
            "when it was refused or raised (`error`, `outcome.exit_code`).",
            schemas.Job,
        ),
        **errors(404),
    },
)
def get_job(
    request: Request,
    who: Viewer,
    job_id: Annotated[int, Path(ge=1, le=2**62, description="The job's id.")],
) -> JSONResponse:
    with context_of(request).reading() as store:
        job = store.job(job_id) if store is not None else None
        if store is None or job is None:
            raise UnknownTrainError(f"no job {job_id}")
        return JSONResponse(job_document(store, job))
