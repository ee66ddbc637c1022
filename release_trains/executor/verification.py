"""Verification: a service's health check, the gates evaluated during and after the release,
and the rollback triggers watched while it runs and after it."""

from __future__ import annotations

import json
import time
from typing import Any

from ..gates import GateContext, GateResult, Health, evaluate
from ..models import GateCheck, Service
from ..planning import signal_reader
from ..probes import check_health, health_settings, health_threshold, probes_anything
from ..signals import Reading, read_signal
from ..triggers import TriggerWatch
from .context import RunContext


def probes_health(ctx: RunContext, service: Service) -> bool:
    """Whether `health` probes `service` (and may take time), or answers "not verified" at once."""
    return probes_anything(health_settings(ctx.catalog.config.health, service.release))


def health(ctx: RunContext, service: Service) -> Health:
    settings = health_settings(ctx.catalog.config.health, service.release)
    fields = {"service": service.name, "train": ctx.name, "environment": ctx.environment}
    kwargs: dict[str, Any] = {
        "threshold": health_threshold(ctx.train, settings),
        "fields": fields,
        "root": ctx.catalog.root,
        # validation.health_check_timeout bounds one service's whole verification: every
        # sample, retry and interval (probes.py), so a check that keeps failing slowly
        # cannot hold the train for retries x (timeout + interval).
        "time_limit_s": ctx.catalog.config.health_check_timeout_s,
    }
    if ctx.settings.sleep:
        kwargs["sleep"] = ctx.settings.sleep
    return check_health(service.name, settings, **kwargs)


def during_gates(ctx: RunContext) -> str | None:
    """The `during` gates after a service is released: why the train must stop, or None."""
    bad = [r for r in gates(ctx, "during") if r.blocks]
    if not bad:
        return None
    return "gate during release: " + "; ".join(
        f"{r.gate}: {r.outcome.value}: {r.detail}" for r in bad
    )


def verify(ctx: RunContext, watch: TriggerWatch) -> str | None:
    """The verifying phase: every service's health, the `after` gates, then the triggers for
    as many readings as they need. Why the run fails, or None."""
    problems = []
    for service in ctx.services:
        result = health(ctx, service)
        if result.healthy is False:
            problems.append(f"{service.name} unhealthy after release: {result.detail}")
            ctx.store.update_step(
                ctx.run_id, service.name, health="unhealthy", health_detail=result.detail
            )
        elif result.healthy:
            ctx.store.update_step(
                ctx.run_id, service.name, health="healthy", health_detail=result.detail
            )
    problems += [
        f"gate {r.gate}: {r.outcome.value}: {r.detail}" for r in gates(ctx, "after") if r.blocks
    ]
    if problems:
        return "; ".join(problems)
    sleep = ctx.settings.sleep or time.sleep
    for i in range(watch.readings_needed):
        if i:
            sleep(ctx.catalog.config.trigger_interval_s)  # metrics need time to move
        ctx.lease.check()
        fired = watch.observe()
        if fired:
            return fired
    return None


def gates(ctx: RunContext, when: str) -> list[GateResult]:
    # approval gates are people's answers, asked for by approval_gates.py, not evaluated here
    chosen = [g for g in ctx.train.gates if g.when == when and g.check is not GateCheck.APPROVAL]
    if not chosen:
        return []
    gate_ctx = GateContext(list(ctx.services), signal_reader(ctx.catalog), lambda s: health(ctx, s))
    results = [evaluate(g, gate_ctx) for g in chosen]
    for r in results:
        ctx.journal.event("gate", f"{r.gate} ({when}): {r.outcome.value}: {r.detail}")
    record_gates(ctx, results)
    return results


def record_gates(ctx: RunContext, results: list[GateResult]) -> None:
    """Put the latest results into the run's stored plan, which status and reports read."""
    run = ctx.store.run(ctx.run_id)
    if run is None:
        return
    doc = run.plan_doc()
    latest = {r.gate: r.to_json() for r in results}
    doc["gates"] = [latest.get(g.get("gate"), g) for g in doc.get("gates", [])]
    ctx.store.update_plan(ctx.run_id, json.dumps(doc))


def trigger_watch(ctx: RunContext) -> TriggerWatch:
    """The rollback triggers of the config and the train, read fresh at each observation."""
    return TriggerWatch(
        triggers=(*ctx.catalog.config.triggers, *ctx.train.rollback.triggers),
        read=lambda name: _read_trigger_signal(ctx, name),
        log=lambda line: ctx.journal.event("trigger", line),
    )


def _read_trigger_signal(ctx: RunContext, name: str) -> Reading | None:
    """Fresh reads (no cache): `health` is built in, the rest come from config signals."""
    if name == "health":
        return _health_signal(ctx)
    spec = ctx.catalog.config.signals.get(name)
    if spec is None:
        return None
    fields = {"train": ctx.name, "environment": ctx.environment}
    return read_signal(name, spec, root=ctx.catalog.root, fields=fields)


def _health_signal(ctx: RunContext) -> Reading:
    """Percent of the released services whose health check passes now (one probe each)."""
    released = [s.service for s in ctx.steps() if s.status == "released"]
    results = []
    for name in released:
        service = ctx.catalog.services[name]
        settings = {
            **health_settings(ctx.catalog.config.health, service.release),
            "retries": 0,
            "samples": 1,
        }
        result = check_health(name, settings, fields={"service": name}, root=ctx.catalog.root)
        if result.healthy is not None:
            results.append(result.healthy)
    if not results:
        return Reading("health", None, "health probes", "no released service has a health check")
    return Reading(
        "health",
        100.0 * sum(results) / len(results),
        f"health probes of {len(results)} services",
    )
