"""Rollback plans and their execution, manual (`release-trains rollback`) and automatic.

A rollback returns each service a run deployed to the version recorded at staging, in
reverse dependency order (dependents first). A first install has no previous version: it is
undeployed where the deployer can, and otherwise reported as needing manual action; it is
never reported as rolled back when it was not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import lifecycle
from .catalog import resolve
from .deployers.base import DeployRequest, Spawned, confirm
from .deployers.select import deployer_for
from .errors import InputError, LockHeldError, RefusedError, ResolutionError
from .gates import Health
from .inflight import await_deploys_in_flight, check_declarations
from .journal import Journal
from .leases import Lease
from .lifecycle import RunStatus
from .models import Catalog, Service, Train
from .notify.announce import Announcer
from .notify.sender import delivering
from .ordering import order_services
from .planning import find_train
from .probes import check_health, health_settings, health_threshold
from .runtime import Settings
from .state import Run, Step, Store, pid_alive

# Steps whose service may run the new version: released, interrupted mid-deploy, failed its
# health verification after deploying, or left behind by an earlier rollback that failed.
DEPLOYED = frozenset({"released", "deploying", "verifying", "rolling_back"})


@dataclass(frozen=True)
class RollbackStep:
    service: str
    from_version: str | None  # what runs now (the release's target)
    to_version: str | None  # the recorded previous version; None: first install
    action: str  # rollback | undeploy | manual
    call: str  # the exact deployer call, for --dry-run

    def to_json(self, outcome: str) -> dict[str, Any]:
        return {
            "service": self.service,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "action": self.action,
            "call": self.call,
            "outcome": outcome,
        }


@dataclass(frozen=True)
class RollbackPlan:
    run: Run
    steps: tuple[RollbackStep, ...]  # dependents first
    waves: tuple[tuple[str, ...], ...]
    refusals: tuple[str, ...]  # why a --service subset would break a dependency

    @property
    def order(self) -> list[str]:
        return [s.service for s in self.steps]


def deployed_steps(steps: list[Step]) -> list[Step]:
    return [
        s
        for s in steps
        if s.status in DEPLOYED
        or (s.status == "failed" and (s.health == "unhealthy" or s.rollback_started_at))
    ]


def _recorder(
    store: Store, run_id: int, service: str, *, now: Callable[[], str], host: str
) -> Spawned:
    """Records each rollback command's process group with the step, like a deploy's."""

    def spawned(pgid: int) -> None:
        store.update_step(
            run_id, service, deploy_pgid=pgid, deploy_host=host, deploy_started_at=now()
        )

    return spawned


def plan_rollback(
    catalog: Catalog,
    store: Store,
    run: Run,
    *,
    only: list[str] | None = None,
    deployer_for: Callable[[str], Any],
) -> RollbackPlan:
    steps = store.steps(run.id)
    candidates = {s.service: s for s in deployed_steps(steps)}
    participants = [s.service for s in steps]
    ordering = order_services(catalog.graph(), participants)
    chosen = set(candidates)
    refusals: list[str] = []
    if only:
        # A name as the train's participants say it (an alias, `curve` for `curve-service`)
        # means the service it resolves to, as everywhere else.
        known = {s.service for s in steps}
        only = [_service_named(catalog, name, known) for name in only]
        unknown = sorted(set(only) - known)
        if unknown:
            raise InputError(
                f"not a service of train {run.train!r}: {', '.join(unknown)} "
                f"(its services: {', '.join(participants)})"
            )
        chosen = set(only) & set(candidates)
        staying = set(candidates) - chosen
        for s in sorted(staying):
            going_back = sorted(_transitive(ordering.requires, s) & chosen)
            if going_back:
                refusals.append(
                    f"{s} stays on {candidates[s].to_version} but depends on "
                    f"{', '.join(going_back)}, which would go back"
                )
    waves = tuple(tuple(n for n in wave if n in chosen) for wave in ordering.dependents_first())
    waves = tuple(w for w in waves if w)
    out = []
    for wave in waves:
        for name in wave:
            step = candidates[name]
            deployer = deployer_for(name)
            req = DeployRequest(
                service=name,
                version=step.from_version or "",
                previous_version=step.to_version,
                train=run.train,
                environment=catalog.config.environment,
            )
            if step.from_version is None:
                can_undeploy = deployer.can_undeploy()
                action = "undeploy" if can_undeploy else "manual"
                call = (
                    deployer.describe("undeploy", req)
                    if can_undeploy
                    else "none: first install and the deployer cannot undeploy"
                )
            else:
                action, call = "rollback", deployer.describe("rollback", req)
            out.append(RollbackStep(name, step.to_version, step.from_version, action, call))
    return RollbackPlan(run, tuple(out), waves, tuple(refusals))


def _service_named(catalog: Catalog, name: str, known: set[str]) -> str:
    if name in known:
        return name
    try:
        return resolve(catalog, name)
    except ResolutionError:
        if len(catalog.aliases.get(name, ())) > 1:
            raise  # an ambiguous alias: its message names the candidates
        return name  # matches nothing: refused below, with the train's services named


def _transitive(requires: Any, start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(requires.get(start, ()))
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(requires.get(n, ()))
    return seen


@dataclass(frozen=True)
class RollbackResult:
    status: str  # rolled_back | failed
    reason: str
    outcomes: dict[str, str]  # service -> rolled_back | unhealthy | failed | manual | not_started


def execute_rollback(
    plan: RollbackPlan,
    *,
    store: Store,
    catalog: Catalog,
    deployer_for: Callable[[str], Any],
    check_health: Callable[[str, float], Any],  # (service, seconds left) -> Health
    event: Callable[..., None],
    now: Callable[[], str],
    force: bool,
    timeout_s: float,
    host: str,
    check: Callable[[], None] = lambda: None,
    monotonic: Callable[[], float] = time.monotonic,
) -> RollbackResult:
    """Run the steps dependents first; stop at the first failure unless `force`.

    `timeout_s` bounds the whole operation, the step in flight included: each deployer call
    gets the time left as its deadline (a hanging rollback command is cut off there, not at
    the deployer's own timeout), and so does each health verification after it. `check`
    runs before each deployer call (the lease's: a lost lease starts no more commands);
    `host` is recorded with each command in flight.
    """
    deadline = monotonic() + timeout_s
    outcomes = {s.service: "not_started" for s in plan.steps}
    failures: list[str] = []
    env = catalog.config.environment
    timed_out = f"rollback timed out after {timeout_s:g} s"
    for step in plan.steps:
        if monotonic() >= deadline:
            failures.append(timed_out)
            break
        if failures and not force:
            break
        name = step.service
        if step.action == "manual":
            outcomes[name] = "manual"
            failures.append(f"{name}: first install, needs manual undeploy")
            event(
                "rollback-manual",
                "first install and the deployer cannot undeploy: needs manual action",
                service=name,
                audited=True,
            )
            continue
        check()
        # The release's own error stays on the step: reports show why it was rolled back.
        # A new attempt clears the last one's end, which would give it a negative duration.
        store.update_step(
            plan.run.id,
            name,
            status="rolling_back",
            rollback_started_at=now(),
            rollback_finished_at=None,
        )
        event(
            "rollback",
            f"{step.from_version} -> {step.to_version or 'undeployed'} via {step.call}",
            service=name,
            audited=True,
        )
        deployer = deployer_for(name)
        req = DeployRequest(
            service=name,
            version=step.to_version or "",
            previous_version=step.from_version,
            train=plan.run.train,
            environment=env,
            on_spawn=_recorder(store, plan.run.id, name, now=now, host=host),
            deadline=deadline,
        )
        try:
            result = deployer.undeploy(req) if step.action == "undeploy" else deployer.rollback(req)
        finally:
            store.update_step(
                plan.run.id, name, deploy_pgid=None, deploy_host=None, deploy_started_at=None
            )
        if result is not None and step.action == "rollback" and step.to_version:
            result, _ = confirm(
                deployer, action="rollback", service=name, expected=step.to_version, result=result
            )
        if result is None or not result.ok:
            detail = "the deployer cannot undeploy" if result is None else result.detail
            outcomes[name] = "failed"
            failures.append(f"{name}: rollback failed: {detail}")
            store.update_step(
                plan.run.id,
                name,
                status="failed",
                error=f"rollback failed: {detail}",
                rollback_finished_at=now(),
            )
            event("rollback-failed", detail, service=name, audited=True)
            if monotonic() >= deadline:
                failures.append(timed_out)
                break
            continue
        store.set_deployed_version(env, name, step.to_version)
        health = check_health(name, max(0.0, deadline - monotonic())) if step.to_version else None
        if health is not None and health.healthy is False:
            outcomes[name] = "unhealthy"
            failures.append(f"{name}: unhealthy after rollback: {health.detail}")
            store.update_step(
                plan.run.id,
                name,
                status="failed",
                health="unhealthy",
                health_detail=health.detail,
                error=f"unhealthy after rollback: {health.detail}",
                rollback_finished_at=now(),
            )
            event(
                "rollback-failed",
                f"unhealthy after rollback: {health.detail}",
                service=name,
                audited=True,
            )
            continue
        outcomes[name] = "rolled_back"
        store.update_step(
            plan.run.id,
            name,
            status="rolled_back",
            rollback_finished_at=now(),
            health=health.verdict if health else "not verified",
            health_detail=health.detail if health else None,
        )
        event(
            "rolled-back",
            f"back on {step.to_version or 'nothing (undeployed)'}",
            service=name,
            audited=True,
        )
    if failures:
        still = sorted(n for n, o in outcomes.items() if o not in ("rolled_back", "unhealthy"))
        sick = sorted(n for n, o in outcomes.items() if o == "unhealthy")
        summary = "; ".join(failures)
        if still:
            summary += f"; still on the new version: {', '.join(still)}"
        if sick:
            summary += f"; back on the previous version but unhealthy: {', '.join(sick)}"
        return RollbackResult("failed", summary, outcomes)
    return RollbackResult("rolled_back", "every service is back on its previous version", outcomes)


def rollback_train(
    catalog: Catalog,
    store: Store | None,
    train: str,
    *,
    settings: Settings,
    reason: str,
    only: list[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
    journal: Journal | None = None,
    lease: Lease | None = None,
) -> tuple[RollbackPlan, RollbackResult | None]:
    """Plan (and unless `dry_run`, run) the rollback of TRAIN's latest run.

    Used by `release-trains rollback` and by the executor's automatic rollback, which passes
    the run's own `lease` and journal (its writes stay fenced by that lease). Otherwise a
    train that is executing is first asked to pause; the rollback then waits for its lock, up
    to the rollback timeout, and holds its own lease for the whole rollback.
    """
    t = find_train(catalog, train)
    run = store.latest_run(train) if store else None
    if store is None or run is None:
        raise InputError(f"train {train!r} has never run: there is nothing to roll back")
    timeout_s = t.rollback.timeout_s or catalog.config.rollback_timeout_s
    if dry_run:
        return plan_rollback(catalog, store, run, only=only, deployer_for=_deployers(
            catalog, store, journal)), None  # fmt: skip

    if lease is not None:
        return _under_lease(
            catalog, lease, t, settings=settings, reason=reason, only=only, force=force,
            journal=journal, timeout_s=timeout_s,
        )  # fmt: skip
    names = [s.service for s in store.steps(run.id)]
    in_catalog = [catalog.services[n] for n in names if n in catalog.services]
    check_declarations(store, in_catalog, settings=settings)
    _stop_executor(store, run, settings=settings, timeout_s=timeout_s)
    with delivering(catalog, store, given=settings.delivery) as delivery:
        return _own_lease(
            catalog, store, t, names, in_catalog, settings=settings, reason=reason, only=only,
            force=force, timeout_s=timeout_s, announcer=delivery.announcer(train),
        )  # fmt: skip


def _own_lease(
    catalog: Catalog,
    store: Store,
    t: Train,
    names: list[str],
    in_catalog: list[Service],
    *,
    settings: Settings,
    reason: str,
    only: list[str] | None,
    force: bool,
    timeout_s: float,
    announcer: Announcer | None,
) -> tuple[RollbackPlan, RollbackResult | None]:
    train = t.name
    with Lease(
        store=store,
        train=train,
        services=names,
        holder=settings.who,
        host=settings.host,
        pid=os.getpid(),
        stale_after_s=catalog.config.lock_stale_after_s,
        clock=settings.clock,
        audit_root=catalog.root,
        echo=settings.echo,
    ) as own:
        await_deploys_in_flight(
            catalog,
            own,
            in_catalog,
            settings=settings,
            again=f"release-trains rollback {train} --reason '...'",
        )
        return _under_lease(
            catalog, own, t, settings=settings, reason=reason, only=only, force=force,
            journal=None, timeout_s=timeout_s, announcer=announcer,
        )  # fmt: skip


def _under_lease(
    catalog: Catalog,
    lease: Lease,
    train: Train,
    *,
    settings: Settings,
    reason: str,
    only: list[str] | None,
    force: bool,
    journal: Journal | None,
    timeout_s: float,
    announcer: Announcer | None = None,
) -> tuple[RollbackPlan, RollbackResult]:
    """Read the run again under the lease and roll it back, with the caller's journal or one
    of our own."""
    fenced = lease.store
    run = fenced.latest_run(train.name)
    if run is None:
        raise InputError(f"train {train.name!r} has never run: there is nothing to roll back")
    own = journal is None
    if journal is None:
        journal = Journal(
            root=catalog.root,
            store=fenced,
            train=train.name,
            run_id=run.id,
            clock=settings.clock,
            who=settings.who,
            host=settings.host,
            echo=settings.echo,
            notify=announcer,
        )
    try:
        return _roll_back(
            catalog,
            fenced,
            train,
            run,
            settings=settings,
            reason=reason,
            only=only,
            force=force,
            journal=journal,
            lease=lease,
            timeout_s=timeout_s,
        )
    finally:
        if own:
            journal.close()


def _deployers(catalog: Catalog, store: Store, journal: Journal | None) -> Callable[[str], Any]:
    log = journal.output if journal else (lambda _: None)

    def deployer(name: str) -> Any:
        return deployer_for(catalog, catalog.services[name], store=store, log=log)

    return deployer


def _roll_back(
    catalog: Catalog,
    store: Store,
    t: Train,
    run: Run,
    *,
    settings: Settings,
    reason: str,
    only: list[str] | None,
    force: bool,
    journal: Journal,
    lease: Lease,
    timeout_s: float,
) -> tuple[RollbackPlan, RollbackResult]:
    """The rollback itself, under `lease`, every write through its fenced `store`."""
    train = t.name
    deployer = _deployers(catalog, store, journal)
    plan = plan_rollback(catalog, store, run, only=only, deployer_for=deployer)
    if plan.refusals and not force:
        raise RefusedError(
            "refusing a partial rollback: "
            + "; ".join(plan.refusals)
            + " (use --force to do it anyway)"
        )
    retried = any(s.rollback_started_at for s in store.steps(run.id)) and run.status == "failed"
    if retried and not force:
        raise lifecycle.refuse(train, run.status, "roll back again without --force")
    if not plan.steps:
        raise InputError(
            f"train {train!r} (run {run.id}, {run.status}) has no released service to roll back"
        )
    if (
        run.status not in lifecycle.TRANSITIONS
        or "rolled_back" not in lifecycle.TRANSITIONS[run.status]
    ):
        raise lifecycle.refuse(train, run.status, "roll back")
    journal.event(
        "rollback-start",
        f"reason: {reason}; order: {', '.join(plan.order)}",
        audit_detail={"reason": reason, "order": plan.order},
        audited=True,
    )

    def health(name: str, left_s: float) -> Health:
        fields = {"service": name, "train": train, "environment": catalog.config.environment}
        settings_ = health_settings(catalog.config.health, catalog.services[name].release)
        return check_health(
            name,
            settings_,
            threshold=health_threshold(t, settings_),
            fields=fields,
            root=catalog.root,
            time_limit_s=min(catalog.config.health_check_timeout_s, left_s),
        )

    result = execute_rollback(
        plan,
        store=store,
        catalog=catalog,
        deployer_for=deployer,
        check_health=health,
        event=journal.event,
        now=journal.now,
        force=force,
        timeout_s=timeout_s,
        host=settings.host,
        check=lease.check,
    )
    final_reason = f"{reason}: {result.reason}"
    current = store.latest_run(train)
    if current is None:
        raise InputError(f"train {train!r} has never run: there is nothing to roll back")
    remaining = sorted(s.service for s in deployed_steps(store.steps(run.id)))
    if result.status == "rolled_back" and remaining:
        # A subset went back; the rest still runs the release, so the train keeps its
        # status and can be rolled back further later.
        result = RollbackResult(
            current.status,
            result.reason.replace("every service", "every chosen service")
            + f"; still released: {', '.join(remaining)}",
            result.outcomes,
        )
        journal.event("partial-rollback", f"{reason}: {result.reason}", audited=True)
        return plan, result
    store.transition(
        run.id,
        expected=RunStatus(current.status),
        new=RunStatus(result.status),
        now=journal.now(),
        reason=final_reason,
        lock_id=lease.lock_id,
    )
    journal.event("status", f"{current.status} -> {result.status}: {final_reason}", audited=True)
    return plan, result


def _stop_executor(store: Store, run: Run, *, settings: Settings, timeout_s: float) -> None:
    """Ask a running executor to pause and wait (bounded) until it lets its lock go."""
    if run.status not in lifecycle.ACTIVE or not store.locks(run.train):
        return
    store.request_pause(run.id, f"{settings.who}: stopping for a rollback")
    deadline = time.monotonic() + timeout_s
    while store.locks(run.train):
        lock = store.locks(run.train)[0]
        if lock.host == settings.host and not pid_alive(lock.pid):
            return  # its process is gone: the lock is stale and will be taken over
        if time.monotonic() > deadline:
            raise LockHeldError(
                f"the executor of {run.train!r} did not stop within {timeout_s:g} s: "
                f"{lock.describe()}"
            )
        time.sleep(0.2)  # polling another process's progress, bounded by the deadline


def document(
    plan: RollbackPlan, result: RollbackResult | None, *, reason: str | None, dry_run: bool
) -> dict[str, Any]:
    """The `rollback --json` document (also the API's dry-run answer)."""

    def outcome(name: str, action: str) -> str:
        if result is None:
            return "manual" if action == "manual" else "planned"
        return result.outcomes.get(name, "not_started")

    return {
        "train": plan.run.train,
        "run_id": plan.run.id,
        "dry_run": dry_run,
        "reason": reason,
        "order": plan.order,
        "waves": [list(w) for w in plan.waves],
        "services": [s.to_json(outcome(s.service, s.action)) for s in plan.steps],
        "refusals": list(plan.refusals),
        "status": result.status if result else None,
        "detail": result.reason if result else None,
    }


def rollback_status(store: Store | None, train: str) -> dict[str, Any] | None:
    """The newest rollback of TRAIN (`GET .../rollback/status`), from the steps of the latest
    run that rolled any service back; None if no run of it ever did.

    `status`: rolling_back while a service's rollback has started and not finished;
    else the run's status when the whole run went back (rolled_back) or the rollback failed
    (failed); partially_rolled_back when a subset went back and the rest is still released.
    `reason` is the one given for the newest rollback (its rollback-start event)."""
    if store is None:
        return None
    for run in reversed(store.runs(train)):
        back = [s for s in store.steps(run.id) if s.rollback_started_at]
        if not back:
            continue
        reason = None
        for e in store.events(run.id):
            if e.kind == "rollback-start":
                reason = e.message.removeprefix("reason: ").rsplit("; order: ", 1)[0]
        in_flight = any(s.rollback_finished_at is None for s in back)
        if in_flight:
            status = "rolling_back"
        elif str(run.status) in ("rolled_back", "failed"):
            status = str(run.status)
        else:
            status = "partially_rolled_back"
        finished = [s.rollback_finished_at for s in back if s.rollback_finished_at]
        return {
            "train": train,
            "run_id": run.id,
            "status": status,
            "reason": reason,
            "started_at": min(str(s.rollback_started_at) for s in back),
            "finished_at": None if in_flight else max(finished, default=None),
            "services": [
                {
                    "service": s.service,
                    "from_version": s.to_version,  # a rollback goes from the release...
                    "to_version": s.from_version,  # ...back to what ran before (None: undeploy)
                    "outcome": str(s.status),
                }
                for s in back
            ],
        }
    return None
