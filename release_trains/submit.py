"""Queueing work for a worker (what `POST .../execute`, `.../resume`, `.../rollback` and
`PUT .../{train}` with `{"status": "executing"}` do): the refusals that can be known now are
given now, with the CLI's messages, and the job is queued (state/jobs.py) for a worker
(worker.py) to carry out with the requester as its actor.

Checked at once: an unknown train (exit 2, 404), a train whose status does not allow the action
(completed: execute; not paused: resume; exit 3, 409), a freeze in force and, for a train that
never ran, a start time still ahead unless `now` (exit 3, 409), a train run by a live lease (an
execute or resume from the CLI or another worker; exit 3, 409), a train with a run (or a
rollback) already queued or running (exit 3, 409), and for a rollback everything its dry run
refuses (never ran, a partial rollback without force). What can only be known while working (a
gate, a deploy) ends up in the job's outcome and in the run, as with the CLI. A rollback queued
while the train runs asks that run to pause at once, as `rollback` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import lifecycle
from .approvals import refuse_unapproved
from .errors import InputError, LockHeldError, RefusedError
from .freezes import refuse_if_frozen
from .models import Catalog
from .planning import find_train
from .rollback import rollback_train
from .runtime import Settings
from .schedule import check_start
from .state import Job, Store, is_stale


def submit(
    catalog: Catalog,
    store: Store,
    train: str,
    *,
    kind: str,
    params: dict[str, Any],
    who: str,
    clock: Any,
) -> Job:
    """Check what can be checked now and queue the job (see the module's text)."""
    t = find_train(catalog, train)
    now: datetime = clock()
    run = store.latest_run(t.name)
    if kind in ("execute", "resume"):
        status = run.status if run else t.status
        if kind == "resume" and status != "paused":
            raise lifecycle.refuse(t.name, status, "resume")
        if status == "completed":
            raise lifecycle.refuse(t.name, status, "execute")
        refuse_unapproved(t, run, store)
        refuse_if_frozen(catalog.config, store, now=now, action=f"{kind} train {t.name!r}")
        if run is None and kind == "execute":  # a train that never ran waits for its start
            check_start(t, now=now, early=bool(params.get("now")))
        _refuse_live_lease(catalog, store, t.name, now=now)
        # the run a worker carries on is known now unless it will make a new one
        run_id = run.id if run and run.status not in ("completed", "rolled_back") else None
    elif kind == "rollback":
        reason = params.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InputError(
                "reason is required: say why you roll back (it lands in the audit log)"
            )
        settings = Settings(clock=clock, who=who, echo=None)
        plan, _ = rollback_train(
            catalog,
            store,
            t.name,
            settings=settings,
            reason=reason,
            only=params.get("services") or None,
            force=bool(params.get("force")),
            dry_run=True,
        )
        if plan.refusals and not params.get("force"):
            raise RefusedError(
                "refusing a partial rollback: "
                + "; ".join(plan.refusals)
                + " (use force to do it anyway)"
            )
        run_id = plan.run.id
    else:
        raise ValueError(f"unknown job kind {kind!r}")
    job = store.enqueue(
        kind=kind,
        train=t.name,
        params=params,
        requested_by=who,
        now=now.isoformat(timespec="milliseconds"),
        base_run_id=run.id if run else None,
        run_id=run_id,
    )
    # as `rollback` does before it waits for the lock: the run in progress stops before its
    # next service now, instead of releasing more while the rollback waits its turn (with one
    # worker, behind that very run)
    active = run is not None and run.status in lifecycle.ACTIVE
    if kind == "rollback" and run is not None and active and store.locks(t.name):
        store.request_pause(run.id, f"{who}: stopping for a rollback")
    return job


def _refuse_live_lease(catalog: Catalog, store: Store, train: str, *, now: datetime) -> None:
    for lock in store.locks(train):
        if lock.resource != f"train:{train}":
            continue
        if not is_stale(
            lock, now_ts=now.timestamp(), stale_after_s=catalog.config.lock_stale_after_s
        ):
            raise LockHeldError(
                f"train {train!r} is being run by {lock.describe()}: wait for it, or pause it "
                f"(release-trains pause {train})"
            )
