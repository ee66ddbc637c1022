"""Deploys an earlier, killed process left running: waited for before a new run deploys."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .deployers.base import seconds
from .deployers.process import GRACE_S, leader_running
from .deployers.select import deployer_settings
from .errors import LockHeldError
from .leases import Lease
from .models import Catalog, Service

_POLL_S = 0.1  # how often a new run looks whether an orphaned deploy has ended


def await_deploys_in_flight(
    catalog: Catalog,
    lease: Lease,
    services: Sequence[Service],
    *,
    here: str,
    echo: Callable[[str], None] | None,
) -> None:
    """Before a run (execute, resume, rollback) that holds `lease` deploys anything: make
    sure no deployer command of an earlier, killed process is still running for one of
    `services`, so two deploys of one service never overlap.

    Such a command runs in its own session, so `kill -9` of its executor leaves it running.
    We wait for it (the leader of its process group) to end, up to the deployer's timeout
    (plus the grace a timeout gives), which is as long as its own executor would have let it
    run. If it still runs then, we refuse (exit 3) naming it rather than kill it: it may be
    half-way through changing the service, and its group id may by then belong to an
    unrelated process. A command on another host (`here` is this one) cannot be checked from
    here: refused too, naming the host. Once it has ended, the step is reconciled as usual
    (the deployer reports what runs). The group is recorded as soon as the command starts: a
    kill in the moment between the start and that write leaves a command unrecorded (then the
    reconcile alone decides, as before). The lease renews itself while we wait.
    """
    by_name = {s.name: s for s in services}
    store = lease.store
    for step in store.deploys_in_flight(list(by_name)):
        pgid = step.deploy_pgid
        if pgid is None:
            continue
        what = (
            f"the deploy of {step.service} started by run {step.run_id} at "
            f"{step.deploy_started_at} (process group {pgid} on {step.deploy_host})"
        )
        if step.deploy_host != here:
            raise LockHeldError(
                f"{what} may still be running and cannot be checked from {here}: run this "
                f"command on {step.deploy_host}, where it can be"
            )
        if leader_running(pgid):
            limit = seconds(deployer_settings(catalog, by_name[step.service]), "timeout", 300.0)
            limit += GRACE_S
            if echo:
                echo(f"waiting up to {limit:g} s for {what} to end")
            deadline = time.monotonic() + limit
            while leader_running(pgid):
                lease.check()
                if time.monotonic() >= deadline:
                    raise LockHeldError(
                        f"{what} is still running after {limit:g} s; it is not killed, as it "
                        f"may be half-way through changing {step.service}: let it end, or stop "
                        f"it (kill -TERM -- -{pgid}), then run this command again"
                    )
                time.sleep(_POLL_S)  # another process's progress: polled, bounded
        store.update_step(
            step.run_id, step.service, deploy_pgid=None, deploy_host=None, deploy_started_at=None
        )
