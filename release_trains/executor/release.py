"""One service's release step: deploy (or reconcile what an interrupted attempt left), confirm
the version the deployer reports, verify health, and record it released or failed."""

from __future__ import annotations

from dataclasses import replace

from ..deployers.base import Spawned, confirm
from ..models import Service
from ..signals import SIGNAL_EVENT, read_signal, reading_event, service_signal_specs
from ..state import Step
from .context import RunContext
from .verification import health, probes_health


def release_one(ctx: RunContext, service: Service, step: Step) -> bool:
    """deploy -> health verification -> released; False on failure (recorded). Raises
    LostLockError, deploying nothing, once the lease is gone."""
    name, run_id = service.name, ctx.run_id
    to = step.to_version or ""
    deployer = ctx.deployer(service)
    req = ctx.request(name, to, step.from_version)
    need_deploy = True
    if step.status in ("deploying", "verifying"):
        # Interrupted mid-step by a kill: ask what runs before deploying again.
        running_now = deployer.current_version(name)
        need_deploy = running_now != to
        ctx.journal.event(
            "reconcile",
            f"step was left {step.status}; deployer reports {running_now or 'nothing'}: "
            + ("deploying again" if need_deploy else "already deployed, verifying"),
            service=name,
        )
    if need_deploy:
        ctx.lease.check()  # a lost lease starts no deploy, even before its next write fails
        ctx.journal.event(
            "deploy",
            f"{step.from_version or 'none'} -> {to} via {deployer.describe('deploy', req)}",
            service=name,
            audited=True,
            step={
                "status": "deploying",
                "attempts": step.attempts + 1,
                "started_at": ctx.now(),
                "finished_at": None,  # the last attempt's end would make a negative duration
                "error": None,
                "health": "not verified",
                "health_detail": None,
            },
        )
        ctx.lease.check()
        spawned: list[int] = []
        try:
            result = deployer.deploy(replace(req, on_spawn=_recorder(ctx, name, spawned)))
        finally:
            if spawned:  # a deployer that started no command recorded no process group
                ctx.store.update_step(
                    run_id, name, deploy_pgid=None, deploy_host=None, deploy_started_at=None
                )
        if result.attempts > 1:  # retries inside the deployer count as attempts too
            ctx.store.update_step(run_id, name, attempts=step.attempts + result.attempts)
        result, unconfirmed = confirm(
            deployer, action="deploy", service=name, expected=to, result=result
        )
        if unconfirmed:
            ctx.journal.event(
                "unconfirmed",
                f"deploy of {to} not confirmed: current_version gave no version (see the log)",
                service=name,
            )
        if not result.ok:
            ctx.journal.event(
                "deploy-failed",
                result.detail,
                service=name,
                audited=True,
                step={"status": "failed", "error": result.detail, "finished_at": ctx.now()},
            )
            return False
    # With health probes, "verifying" and the deployed version are recorded before the check,
    # which may take long (status shows it; a kill there is reconciled as verifying). Without
    # any, the check answers at once, and the deployed version is written with the step's
    # outcome in one transaction: one durable commit less per service (B3). A kill between
    # the deploy and that commit leaves the step "deploying", which the next run reconciles
    # by asking the deployer, as it does for a kill during the deploy itself.
    probed = probes_health(ctx, service)
    if probed:
        ctx.store.record_release(
            run_id, name, environment=ctx.environment, version=to, now=ctx.now(), status="verifying"
        )
    # stamped when the deploy is confirmed, as record_release stamps it
    deployed = None if probed else (ctx.environment, to, ctx.now())
    verdict = health(ctx, service)
    if verdict.healthy is False:
        ctx.journal.event(
            "health-failed",
            verdict.detail,
            service=name,
            audited=True,
            step={
                "status": "failed",
                "health": verdict.verdict,
                "health_detail": verdict.detail,
                "error": f"health verification failed: {verdict.detail}",
                "finished_at": ctx.now(),
            },
            deployed=deployed,
        )
        return False
    ctx.journal.event(
        "released",
        f"{to} ({verdict.detail})",
        service=name,
        audited=True,
        step={
            "status": "released",
            "health": verdict.verdict,
            "health_detail": verdict.detail,
            "finished_at": ctx.now(),
        },
        deployed=deployed,
    )
    _record_signals(ctx, name)
    return True


def _record_signals(ctx: RunContext, name: str) -> None:
    """One reading of each signal that measures the released service (error rate, latency),
    kept as `signal` events: its performance history (GET /api/v1/monitoring/performance/S).
    Each read is bounded by its own timeout; a failed read is recorded with its error and
    never fails the release."""
    service = ctx.catalog.services[name]
    specs = service_signal_specs(ctx.catalog.config.signals, service.release.get("signals"))
    fields = {"service": name, "environment": ctx.environment, "train": ctx.name}
    for metric, spec in sorted(specs.items()):
        reading = read_signal(metric, spec, root=ctx.catalog.root, fields=fields)
        ctx.journal.event(SIGNAL_EVENT, reading_event(reading), service=name)


def _recorder(ctx: RunContext, name: str, spawned_groups: list[int]) -> Spawned:
    """Records each deployer command's process group with the step as it starts (and in
    `spawned_groups`, so the step's record is cleared afterwards only if one was made)."""

    def spawned(pgid: int) -> None:
        spawned_groups.append(pgid)
        ctx.store.update_step(
            ctx.run_id,
            name,
            deploy_pgid=pgid,
            deploy_host=ctx.settings.host,
            deploy_started_at=ctx.now(),
        )

    return spawned
