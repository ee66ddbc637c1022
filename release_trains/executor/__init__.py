"""Drives a train through validating -> staging -> executing -> verifying -> completed.

Every state change is committed to the store before the work it announces starts, so a run
killed at any moment can be resumed: a step left `deploying` is reconciled by asking the
deployer what is running, and nothing already released is deployed again.

`execute` takes the train's lease (leases.Lease, renewed for the run's whole life), waits for
any deploy a killed process left running, re-reads the run under the lease, builds the run
context (context.py) and runs the phases (phases.py): staging (staging.py), the ready queue
(scheduling.py) over one service's release step (release.py), and verification
(verification.py). A run whose lease is taken over writes nothing more and raises
LostLockError (exit 3).
"""

from __future__ import annotations

import os

from .. import lifecycle
from ..approvals import refuse_unapproved
from ..errors import NotNowError
from ..freezes import refuse_if_frozen
from ..inflight import await_deploys_in_flight, check_declarations
from ..journal import Journal
from ..leases import Lease
from ..lifecycle import RunStatus
from ..models import Catalog, Service, Train
from ..notify.announce import Announcer
from ..notify.sender import delivering
from ..planning import find_train, resolve_participants
from ..runtime import Settings
from ..schedule import AlreadyStartedError, check_start
from ..state import Run, Store
from .context import RunContext, RunOutcome
from .phases import end_after_error, run_phases
from .preview import dry_run

__all__ = ["Executor", "RunContext", "RunOutcome", "Settings", "dry_run", "execute"]


class Executor:
    """`execute TRAIN` / `resume TRAIN` for one train (what the CLI and tests call)."""

    def __init__(self, *, catalog: Catalog, store: Store, train: str, settings: Settings) -> None:
        self.catalog = catalog
        self.store = store
        self.train = train
        self.settings = settings

    def execute(
        self, *, resume_only: bool = False, early: bool = False, new_only: bool = False
    ) -> RunOutcome:
        return execute(
            self.catalog,
            self.store,
            self.train,
            settings=self.settings,
            resume_only=resume_only,
            early=early,
            new_only=new_only,
        )


def execute(
    catalog: Catalog,
    store: Store,
    train_name: str,
    *,
    settings: Settings,
    resume_only: bool,
    early: bool = False,
    new_only: bool = False,
) -> RunOutcome:
    """Run (or resume) TRAIN. Refused (exit 3) while a freeze is in force, and for a train
    that never ran, before its start time unless `early` (`--now`). `new_only` (`execute
    --due`): only a train that never ran is started, checked again under its lease."""
    train = find_train(catalog, train_name)
    services = resolve_participants(catalog, train)
    action = f"{'resume' if resume_only else 'execute'} train {train.name!r}"
    asked_at = settings.clock()
    refuse_if_frozen(catalog.config, store, now=asked_at, action=action)
    latest = store.latest_run(train.name)
    if new_only and latest is not None:
        raise AlreadyStartedError(f"train {train.name!r} has run already (run {latest.id})")
    _refuse(train, latest, resume_only=resume_only)
    refuse_unapproved(train, latest, store)
    if latest is None and not resume_only:
        check_start(train, now=asked_at, early=early)
    check_declarations(store, services, settings=settings)
    # Notifications go out from their own thread (on the unfenced store: delivery outcomes
    # are no write of this run's lease), and the way out waits, bounded, for what was queued.
    with delivering(catalog, store, given=settings.delivery) as delivery:
        return _execute(
            catalog, store, train, services, settings=settings, resume_only=resume_only,
            announcer=delivery.announcer(train.name), new_only=new_only,
        )  # fmt: skip


def _execute(
    catalog: Catalog,
    store: Store,
    train: Train,
    services: list[Service],
    *,
    settings: Settings,
    resume_only: bool,
    announcer: Announcer | None,
    new_only: bool = False,
) -> RunOutcome:
    action = f"{'resume' if resume_only else 'execute'} train {train.name!r}"
    lease = Lease(
        store=store,
        train=train.name,
        services=[s.name for s in services],
        holder=settings.who,
        host=settings.host,
        pid=os.getpid(),
        stale_after_s=catalog.config.lock_stale_after_s,
        clock=settings.clock,
        audit_root=catalog.root,
        echo=settings.echo,
    )
    with lease:
        await_deploys_in_flight(
            catalog,
            lease,
            services,
            settings=settings,
            again=f"release-trains {'resume' if resume_only else 'execute'} {train.name}",
        )
        # Read again under the lease: another process may have finished the train meanwhile.
        run = lease.store.latest_run(train.name)
        if new_only and run is not None:  # another `--due` started it while this one waited
            raise AlreadyStartedError(f"train {train.name!r} was started by another process")
        _refuse(train, run, resume_only=resume_only)
        refuse_if_frozen(catalog.config, lease.store, now=settings.clock(), action=action)
        if run is None or run.status in ("completed", "rolled_back"):
            run = lease.store.create_run(
                train=train.name,
                status=RunStatus.PLANNING,
                actor=settings.who,
                plan="{}",
                max_parallel=settings.max_parallel,
                now=settings.now(),
                expect_latest=run.id if run else None,  # checked in the creating transaction
                lock_id=lease.lock_id,
            )
        journal = Journal(
            root=catalog.root,
            store=lease.store,
            train=train.name,
            run_id=run.id,
            clock=settings.clock,
            who=settings.who,
            host=settings.host,
            echo=settings.echo,
            notify=announcer,
        )
        try:
            ctx = RunContext(
                catalog=catalog,
                store=lease.store,
                train=train,
                services=tuple(services),
                run=run,
                journal=journal,
                settings=settings,
                lease=lease,
            )
            try:
                return run_phases(ctx)
            except NotNowError:
                raise  # a refused move or a lost lease: this process must not write the run
            except Exception as e:
                end_after_error(ctx, e)
                raise
        finally:
            journal.close()


def _refuse(train: Train, run: Run | None, *, resume_only: bool) -> None:
    status = run.status if run else train.status
    if resume_only and status != "paused":
        raise lifecycle.refuse(train.name, status, "resume")
    if status == "completed":
        raise lifecycle.refuse(train.name, status, "execute")
