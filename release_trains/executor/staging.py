"""Staging: each service's rollback point recorded and its artifacts checked, before anything
is deployed."""

from __future__ import annotations

from typing import Any

from ..models import Service
from ..planning import Plan
from ..state import Step
from .context import RunContext


def stage(ctx: RunContext, plan: Plan) -> str | None:
    """Rollback points and artifact checks: the failure that stops the run, or None. A step
    only counts as done when it was released at the version this run targets (a changed
    target is deployed again)."""
    # one transaction for the staging events of every service, not one each
    with ctx.journal.batch():
        return _stage(ctx, plan)


def _stage(ctx: RunContext, plan: Plan) -> str | None:
    existing = {s.service: s for s in ctx.steps()}
    new_steps = []
    for position, name in enumerate(plan.ordering.order):
        ctx.lease.check()
        planned = plan.service(name)
        target = planned.to_version
        step = existing.get(name)
        if step is not None and step.status == "released" and step.to_version == target:
            continue  # released at this very target by an earlier attempt: never twice
        # The rollback point recorded when the run first staged the service stays: it is
        # what ran before this run touched it.
        point = step.from_version if step is not None else planned.from_version
        failure = check_artifacts(ctx, ctx.catalog.services[name], target or "", point)
        if failure:
            return failure
        if step is None:
            new_steps.append(
                Step(ctx.run_id, name, position, "pending", planned.from_version, target)
            )
            shown = planned.from_version or "none (first install)"
            ctx.journal.event("rollback-point", f"{name}: {shown}; target {target}", service=name)
            continue
        changes: dict[str, Any] = {}
        if step.to_version != target:
            changes["to_version"] = target
            ctx.journal.event(
                "retarget",
                f"target changed from {step.to_version} to {target} since the run last "
                f"staged it ({step.status} then): it is deployed at {target}",
                service=name,
                audited=True,
            )
        if step.status in ("failed", "skipped", "released"):
            changes.update(status="pending", error=None, health="not verified", health_detail=None)
        if changes:
            ctx.store.update_step(ctx.run_id, name, **changes)
    ctx.store.add_steps(new_steps)
    return None


def check_artifacts(
    ctx: RunContext, service: Service, target: str, point: str | None
) -> str | None:
    """The new version's artifact, and the rollback point's with the same `check`: the
    failure that stops the run, or None. A missing rollback artifact stops it only where
    automatic rollback is enabled (it could not return there); otherwise it is a warning."""
    name = service.name
    deployer = ctx.deployer(service)
    check = deployer.check(ctx.request(name, target, point))
    if check is None:
        return None  # this deployer has nothing to check artifacts with
    if not check.ok:
        return f"{name}: artifact check failed: {check.detail}"
    # Shaped like the rollback request: {version} is the version to return to. A first
    # install has no rollback point.
    back = deployer.check(ctx.request(name, point, target)) if point else None
    if back is None or back.ok:
        detail = check.detail
        if back is not None:
            detail += (
                f" (rollback point {point} too)"
                if back.detail == check.detail
                else f"; rollback point {point}: {back.detail}"
            )
        ctx.journal.event("artifact", detail, service=name)
        return None
    ctx.journal.event("artifact", check.detail, service=name)
    problem = f"{name}: rollback point {point}: artifact check failed: {back.detail}"
    if ctx.rollback_enabled():
        return f"{problem} (automatic rollback is enabled and could not return there)"
    ctx.journal.event(
        "warning",
        f"{problem}; automatic rollback is disabled, so the run goes on",
        service=name,
        audited=True,
    )
    return None
