"""Deploys an earlier, killed process left running: waited for before a new run deploys, or,
on another host where they cannot be checked, refused until the operator declares them ended."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .deployers.base import seconds
from .deployers.process import GRACE_S, leader_running
from .deployers.select import deployer_settings
from .errors import InputError, LockHeldError
from .journal import Journal
from .leases import Lease
from .models import Catalog, Service
from .runtime import Settings
from .state import Step, Store

_POLL_S = 0.1  # how often a new run looks whether an orphaned deploy has ended
DECLARED = "deploy-declared-ended"  # the audit action and event kind of a declaration


def check_declarations(store: Store, services: Sequence[Service], *, settings: Settings) -> None:
    """Refuse (exit 2) a `--deploy-ended S` that declares nothing: S has no deploy recorded in
    flight, or only on this host, where its process is checked instead. Called before the
    lease is taken (so a mistyped name writes nothing, not even a lock takeover) and again
    under it (the record may have been cleared in between)."""
    if settings.deploys_ended:
        _declared(store.deploys_in_flight([s.name for s in services]), settings=settings)


def await_deploys_in_flight(
    catalog: Catalog,
    lease: Lease,
    services: Sequence[Service],
    *,
    settings: Settings,
    again: str,
) -> None:
    """Before a run (execute, resume, rollback) that holds `lease` deploys anything: make
    sure no deployer command of an earlier, killed process is still running for one of
    `services`, so two deploys of one service never overlap.

    Such a command runs in its own session, so `kill -9` of its executor leaves it running.
    We wait for it (the leader of its process group) to end, up to the deployer's timeout
    (plus the grace a timeout gives), which is as long as its own executor would have let it
    run. If it still runs then, we refuse (exit 3) naming it rather than kill it: it may be
    half-way through changing the service, and its group id may by then belong to an
    unrelated process. A command on another host (`settings.host` is this one) cannot be
    checked from here: refused too, naming the host, unless the operator declared it ended
    (`settings.deploys_ended`, `--deploy-ended S`, the way Terraform's force-unlock removes a
    dead lock: explicitly, audited, never guessed). Once it has ended, the step is
    reconciled as usual (the deployer reports what runs). The group is recorded as soon as
    the command starts: a kill in the moment between the start and that write leaves a
    command unrecorded (then the reconcile alone decides, as before). The lease renews itself
    while we wait. `again` is the command line a refusal tells the operator to run again
    (`release-trains execute TRAIN`), the flags to add follow it.
    """
    by_name = {s.name: s for s in services}
    store = lease.store
    in_flight = [s for s in store.deploys_in_flight(list(by_name)) if s.deploy_pgid is not None]
    declared = _declared(in_flight, settings=settings)
    here = settings.host
    unchecked = [s for s in in_flight if s.deploy_host != here and s.service not in declared]
    if unchecked:
        raise LockHeldError(_refusal(unchecked, here=here, again=again))
    # Every declaration is in the audit log before any record goes: a kill in between leaves
    # a record that is declared again, never one cleared unaudited.
    for step in in_flight:
        if step.deploy_host != here:
            _declare(catalog, store, step, settings=settings)
            _clear(store, step)
    for step in in_flight:
        if step.deploy_host == here:
            _await_here(catalog, lease, step, by_name[step.service], settings=settings)
            _clear(store, step)


def _what(step: Step) -> str:
    return (
        f"the deploy of {step.service} started by run {step.run_id} at "
        f"{step.deploy_started_at} (process group {step.deploy_pgid} on {step.deploy_host})"
    )


def _declared(in_flight: Sequence[Step], *, settings: Settings) -> frozenset[str]:
    """The services of `settings.deploys_ended`, each checked to name a deploy on another
    host (exit 2 otherwise, before anything is written)."""
    named = settings.deploys_ended
    if not named:
        return frozenset()
    elsewhere = {s.service for s in in_flight if s.deploy_host != settings.host}
    here = {s.service for s in in_flight if s.deploy_host == settings.host}
    for name in sorted(named):
        if name in elsewhere:
            continue
        if name in here:
            raise InputError(
                f"--deploy-ended {name}: the deploy of {name} is on this host "
                f"({settings.host}): it is checked, not declared; run the command without "
                f"--deploy-ended {name}"
            )
        known = ", ".join(
            f"{s.service} on {s.deploy_host}" for s in in_flight if s.deploy_pgid is not None
        )
        raise InputError(
            f"--deploy-ended {name}: no deploy of {name} is recorded in flight for this run's "
            f"services ({'in flight: ' + known if known else 'none is in flight'})"
        )
    return frozenset(named)


def _refusal(unchecked: Sequence[Step], *, here: str, again: str) -> str:
    hosts = sorted({str(s.deploy_host) for s in unchecked})
    flags = " ".join(f"--deploy-ended {s}" for s in sorted({s.service for s in unchecked}))
    whats = "; ".join(_what(s) for s in unchecked)
    where = " or ".join(hosts)
    return (
        f"{whats} may still be running and cannot be checked from {here}: run this command on "
        f"{where}, where it can be; if {where} is gone for good, or you checked that nothing "
        f"runs there: {again} {flags}"
    )


def _declare(catalog: Catalog, store: Store, step: Step, *, settings: Settings) -> None:
    """The operator's declaration, in the audit log (with the actor) and the run's events."""
    run = store.run(step.run_id)
    journal = Journal(
        root=catalog.root,
        store=store,
        train=run.train if run else "unknown",
        run_id=step.run_id,
        clock=settings.clock,
        who=settings.who,
        echo=settings.echo,
    )
    try:
        journal.event(
            DECLARED,
            f"{settings.who} declared that {_what(step)} has ended; it is not checked from "
            f"{settings.host}, and the step is reconciled with what the deployer reports",
            service=step.service,
            audited=True,
            audit_detail={
                "run_id": step.run_id,
                "service": step.service,
                "host": step.deploy_host,
                "process_group": step.deploy_pgid,
                "started_at": step.deploy_started_at,
                "declared_from": settings.host,
            },
        )
    finally:
        journal.close()


def _await_here(
    catalog: Catalog, lease: Lease, step: Step, service: Service, *, settings: Settings
) -> None:
    pgid = step.deploy_pgid
    if pgid is None or not leader_running(pgid):
        return
    limit = seconds(deployer_settings(catalog, service), "timeout", 300.0) + GRACE_S
    what = _what(step)
    if settings.echo:
        settings.echo(f"waiting up to {limit:g} s for {what} to end")
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


def _clear(store: Store, step: Step) -> None:
    store.update_step(
        step.run_id, step.service, deploy_pgid=None, deploy_host=None, deploy_started_at=None
    )
