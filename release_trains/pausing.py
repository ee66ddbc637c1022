"""Pausing a train: what `release-trains pause` and `POST .../pause` both do.

Only a request is written when an executor holds the train's live lease (it stops before its
next service); when nobody runs the train (its process died) the run is paused directly, so
it can be resumed. Either way the audit log records who asked and why."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from . import audit, lifecycle
from .errors import UnknownTrainError
from .models import Catalog
from .notify.sender import Delivery, announce_run_event
from .planning import find_train
from .state import Store, is_stale


def pause_train(
    catalog: Catalog,
    store: Store,
    train: str,
    *,
    reason: str,
    who: str,
    now: datetime,
    audit_path: Path,
    delivery: Delivery | None = None,
) -> dict[str, Any]:
    """Pause TRAIN's active run; returns the `pause --json` document. Unknown train or one
    that never ran: exit 2; a run that is not active: exit 3."""
    find_train(catalog, train)
    run = store.latest_run(train)
    if run is None:
        raise UnknownTrainError(f"train {train!r} has never run: nothing to pause")
    if run.status not in lifecycle.ACTIVE:
        raise lifecycle.refuse(train, run.status, "pause")
    ts = now.isoformat(timespec="milliseconds")
    live = [
        lk
        for lk in store.locks(train)
        if not is_stale(lk, now_ts=now.timestamp(), stale_after_s=catalog.config.lock_stale_after_s)
    ]
    if live:
        store.request_pause(run.id, f"{who}: {reason}")
        message = "pause requested: the executor stops before its next service"
        status: str = run.status
    else:  # nobody runs it (the process died): pause it directly so it can be resumed
        store.transition(
            run.id,
            expected=run.status,
            new=lifecycle.RunStatus.PAUSED,
            now=ts,
            reason=f"paused by {who}: {reason}",
        )
        message = "no executor is running this train; it is now paused"
        status = "paused"
        # The status event every status change records (timeline.py reads them), said as the
        # executor says it, with the notifications it announces in the same transaction: the
        # rows are delivered by `delivery`'s sender, or by the next sender that opens the store.
        announce_run_event(
            catalog,
            store,
            run_id=run.id,
            train=train,
            message=f"{run.status} -> paused: paused by {who}: {reason}",
            ts=ts,
            delivery=delivery,
        )
    audit.append(
        audit_path,
        store=store,
        ts=ts,
        actor=who,
        action="pause",
        train=train,
        service=None,
        detail=reason,
    )
    return {
        "train": train,
        "run_id": run.id,
        "requested": bool(live),
        "status": str(status),
        "reason": reason,
        "message": message,
    }
