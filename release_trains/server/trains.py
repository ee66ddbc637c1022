"""/api/v1/release-trains: the trains, their status and plan, and what can be done to them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import JSONResponse, Response

from .. import api_trains, audit, tokens
from ..approvals import decide
from ..errors import InputError, ReleaseTrainError
from ..executor import dry_run as dry_run_steps
from ..monitoring import overview, snapshot
from ..pausing import pause_train
from ..planning import find_train, plan_for
from ..rollback import document as rollback_document
from ..rollback import rollback_status, rollback_train
from ..submit import submit
from . import schemas
from .auth import Admin, Operator, Viewer
from .bodies import ApprovalBody, ExecuteBody, PauseBody, ResumeBody, RollbackBody, TrainUpdate
from .context import context_of
from .docs import document, errors

router = APIRouter(prefix="/api/v1/release-trains", tags=["release trains"])

TrainName = Annotated[str, Path(min_length=1, max_length=200, description="The train's name.")]

# A status document is given again, as it was, to requests within this long of when it was
# taken while nothing was committed to the store (server/unchanged.py): what it shows is
# then still what the store holds, and only what it computes from the clock (the time
# in-flight steps have taken so far, staleness, freeze windows) is up to this old; its
# `generated_at` says when it was taken. 50 dashboards and pipelines polling one train then
# cost one document per tenth of a second, not one per request (B7).
REUSE_STATUS_S = 0.1
# While one request takes the document again because the kept one is older than that (the
# store still unchanged), the others are given the kept one rather than waiting in line for
# the new one, up to this old: the clock's part of what they see is then up to this old.
REFRESHING_STATUS_S = 1.0

QUEUED = (
    "`{train, job_id, kind, status, run_id}`: the work is queued for a worker (`serve "
    "--workers`, or `release-trains worker` on a shared store), never done inside the request. "
    "`run_id` is the run the worker carries on when it is known now (a resume, a rollback, an "
    "execute of a paused or failed run), and null when the worker will create a new run: "
    "`GET /api/v1/jobs/{job_id}` gives it (and the outcome) once the worker has started. "
    "Refusals that can be known now (unknown train 404; completed, not paused, already run "
    "by someone or already queued 409) are answered now, with the CLI's message."
)


def _queue(
    request: Request, train: str, *, kind: str, params: dict[str, Any], who: str
) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    find_train(catalog, train)  # an unknown train creates no store
    with ctx.writing() as store:
        job = submit(catalog, store, train, kind=kind, params=params, who=who, clock=ctx.clock)
    ctx.queued.set()  # committed: an idle in-process worker takes it now
    doc = {
        "train": job.train,
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status,
        "run_id": job.run_id,
    }
    return JSONResponse(doc, status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})


@router.get(
    "",
    summary="Every train with its status and progress (`status --json` without a train)",
    responses={**document("`{trains: [...], freeze}`", schemas.TrainList), **errors()},
)
def list_trains(request: Request, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    with ctx.reading() as store:
        catalog = ctx.catalog(services=False, store=store)
        return JSONResponse(overview(catalog, store, now=ctx.now()).to_json())


@router.post(
    "",
    summary="Create a train from a JSON definition",
    status_code=201,
    responses={
        **document(
            '`{train, source: "api", definition, created_by, created_at, updated_at}`',
            schemas.TrainDefinition,
            status=201,
        ),
        **errors(409, body=True),
    },
)
def create_train(
    request: Request,
    who: Admin,
    definition: Annotated[dict[str, Any], Body(description="The YAML train schema, as JSON.")],
) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog(api=False)
    with ctx.writing() as store:
        doc = api_trains.create_train(catalog, store, definition, who=who.actor, now=ctx.now())
    return JSONResponse(doc, status_code=201)


@router.get(
    "/{train}",
    summary="The train's definition and where it comes from",
    responses={
        **document('`{train, source: "catalog" | "api", definition}`', schemas.TrainDefinition),
        **errors(404),
    },
)
def get_train(request: Request, train: TrainName, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog(services=False, api=False)
    if train not in catalog.trains:
        with ctx.reading() as store:
            record = store.api_train(train) if store is not None else None
        if record is not None:
            return JSONResponse(api_trains.document(record))
    t = find_train(ctx.catalog(services=False), train)
    return JSONResponse({"train": t.name, "source": t.source, "definition": dict(t.definition)})


@router.put(
    "/{train}",
    summary="Start, resume or pause a run (`{status}`), or change an API train's definition",
    status_code=202,
    responses={
        **document(
            "A definition change (admin): the train's new definition, as GET answers it.",
            schemas.TrainDefinition,
        ),
        **document(
            '`{"status": "paused"}`: the pause document. `{"status": "executing"}`: '
            + QUEUED
            + " A paused train is resumed, any other is executed.",
            schemas.PauseDoc | schemas.Queued,
            status=202,
        ),
        **errors(404, 409, 501, body=True),
    },
)
def put_train(request: Request, train: TrainName, who: Operator, body: TrainUpdate) -> JSONResponse:
    given = {**body.model_dump(exclude_unset=True), **(body.model_extra or {})}
    if set(given) <= {"status", "reason", "now"}:
        return change_status(request, train, who, body)
    # a definition change: admin only, the whole definition (as POST takes it)
    tokens.authorize(who, "admin")
    ctx = context_of(request)
    catalog = ctx.catalog(api=False)
    with ctx.writing() as store:
        doc = api_trains.replace_train(catalog, store, train, given, now=ctx.now())
    return JSONResponse(doc, status_code=200)


def change_status(
    request: Request, train: str, who: tokens.Principal, body: TrainUpdate
) -> JSONResponse:
    """PUT .../{train} with `{status, reason?}` only: start, resume or pause a run (the
    workers' side of the API fills in `executing`)."""
    if body.status == "paused":
        ctx = context_of(request)
        find_train(ctx.catalog(), train)
        return _pause(request, train, who.actor, body.reason or "paused by an operator")
    if body.status == "executing":
        ctx = context_of(request)
        find_train(ctx.catalog(services=False), train)
        with ctx.reading() as store:
            run = store.latest_run(train) if store is not None else None
        kind = "resume" if run is not None and run.status == "paused" else "execute"
        params = {"now": True} if body.now else {}
        return _queue(request, train, kind=kind, params=params, who=who.actor)
    raise InputError(
        f"nothing to do: give `status` (executing or paused) for train {train!r}, or its whole "
        "definition (an API train)"
    )


@router.delete(
    "/{train}",
    summary="Remove a train created through the API (its runs and audit records stay)",
    status_code=204,
    responses={204: {"description": "Removed."}, **errors(404, 409)},
)
def delete_train(request: Request, train: TrainName, who: Admin) -> Response:
    ctx = context_of(request)
    catalog = ctx.catalog(services=False, api=False)
    with ctx.writing() as store:
        api_trains.delete_train(catalog, store, train)
    return Response(status_code=204)


@router.get(
    "/{train}/status",
    summary="Where the train is now (`status TRAIN --json`)",
    responses={**document("The `status --json` document.", schemas.Status), **errors(404)},
)
async def train_status(request: Request, train: TrainName, who: Viewer) -> Response:
    ctx = context_of(request)
    mark = await ctx.mark_async(request)

    # ages on the server's clock as it is when looked at: a document taken after this request
    # arrived (by another one it waited for) is as good for it; one from the future (the
    # clock was set back) is taken again
    def age(kept: tuple[datetime, bytes]) -> float:
        return (ctx.now() - kept[0]).total_seconds()

    def fresh(kept: tuple[datetime, bytes]) -> bool:
        return 0 <= age(kept) < REUSE_STATUS_S

    def meanwhile(kept: tuple[datetime, bytes]) -> bool:
        return 0 <= age(kept) < REFRESHING_STATUS_S

    def taken() -> tuple[datetime, bytes]:
        now = ctx.now()
        return now, bytes(JSONResponse(_snapshot(request, train, now=now)).body)

    # the document itself, for pollers asking within REUSE_STATUS_S of when it was taken
    # while nothing was committed (its generated_at says when; see REUSE_STATUS_S): sent
    # from the event loop when kept, taken in the thread pool (it reads the store)
    kept = await ctx.unchanged.get_async(
        mark, ("status", train), taken, fresh=fresh, meanwhile=meanwhile
    )
    return Response(kept[1], media_type="application/json")


def _snapshot(request: Request, train: str, *, now: datetime) -> dict[str, Any]:
    ctx = context_of(request)
    mark = ctx.mark(request)
    with ctx.reading() as store:
        from ..monitoring import recorded

        if store is None:
            return snapshot(ctx.catalog(store=None), None, train, now=now).to_json()
        # an unknown train is a 404 before anything is kept for it: names from request paths
        # would otherwise fill the kept answers (MAX_ANSWERS) until the next commit
        find_train(ctx.catalog(services=False, store=store, mark=mark), train)
        # what the store records is kept while it is unchanged; the clock's part is not
        known = ctx.unchanged.get(mark, ("recorded", train), lambda: recorded(store, train))
        catalog = ctx.catalog(services=known.plan is None, store=store, mark=mark)
        return snapshot(catalog, store, train, now=now, known=known).to_json()


@router.get(
    "/{train}/plan",
    summary="The train's plan (`plan TRAIN --json --dry-run`: nothing is written)",
    responses={**document("The `plan --json` document.", schemas.PlanDoc), **errors(404)},
)
def train_plan(request: Request, train: TrainName, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    with ctx.reading() as store:
        plan = plan_for(catalog, store, train, now=ctx.now())
    return JSONResponse(plan.to_json())


@router.post(
    "/{train}/execute",
    summary="Release the train; with dry_run, the exact steps (`execute --dry-run --json`)",
    responses={
        **document("With `dry_run`: the `execute --dry-run --json` document.", schemas.DryRun),
        **document(QUEUED, schemas.Queued, status=202),
        **errors(404, 409, body=True),
    },
)
def execute(request: Request, train: TrainName, who: Operator, body: ExecuteBody) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    find_train(catalog, train)
    if not body.dry_run:
        params = {"max_parallel": body.max_parallel, "now": body.now}
        return _queue(request, train, kind="execute", params=params, who=who.actor)
    with ctx.reading() as store:
        return JSONResponse(dry_run_steps(catalog, store, train, clock=ctx.clock))


@router.post(
    "/{train}/pause",
    summary="Stop the train's executor before its next service (`pause --json`)",
    status_code=202,
    responses={
        **document("The `pause --json` document.", schemas.PauseDoc, status=202),
        **errors(404, 409, body=True),
    },
)
def pause(request: Request, train: TrainName, who: Operator, body: PauseBody) -> JSONResponse:
    return _pause(request, train, who.actor, body.reason)


def _pause(request: Request, train: str, actor: str, reason: str) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    find_train(catalog, train)  # an unknown train creates no store
    with ctx.writing() as store:
        doc = pause_train(
            catalog,
            store,
            train,
            reason=reason,
            who=actor,
            now=ctx.now(),
            audit_path=audit.path_for(ctx.root),
        )
    return JSONResponse(doc, status_code=202)


@router.post(
    "/{train}/resume",
    summary="Resume a paused train from its persisted steps",
    status_code=202,
    responses={
        **document(QUEUED, schemas.Queued, status=202),
        **errors(404, 409, body=True),
    },
)
def resume(request: Request, train: TrainName, who: Operator, body: ResumeBody) -> JSONResponse:
    return _queue(request, train, kind="resume", params={}, who=who.actor)


@router.post(
    "/{train}/rollback",
    summary="Roll the train back, dependents first; with dry_run, the plan (`rollback --json`)",
    responses={
        **document(
            "With `dry_run`: the `rollback --dry-run --json` document.", schemas.RollbackDoc
        ),
        **document(QUEUED, schemas.Queued, status=202),
        **errors(404, 409, body=True),
    },
)
def rollback(request: Request, train: TrainName, who: Operator, body: RollbackBody) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    find_train(catalog, train)
    if not body.dry_run:
        if body.reason is None:
            raise InputError(
                "reason is required: say why you roll back (it lands in the audit log)"
            )
        params = {"reason": body.reason, "force": body.force, "services": body.services}
        return _queue(request, train, kind="rollback", params=params, who=who.actor)
    from ..executor import Settings

    settings = Settings(clock=ctx.clock, who=who.actor, echo=None)
    with ctx.reading() as store:
        plan, result = rollback_train(
            catalog,
            store,
            train,
            settings=settings,
            reason=body.reason or "",
            only=body.services or None,
            force=body.force,
            dry_run=True,
        )
    return JSONResponse(rollback_document(plan, result, reason=body.reason, dry_run=True))


@router.get(
    "/{train}/rollback/status",
    summary="The train's newest rollback",
    responses={
        **document(
            "`{train, run_id, status, reason, started_at, finished_at, services: [{service, "
            "from_version, to_version, outcome}]}`",
            schemas.RollbackStatus,
        ),
        **errors(404),
    },
)
def get_rollback_status(request: Request, train: TrainName, who: Viewer) -> JSONResponse:
    ctx = context_of(request)
    find_train(ctx.catalog(services=False), train)
    with ctx.reading() as store:
        doc = rollback_status(store, train)
    if doc is None:
        from ..errors import UnknownTrainError

        raise UnknownTrainError(f"train {train!r} was never rolled back")
    return JSONResponse(doc)


@router.post(
    "/{train}/approvals",
    summary="Approve or reject the approval gate the train waits for (`approve` / `reject`)",
    responses={
        **document(
            "The decision. 200 when it is recorded and nothing more is to be done (or the "
            "token had already decided: `counted` false); 202 with `job` when a worker now "
            "carries the train on (the quorum is reached) or rolls it back (a rejection "
            "where automatic rollback is on). Not an approver of the gate, or approving a "
            "run the same token started: 403. The run not waiting for that gate, or the gate "
            "already decided: 409. No such approval gate: 404.",
            schemas.ApprovalDecision,
        ),
        **document(
            "The decision, and `job`: the resume or rollback queued for a worker.",
            schemas.ApprovalDecision,
            status=202,
        ),
        **errors(403, 404, 409, body=True),
    },
)
def approvals(
    request: Request, train: TrainName, who: Operator, body: ApprovalBody
) -> JSONResponse:
    ctx = context_of(request)
    catalog = ctx.catalog()
    find_train(catalog, train)  # an unknown train creates no store
    with ctx.writing() as store:
        decision = decide(
            catalog,
            store,
            train,
            gate_name=body.gate,
            decision=body.decision,
            comment=body.comment,
            who=who.actor,
            now=ctx.now(),
            audit_path=audit.path_for(ctx.root),
        )
        job, refused = None, None
        try:
            if decision.resume:
                job = submit(catalog, store, train, kind="resume", params={}, who=who.actor,
                             clock=ctx.clock)  # fmt: skip
            elif decision.rollback:
                reason = f"automatic rollback after: rejected at approval gate {body.gate}: "
                reason += (body.comment or "").strip()
                job = submit(catalog, store, train, kind="rollback", params={"reason": reason},
                             who=who.actor, clock=ctx.clock)  # fmt: skip
        except ReleaseTrainError as e:
            # the decision is committed whatever happens now: say why no worker was asked
            # (a resume already queued, a live lease) instead of answering as if it had failed
            refused = str(e)
    doc = decision.to_json()
    doc.pop("resume")
    doc.pop("rollback")
    doc["job"] = None
    if refused is not None:
        doc["message"] += f"; no worker was asked to carry it on: {refused}"
    if job is None:
        return JSONResponse(doc)
    ctx.queued.set()  # committed: an idle in-process worker takes it now
    doc["job"] = {
        "train": job.train,
        "job_id": job.id,
        "kind": job.kind,
        "status": job.status,
        "run_id": job.run_id,
    }
    return JSONResponse(doc, status_code=202, headers={"Location": f"/api/v1/jobs/{job.id}"})
