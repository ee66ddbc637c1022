"""The phases of a run, in order: validating -> staging -> executing -> verifying -> completed,
and the status changes between them (each committed before the work it announces starts, so
a run killed at any moment can be resumed)."""

from __future__ import annotations

import json

from .. import lifecycle
from ..deployers.select import current_versions
from ..errors import ReleaseTrainError
from ..lifecycle import RunStatus
from ..planning import Plan, plan_train
from ..rollback import deployed_steps, rollback_train
from . import approval_gates
from .context import RunContext, RunOutcome
from .environment import environment_problems
from .scheduling import release_all
from .staging import stage
from .verification import trigger_watch, verify


def run_phases(ctx: RunContext) -> RunOutcome:
    start = _begin(ctx)
    move(ctx, start, "validating")
    plan = validating(ctx)
    if isinstance(plan, str):
        return finish(ctx, "failed", plan)

    move(ctx, "validating", "staging")
    failure = stage(ctx, plan)
    if failure:
        return finish(ctx, "failed", failure)
    waiting = approvals(ctx, "before")
    if waiting:
        return waiting

    move(ctx, "staging", "executing")
    watch = trigger_watch(ctx)
    halt = release_all(ctx, plan, watch)
    if halt.stopping and not halt.failure:
        return pause(ctx, halt.stopping)
    if halt.failure:
        return fail(ctx, halt.failure)

    move(ctx, "executing", "verifying")
    failure = verify(ctx, watch)
    if failure:
        return fail(ctx, failure)
    waiting = approvals(ctx, "after")
    if waiting:
        return waiting
    return finish(ctx, "completed", None)


def approvals(ctx: RunContext, when: str) -> RunOutcome | None:
    """The approval gates of `when` (approval_gates.py): None to carry on; else the run
    pauses awaiting an approval, or fails on a rejection."""
    v = approval_gates.verdict(ctx, when)
    if v is None:
        return None
    if v.rejected:  # normally failed by the rejection itself; a run resumed meanwhile ends here
        return fail(ctx, v.reason) if ctx.status() != "staging" else finish(ctx, "failed", v.reason)
    outcome = pause(ctx, v.reason)
    approval_gates.announce(ctx, v)
    return outcome


def _begin(ctx: RunContext) -> str:
    """Say how the run (re)starts; the status validating is entered from."""
    ctx.store.request_pause(ctx.run_id, None)
    start = ctx.run.status
    if start in lifecycle.ACTIVE:
        ctx.journal.event(
            "resume",
            f"resuming run {ctx.run_id} left {start} by a stopped or killed process",
            audited=True,
        )
        move(ctx, start, "paused")  # an interrupted run resumes like a paused one
        return "paused"
    if start == "failed":
        ctx.journal.event(
            "retry", f"executing run {ctx.run_id} again after it failed", audited=True
        )
        approval_gates.reopen(ctx)
    return start


def validating(ctx: RunContext) -> Plan | str:
    """What the environment must supply, then the plan must still be ready: the plan, or why
    the run fails."""
    services = list(ctx.services)
    missing = environment_problems(ctx.catalog, ctx.train, services)
    if missing:
        return "environment: " + "; ".join(missing)
    plan = plan_train(
        ctx.catalog,
        ctx.name,
        now=ctx.settings.clock(),
        current_versions=current_versions(ctx.catalog, ctx.store, services),
        status="validating",
    )
    ctx.store.set_run_plan(
        ctx.run_id,
        json.dumps(plan.to_json()),
        max_parallel=ctx.settings.max_parallel,
        now=ctx.now(),
    )
    if not plan.ready:
        return "plan not ready: " + "; ".join(plan.problems)
    return plan


# --- status changes --------------------------------------------------------------------------


def move(ctx: RunContext, current: str, new: str) -> None:
    """The one way a phase changes the run's status: a compare-and-set from `current`, checked
    against the lifecycle and the lease in the same transaction (state.runs.transition)."""
    ctx.store.transition(
        ctx.run_id,
        expected=RunStatus(current),
        new=RunStatus(new),
        now=ctx.now(),
        lock_id=ctx.lease.lock_id,
    )
    ctx.journal.event("status", f"{current} -> {new}", audited=True)


def finish(ctx: RunContext, status: str, reason: str | None) -> RunOutcome:
    current = ctx.status()
    ctx.store.transition(
        ctx.run_id,
        expected=RunStatus(current),
        new=RunStatus(status),
        now=ctx.now(),
        reason=reason,
        lock_id=ctx.lease.lock_id,
    )
    ctx.journal.event(
        "status", f"{current} -> {status}" + (f": {reason}" if reason else ""), audited=True
    )
    return RunOutcome(ctx.name, ctx.run_id, status, reason, tuple(ctx.steps()))


def outcome(ctx: RunContext) -> RunOutcome:
    run = ctx.store.run(ctx.run_id) or ctx.run
    return RunOutcome(ctx.name, run.id, run.status, run.reason, tuple(ctx.steps()))


def pause(ctx: RunContext, reason: str) -> RunOutcome:
    ctx.store.request_pause(ctx.run_id, None)
    return finish(ctx, "paused", reason)


def fail(ctx: RunContext, reason: str) -> RunOutcome:
    """Automatic rollback where it is enabled (train, else config; default off), under the
    run's own lease."""
    if not ctx.rollback_enabled():
        return finish(ctx, "failed", f"{reason} (automatic rollback is disabled: no rollback ran)")
    if not deployed_steps(ctx.steps()):
        return finish(ctx, "failed", f"{reason} (nothing was deployed: no rollback needed)")
    ctx.journal.event("auto-rollback", f"rolling back automatically: {reason}", audited=True)
    rollback_train(
        ctx.catalog,
        ctx.store,
        ctx.name,
        settings=ctx.settings,
        reason=f"automatic rollback after: {reason}",
        journal=ctx.journal,
        lease=ctx.lease,
    )
    return outcome(ctx)


def end_after_error(ctx: RunContext, error: Exception) -> None:
    """A phase raised: the run still ends `failed`, with the reason, so it is never left
    looking active. No automatic rollback runs: the code that should drive it has just
    failed in a way nobody planned for, so a person decides (execute again reconciles every
    step with what the deployer reports; `rollback` undoes what was deployed)."""
    try:
        current = ctx.status()
        if current not in lifecycle.TRANSITIONS or "failed" not in lifecycle.TRANSITIONS[current]:
            return
        what = (
            str(error)
            if isinstance(error, ReleaseTrainError)
            else f"unexpected error: {type(error).__name__}: {error}"
        )
        finish(
            ctx,
            "failed",
            f"{current} stopped by {what} (no automatic rollback ran; run `release-trains "
            f"execute {ctx.name}` to retry or `release-trains rollback {ctx.name}` to undo)",
        )
    except Exception:  # the original error is what the caller must see
        return
