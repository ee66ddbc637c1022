"""Drives a train through validating -> staging -> executing -> verifying -> completed.

Every state change is committed to the store before the work it announces starts, so a run
killed at any moment can be resumed: a step left `deploying` is reconciled by asking the
deployer what is running, and nothing already released is deployed again.

Services are released in dependency order with graphlib's get_ready/done, so with
`max_parallel > 1` a service starts as soon as its own dependencies are released.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from graphlib import TopologicalSorter
from typing import Any

from . import lifecycle
from .deployers import build_deployer
from .deployers.base import Deployer, DeployRequest, DeployResult, Spawned, seconds
from .deployers.process import GRACE_S, leader_running
from .errors import EXIT_NO, EXIT_OK, InputError, LockHeldError, NotNowError, ReleaseTrainError
from .gates import GateContext, GateResult, Health, evaluate
from .journal import Journal
from .lifecycle import RunStatus
from .models import Catalog, Service
from .planning import Plan, plan_train, resolve_participants
from .probes import check_health, health_settings
from .signals import SIGNAL_EVENT, Reading, read_signal, reading_event, service_signal_specs
from .state import Lock, Run, Step, Store
from .triggers import TriggerWatch

FINAL_STEP = frozenset({"released"})
_IN_FLIGHT_POLL_S = 0.1  # how often a new run looks whether an orphaned deploy has ended
_HEARTBEAT_EVERY_S = 1.0  # lease renewal while it waits (the executor's own loop: ~1 s too)


@dataclass(frozen=True)
class RunOutcome:
    train: str
    run_id: int
    status: str
    reason: str | None
    steps: tuple[Step, ...] = ()

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.status == "completed" else EXIT_NO

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "run_id": self.run_id,
            "status": self.status,
            "reason": self.reason,
            "services": [
                {
                    "service": s.service,
                    "status": s.status,
                    "from_version": s.from_version,
                    "to_version": s.to_version,
                    "attempts": s.attempts,
                    "health": s.health,
                    "error": s.error,
                }
                for s in self.steps
            ],
        }


@dataclass
class Settings:
    """What a run needs besides the catalog and the store (time and identity come in here)."""

    clock: Callable[[], datetime]
    who: str
    max_parallel: int = 1
    echo: Callable[[str], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # SIGTERM / Ctrl-C
    sleep: Callable[[float], None] | None = None


def deployer_settings(catalog: Catalog, service: Service) -> dict[str, Any]:
    """Config `deployer:` with the service's own `release.deployer` keys on top; a service
    that names another deployer type takes only its own settings."""
    own = dict(service.release.get("deployer") or {})
    base = dict(catalog.config.deployer)
    if "type" in own and own["type"] != base.get("type", "local"):
        return own
    return {**base, **own}


def deployer_for(
    catalog: Catalog, service: Service, *, store: Any, log: Callable[[str], None]
) -> Deployer:
    return build_deployer(
        deployer_settings(catalog, service),
        store=store,
        environment=catalog.config.environment,
        log=log,
        root=catalog.root,
    )


def current_versions(
    catalog: Catalog, store: Store | None, services: list[Service]
) -> dict[str, str]:
    """What runs now, per service: the deployer's answer, else what the store recorded."""
    recorded = store.deployed_versions(catalog.config.environment) if store else {}
    out: dict[str, str] = {}
    for s in services:
        reported = deployer_for(
            catalog, s, store=store or _NoStore(), log=lambda _: None
        ).current_version(s.name)
        version = reported or recorded.get(s.name)
        if version:
            out[s.name] = version
    return out


class _NoStore:
    """Stands in for the store where none exists yet (dry runs on a fresh checkout)."""

    def deployed_version(self, environment: str, service: str) -> str | None:
        return None

    def set_deployed_version(self, environment: str, service: str, version: str | None) -> None:
        raise RuntimeError("a dry run never deploys")


class Executor:
    def __init__(self, *, catalog: Catalog, store: Store, train: str, settings: Settings) -> None:
        self.catalog = catalog
        self.store = store
        self.train_name = train
        self.s = settings
        self.train = catalog.trains.get(train)
        self.lock_id = uuid.uuid4().hex[:12]
        self.journal: Journal | None = None
        self.run: Run | None = None
        self._stopping: str | None = None  # why no new service may start
        self._failure: str | None = None
        self._trigger_watch: TriggerWatch | None = None

    # --- entry points ----------------------------------------------------------------------

    def execute(self, *, resume_only: bool = False) -> RunOutcome:
        from .planning import find_train

        train = find_train(self.catalog, self.train_name)
        services = resolve_participants(self.catalog, train)
        run = self.store.latest_run(train.name)
        status = run.status if run else train.status
        if resume_only and status != "paused":
            raise lifecycle.refuse(train.name, status, "resume")
        if status == "completed":
            raise lifecycle.refuse(train.name, status, "execute")
        self._lock([s.name for s in services])
        try:
            await_deploys_in_flight(
                self.catalog, self.store, services, settings=self.s, heartbeat=self._heartbeat
            )
            run = self.store.latest_run(train.name)  # re-read under the lock
            try:
                return self._run(run, services)
            except NotNowError:
                raise  # a refused move or a lost lock: this process must not write the run
            except Exception as e:
                self._end_after_error(e)
                raise
        finally:
            self.store.release(self.lock_id)
            if self.journal:
                self.journal.close()

    def _end_after_error(self, error: Exception) -> None:
        """A phase raised: the run still ends `failed`, with the reason, so it is never left
        looking active. No automatic rollback runs: the code that should drive it has just
        failed in a way nobody planned for, so a person decides (execute again reconciles every
        step with what the deployer reports; `rollback` undoes what was deployed)."""
        if self.run is None or self.journal is None:
            return  # nothing was started that could be left behind
        try:
            current = self._current_status()
            if (
                current not in lifecycle.TRANSITIONS
                or "failed" not in lifecycle.TRANSITIONS[current]
            ):
                return
            what = (
                str(error)
                if isinstance(error, ReleaseTrainError)
                else (f"unexpected error: {type(error).__name__}: {error}")
            )
            self._finish(
                "failed",
                f"{current} stopped by {what} (no automatic rollback ran; run `release-trains "
                f"execute {self.train_name}` to retry or `release-trains rollback "
                f"{self.train_name}` to undo)",
            )
        except Exception:  # the original error is what the caller must see
            return

    # --- the phases ------------------------------------------------------------------------

    def _run(self, run: Run | None, services: list[Service]) -> RunOutcome:
        assert self.train is not None
        now = self._now()
        resumable = run is not None and run.status not in ("completed", "rolled_back")
        if run is None or not resumable:
            run = self.store.create_run(
                train=self.train.name,
                status="planning",
                actor=self.s.who,
                plan="{}",
                max_parallel=self.s.max_parallel,
                now=now,
                expect_latest=run.id if run else None,  # checked in the creating transaction
                lock_id=self.lock_id,
            )
        self.run = run
        self.journal = Journal(
            root=self.catalog.root,
            store=self.store,
            train=self.train.name,
            run_id=run.id,
            clock=self.s.clock,
            who=self.s.who,
            echo=self.s.echo,
        )
        self.store.request_pause(run.id, None)
        start: str = run.status
        if start in lifecycle.ACTIVE:
            self.journal.event(
                "resume",
                f"resuming run {run.id} left {start} by a stopped or killed process",
                audited=True,
            )
            self._move(start, "paused")  # an interrupted run resumes like a paused one
            start = "paused"
        if start == "failed":
            self.journal.event(
                "retry", f"executing run {run.id} again after it failed", audited=True
            )
        self._move(start, "validating")

        # validating: what the environment must supply, then the plan must still be ready
        missing = environment_problems(self.catalog, self.train, services)
        if missing:
            return self._finish("failed", "environment: " + "; ".join(missing))
        plan = plan_train(
            self.catalog,
            self.train.name,
            now=self.s.clock(),
            current_versions=current_versions(self.catalog, self.store, services),
            status="validating",
        )
        self.store.set_run_plan(
            run.id, json.dumps(plan.to_json()), max_parallel=self.s.max_parallel, now=self._now()
        )
        if not plan.ready:
            return self._finish("failed", "plan not ready: " + "; ".join(plan.problems))

        # staging: rollback points and artifact checks
        self._move("validating", "staging")
        failure = self._stage(plan, services)
        if failure:
            return self._finish("failed", failure)

        # executing
        self._move("staging", "executing")
        self._release_all(plan, services)
        if self._stopping and not self._failure:
            return self._pause(self._stopping)
        if self._failure:
            return self._fail(self._failure)

        # verifying
        self._move("executing", "verifying")
        failure = self._verify(services)
        if failure:
            return self._fail(failure)
        return self._finish("completed", None)

    def _stage(self, plan: Plan, services: list[Service]) -> str | None:
        """Rollback points and artifact checks; a step only counts as done when it was
        released at the version this run targets (a changed target is deployed again)."""
        assert self.run and self.journal
        existing = {s.service: s for s in self.store.steps(self.run.id)}
        new_steps = []
        for position, name in enumerate(plan.ordering.order):
            planned = plan.service(name)
            target = planned.to_version
            step = existing.get(name)
            if step is not None and step.status == "released" and step.to_version == target:
                continue  # released at this very target by an earlier attempt: never twice
            # The rollback point recorded when the run first staged the service stays: it is
            # what ran before this run touched it.
            point = step.from_version if step is not None else planned.from_version
            failure = self._check_artifacts(self.catalog.services[name], target or "", point)
            if failure:
                return failure
            if step is None:
                new_steps.append(
                    Step(self.run.id, name, position, "pending", planned.from_version, target)
                )
                shown = planned.from_version or "none (first install)"
                self.journal.event(
                    "rollback-point", f"{name}: {shown}; target {target}", service=name
                )
                continue
            changes: dict[str, Any] = {}
            if step.to_version != target:
                changes["to_version"] = target
                self.journal.event(
                    "retarget",
                    f"target changed from {step.to_version} to {target} since the run last "
                    f"staged it ({step.status} then): it is deployed at {target}",
                    service=name,
                    audited=True,
                )
            if step.status in ("failed", "skipped", "released"):
                changes.update(
                    status="pending", error=None, health="not verified", health_detail=None
                )
            if changes:
                self.store.update_step(self.run.id, name, **changes)
        self.store.add_steps(new_steps)
        return None

    def _check_artifacts(self, service: Service, target: str, point: str | None) -> str | None:
        """The new version's artifact, and the rollback point's with the same `check`: the
        failure that stops the run, or None. A missing rollback artifact stops it only where
        automatic rollback is enabled (it could not return there); otherwise it is a warning."""
        assert self.journal
        name = service.name
        deployer = self._deployer(service)
        check = deployer.check(self._request(name, target, point))
        if check is None:
            return None  # this deployer has nothing to check artifacts with
        if not check.ok:
            return f"{name}: artifact check failed: {check.detail}"
        # Shaped like the rollback request: {version} is the version to return to. A first
        # install has no rollback point.
        back = deployer.check(self._request(name, point, target)) if point else None
        if back is None or back.ok:
            detail = check.detail
            if back is not None:
                detail += (
                    f" (rollback point {point} too)"
                    if back.detail == check.detail
                    else f"; rollback point {point}: {back.detail}"
                )
            self.journal.event("artifact", detail, service=name)
            return None
        self.journal.event("artifact", check.detail, service=name)
        problem = f"{name}: rollback point {point}: artifact check failed: {back.detail}"
        if self._rollback_enabled():
            return f"{problem} (automatic rollback is enabled and could not return there)"
        self.journal.event(
            "warning",
            f"{problem}; automatic rollback is disabled, so the run goes on",
            service=name,
            audited=True,
        )
        return None

    def _rollback_enabled(self) -> bool:
        """The train's rollback.enabled, else config rollback.enabled (default false)."""
        assert self.train
        enabled = self.train.rollback.enabled
        return self.catalog.config.rollback_enabled if enabled is None else bool(enabled)

    def _release_all(self, plan: Plan, services: list[Service]) -> None:
        assert self.run and self.journal
        by_name = {s.name: s for s in services}
        steps = {s.service: s for s in self.store.steps(self.run.id)}
        sorter: TopologicalSorter[str] = TopologicalSorter(
            {name: plan.ordering.requires.get(name, frozenset()) for name in plan.ordering.order}
        )
        sorter.prepare()
        ready: list[str] = []
        running: dict[Future[bool], str] = {}
        failed: set[str] = set()
        with ThreadPoolExecutor(
            max_workers=self.s.max_parallel, thread_name_prefix="release"
        ) as pool:
            while sorter.is_active():
                ready.extend(sorted(sorter.get_ready()))
                while ready and len(running) < self.s.max_parallel and not self._should_stop():
                    name = ready.pop(0)
                    if steps[name].status == "released":  # at this target: see _stage
                        sorter.done(name)  # released by an earlier process: never twice
                        ready.extend(sorted(sorter.get_ready()))
                        continue
                    running[pool.submit(self._release_one, by_name[name], steps[name])] = name
                if not running:
                    break  # stopping, or nothing more can start
                finished, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
                self._heartbeat()
                for fut in finished:
                    name = running.pop(fut)
                    if fut.result():
                        sorter.done(name)
                        self._during_gates(services)
                        self._observe_triggers()
                    else:
                        failed.add(name)
                        self._failure = self._failure or f"{name} failed: {self._step(name).error}"
        self._skip_rest(plan, failed)

    def _should_stop(self) -> bool:
        if self._failure:
            return True
        if self.s.stop.is_set() and not self._stopping:
            self._stopping = "stopped by a signal (SIGTERM/Ctrl-C) before the next service"
        request = self.store.pause_request(self.run.id) if self.run else None
        if request and not self._stopping:
            self._stopping = f"paused by {request}"
        return self._stopping is not None

    def _release_one(self, service: Service, step: Step) -> bool:
        """deploy -> health verification -> released; False on failure (recorded)."""
        assert self.run and self.journal
        name, run_id = service.name, self.run.id
        to = step.to_version or ""
        deployer = self._deployer(service)
        req = self._request(name, to, step.from_version)
        need_deploy = True
        if step.status in ("deploying", "verifying"):
            # Interrupted mid-step by a kill: ask what runs before deploying again.
            running_now = deployer.current_version(name)
            need_deploy = running_now != to
            self.journal.event(
                "reconcile",
                f"step was left {step.status}; deployer reports {running_now or 'nothing'}: "
                + ("deploying again" if need_deploy else "already deployed, verifying"),
                service=name,
            )
        if need_deploy:
            self.store.update_step(
                run_id,
                name,
                status="deploying",
                attempts=step.attempts + 1,
                started_at=self._now(),
                finished_at=None,  # the last attempt's end would make a negative duration
                error=None,
                health="not verified",
                health_detail=None,
            )
            self.journal.event(
                "deploy",
                f"{step.from_version or 'none'} -> {to} via {deployer.describe('deploy', req)}",
                service=name,
                audited=True,
            )
            try:
                result = deployer.deploy(replace(req, on_spawn=self._recorder(name)))
            finally:
                self.store.update_step(
                    run_id, name, deploy_pgid=None, deploy_host=None, deploy_started_at=None
                )
            if result.attempts > 1:  # retries inside the deployer count as attempts too
                self.store.update_step(run_id, name, attempts=step.attempts + result.attempts)
            if result.ok:
                result = self._confirm(deployer, name, to, result)
            if not result.ok:
                self.store.update_step(
                    run_id, name, status="failed", error=result.detail, finished_at=self._now()
                )
                self.journal.event("deploy-failed", result.detail, service=name, audited=True)
                return False
        self.store.record_release(
            run_id,
            name,
            environment=self.catalog.config.environment,
            version=to,
            now=self._now(),
            status="verifying",
        )
        health = self._health(service)
        verdict = health.verdict
        if health.healthy is False:
            self.store.update_step(
                run_id,
                name,
                status="failed",
                health=verdict,
                health_detail=health.detail,
                error=f"health verification failed: {health.detail}",
                finished_at=self._now(),
            )
            self.journal.event("health-failed", health.detail, service=name, audited=True)
            return False
        self.store.update_step(
            run_id,
            name,
            status="released",
            health=verdict,
            health_detail=health.detail,
            finished_at=self._now(),
        )
        self.journal.event("released", f"{to} ({health.detail})", service=name, audited=True)
        self._record_signals(name)
        return True

    def _record_signals(self, name: str) -> None:
        """One reading of each signal that measures the released service (error rate,
        latency), kept as `signal` events: its performance history (GET
        /api/v1/monitoring/performance/SERVICE). Each read is bounded by its own timeout; a
        failed read is recorded with its error and never fails the release."""
        assert self.journal
        service = self.catalog.services[name]
        specs = service_signal_specs(self.catalog.config.signals, service.release.get("signals"))
        fields = {"service": name, "environment": self.catalog.config.environment}
        if self.train is not None:
            fields["train"] = self.train.name
        for metric, spec in sorted(specs.items()):
            reading = read_signal(metric, spec, root=self.catalog.root, fields=fields)
            self.journal.event(SIGNAL_EVENT, reading_event(reading), service=name)

    def _recorder(self, name: str) -> Spawned:
        """Records each deployer command's process group with the step as it starts."""
        assert self.run
        run_id = self.run.id

        def spawned(pgid: int) -> None:
            self.store.update_step(
                run_id,
                name,
                deploy_pgid=pgid,
                deploy_host=this_host(),
                deploy_started_at=self._now(),
            )

        return spawned

    def _confirm(
        self, deployer: Deployer, name: str, to: str, result: DeployResult
    ) -> DeployResult:
        """A deploy that said it succeeded, checked against what the deployer reports now
        (where it can report a version): exit 0 alone does not make a release. A report of
        another version fails it; no answer (current_version failed or printed no version,
        logged) leaves it unconfirmed, said in an event, and health verification decides."""
        assert self.journal
        if not to or not deployer.can_report_version():
            return result
        running = deployer.current_version(name)
        if running == to:
            return result
        if running is None:
            self.journal.event(
                "unconfirmed",
                f"deploy of {to} not confirmed: current_version gave no version (see the log)",
                service=name,
            )
            return result
        how = "exited 0" if deployer.kind == "command" else "succeeded"
        return DeployResult(
            False,
            f"deploy {how} but current_version reports {running}, expected {to}",
            result.attempts,
        )

    def _skip_rest(self, plan: Plan, failed: set[str]) -> None:
        """Steps that never started: skipped, saying whether a dependency failed."""
        if not self._failure or not self.run:
            return
        for step in self.store.steps(self.run.id):
            if step.status != "pending":
                continue
            blockers = sorted(plan.ordering.requires.get(step.service, frozenset()) & failed)
            why = (
                f"depends on {', '.join(blockers)}, which failed or was skipped"
                if blockers
                else "not started: the train stopped after a failure"
            )
            self.store.update_step(self.run.id, step.service, status="skipped", error=why)
            failed.add(step.service)  # its own dependents are skipped for the same reason
            if self.journal:
                self.journal.event("skipped", why, service=step.service)

    def _during_gates(self, services: list[Service]) -> None:
        results = self._gates("during", services)
        bad = [r for r in results if r.blocks]
        if bad and not self._failure:
            self._failure = "gate during release: " + "; ".join(
                f"{r.gate}: {r.outcome.value}: {r.detail}" for r in bad
            )

    def _verify(self, services: list[Service]) -> str | None:
        assert self.run and self.journal
        problems = []
        for service in services:
            health = self._health(service)
            if health.healthy is False:
                problems.append(f"{service.name} unhealthy after release: {health.detail}")
                self.store.update_step(
                    self.run.id, service.name, health="unhealthy", health_detail=health.detail
                )
            elif health.healthy:
                self.store.update_step(
                    self.run.id, service.name, health="healthy", health_detail=health.detail
                )
        problems += [
            f"gate {r.gate}: {r.outcome.value}: {r.detail}"
            for r in self._gates("after", services)
            if r.blocks
        ]
        if problems:
            return "; ".join(problems)
        watch = self._watch()
        sleep = self.s.sleep or time.sleep
        for i in range(watch.readings_needed):
            if i:
                sleep(self.catalog.config.trigger_interval_s)  # metrics need time to move
            fired = watch.observe()
            if fired:
                return fired
        return None

    def _gates(self, when: str, services: list[Service]) -> list[GateResult]:
        assert self.train and self.journal
        from .planning import signal_reader

        gates = [g for g in self.train.gates if g.when == when]
        if not gates:
            return []
        ctx = GateContext(services, signal_reader(self.catalog), self._health)
        results = [evaluate(g, ctx) for g in gates]
        for r in results:
            self.journal.event("gate", f"{r.gate} ({when}): {r.outcome.value}: {r.detail}")
        self._record_gates(results)
        return results

    def _record_gates(self, results: list[GateResult]) -> None:
        """Put the latest results into the run's stored plan, which status and reports read."""
        assert self.run
        run = self.store.run(self.run.id)
        assert run
        doc = run.plan_doc()
        latest = {r.gate: r.to_json() for r in results}
        doc["gates"] = [latest.get(g.get("gate"), g) for g in doc.get("gates", [])]
        self.store.update_plan(self.run.id, json.dumps(doc))

    # --- helpers ---------------------------------------------------------------------------

    def _health(self, service: Service) -> Health:
        assert self.train and self.journal
        settings = health_settings(self.catalog.config.health, service.release)
        fields = {
            "service": service.name,
            "train": self.train.name,
            "environment": self.catalog.config.environment,
        }
        kwargs: dict[str, Any] = {
            "threshold": health_threshold(self.train, settings),
            "fields": fields,
            "root": self.catalog.root,
            # validation.health_check_timeout bounds one service's whole verification: every
            # sample, retry and interval (probes.py), so a check that keeps failing slowly
            # cannot hold the train for retries x (timeout + interval).
            "time_limit_s": self.catalog.config.health_check_timeout_s,
        }
        if self.s.sleep:
            kwargs["sleep"] = self.s.sleep
        return check_health(service.name, settings, **kwargs)

    def _deployer(self, service: Service) -> Deployer:
        assert self.journal
        journal = self.journal
        return deployer_for(self.catalog, service, store=self.store, log=journal.output)

    def _request(self, service: str, version: str, previous: str | None) -> DeployRequest:
        assert self.train
        return DeployRequest(
            service=service,
            version=version,
            previous_version=previous,
            train=self.train.name,
            environment=self.catalog.config.environment,
        )

    def _step(self, name: str) -> Step:
        assert self.run
        return next(s for s in self.store.steps(self.run.id) if s.service == name)

    def _move(self, current: str, new: str) -> None:
        assert self.run and self.journal
        self.store.transition(
            self.run.id,
            expected=RunStatus(current),
            new=RunStatus(new),
            now=self._now(),
            lock_id=self.lock_id,
        )
        self.journal.event("status", f"{current} -> {new}", audited=True)

    def _current_status(self) -> str:
        assert self.run
        run = self.store.run(self.run.id)
        assert run
        return run.status

    def _finish(self, status: str, reason: str | None) -> RunOutcome:
        assert self.run and self.journal
        current = self._current_status()
        self.store.transition(
            self.run.id,
            expected=RunStatus(current),
            new=RunStatus(status),
            now=self._now(),
            reason=reason,
            lock_id=self.lock_id,
        )
        self.journal.event(
            "status", f"{current} -> {status}" + (f": {reason}" if reason else ""), audited=True
        )
        return RunOutcome(
            self.train_name, self.run.id, status, reason, tuple(self.store.steps(self.run.id))
        )

    def _watch(self) -> TriggerWatch:
        if self._trigger_watch is None:
            assert self.train and self.journal
            journal = self.journal
            self._trigger_watch = TriggerWatch(
                triggers=(*self.catalog.config.triggers, *self.train.rollback.triggers),
                read=self._read_trigger_signal,
                log=lambda line: journal.event("trigger", line),
            )
        return self._trigger_watch

    def _observe_triggers(self) -> None:
        fired = self._watch().observe()
        if fired and not self._failure:
            self._failure = fired

    def _read_trigger_signal(self, name: str) -> Reading | None:
        """Fresh reads (no cache): `health` is built in, the rest come from config signals."""
        assert self.run and self.train
        if name == "health":
            return self._health_signal()
        spec = self.catalog.config.signals.get(name)
        if spec is None:
            return None
        fields = {"train": self.train.name, "environment": self.catalog.config.environment}
        return read_signal(name, spec, root=self.catalog.root, fields=fields)

    def _health_signal(self) -> Reading:
        """Percent of the released services whose health check passes now (one probe each)."""
        assert self.run
        released = [s.service for s in self.store.steps(self.run.id) if s.status == "released"]
        results = []
        for name in released:
            service = self.catalog.services[name]
            settings = {
                **health_settings(self.catalog.config.health, service.release),
                "retries": 0,
                "samples": 1,
            }
            result = check_health(name, settings, fields={"service": name}, root=self.catalog.root)
            if result.healthy is not None:
                results.append(result.healthy)
        if not results:
            return Reading(
                "health", None, "health probes", "no released service has a health check"
            )
        return Reading(
            "health",
            100.0 * sum(results) / len(results),
            f"health probes of {len(results)} services",
        )

    def _fail(self, reason: str) -> RunOutcome:
        """Automatic rollback where it is enabled (train, else config; default off)."""
        assert self.train and self.run and self.journal
        if not self._rollback_enabled():
            return self._finish(
                "failed", f"{reason} (automatic rollback is disabled: no rollback ran)"
            )
        from .rollback import deployed_steps, rollback_train

        if not deployed_steps(self.store.steps(self.run.id)):
            return self._finish("failed", f"{reason} (nothing was deployed: no rollback needed)")
        self.journal.event("auto-rollback", f"rolling back automatically: {reason}", audited=True)
        rollback_train(
            self.catalog,
            self.store,
            self.train.name,
            settings=self.s,
            reason=f"automatic rollback after: {reason}",
            journal=self.journal,
            lock_held=True,
        )
        run = self.store.run(self.run.id)
        assert run
        return RunOutcome(
            self.train_name, run.id, run.status, run.reason, tuple(self.store.steps(run.id))
        )

    def _pause(self, reason: str) -> RunOutcome:
        assert self.run
        self.store.request_pause(self.run.id, None)
        return self._finish("paused", reason)

    def _lock(self, services: list[str]) -> None:
        assert self.train is not None
        take_lock(
            self.catalog,
            self.store,
            self.train.name,
            services,
            lock_id=self.lock_id,
            settings=self.s,
        )

    def _heartbeat(self) -> None:
        self.store.heartbeat(self.lock_id, self._now())

    def _now(self) -> str:
        return self.s.clock().isoformat(timespec="milliseconds")


def health_threshold(train: Any, settings: Mapping[str, Any]) -> float:
    """Percent of probes that must pass: the train's rollback.health_check_threshold, else the
    health settings' `threshold`, else 100."""
    if train.rollback.health_check_threshold is not None:
        return float(train.rollback.health_check_threshold)
    return float(settings.get("threshold", 100.0))


def this_host() -> str:
    """The host name that locks and in-flight deploys are recorded with."""
    return socket.gethostname()


def await_deploys_in_flight(
    catalog: Catalog,
    store: Store,
    services: list[Service],
    *,
    settings: Settings,
    heartbeat: Callable[[], object],
) -> None:
    """Before a run (execute, resume, rollback) that holds the locks deploys anything: make
    sure no deployer command of an earlier, killed process is still running for one of
    `services`, so two deploys of one service never overlap.

    Such a command runs in its own session, so `kill -9` of its executor leaves it running.
    We wait for it (the leader of its process group) to end, up to the deployer's timeout
    (plus the grace a timeout gives), which is as long as its own executor would have let it
    run. If it still runs then, we refuse (exit 3) naming it rather than kill it: it may be
    half-way through changing the service, and its group id may by then belong to an
    unrelated process. A command on another host cannot be checked from here: refused too,
    naming the host. Once it has ended, the step is reconciled as usual (the deployer reports
    what runs). The group is recorded as soon as the command starts: a kill in the moment
    between the start and that write leaves a command unrecorded (then the reconcile alone
    decides, as before).
    """
    by_name = {s.name: s for s in services}
    here = this_host()
    for step in store.deploys_in_flight(list(by_name)):
        pgid = step.deploy_pgid
        assert pgid is not None
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
            if settings.echo:
                settings.echo(f"waiting up to {limit:g} s for {what} to end")
            deadline = time.monotonic() + limit
            beat = time.monotonic()
            while leader_running(pgid):
                now = time.monotonic()
                if now >= deadline:
                    raise LockHeldError(
                        f"{what} is still running after {limit:g} s; it is not killed, as it "
                        f"may be half-way through changing {step.service}: let it end, or stop "
                        f"it (kill -TERM -- -{pgid}), then run this command again"
                    )
                if now - beat >= _HEARTBEAT_EVERY_S:
                    heartbeat()  # the lease is ours while we wait
                    beat = now
                time.sleep(_IN_FLIGHT_POLL_S)  # another process's progress: polled, bounded
        store.update_step(
            step.run_id, step.service, deploy_pgid=None, deploy_host=None, deploy_started_at=None
        )


def environment_problems(catalog: Catalog, train: Any, services: list[Service]) -> list[str]:
    """Every `${VAR}` a run would expand from the environment and cannot, with where it is
    used: headers of the deployer and health check of each service, and of the signals the
    train's gates and triggers read. Checked in validating, before anything is deployed."""
    from .probes import health_settings

    places: list[tuple[str, Any]] = []
    for s in services:
        places.append((f"deployer of {s.name}", deployer_settings(catalog, s).get("headers")))
        places.append(
            (
                f"health check of {s.name}",
                health_settings(catalog.config.health, s.release).get("headers"),
            )
        )
    names = [n for g in train.gates for n in g.signals]
    names += [t.expression.subject for t in (*catalog.config.triggers, *train.rollback.triggers)]
    for name in dict.fromkeys(names):
        spec = catalog.config.signals.get(name)
        if spec:
            places.append((f"signal {name}", spec.get("headers")))
    problems = []
    for where, headers in places:
        if not headers:
            continue
        from .deployers.http import expand_headers  # httpx only where headers are used

        try:
            expand_headers(headers)
        except InputError as e:
            problems.append(f"{where}: {e}")
    return problems


def take_lock(
    catalog: Catalog,
    store: Store,
    train: str,
    services: list[str],
    *,
    lock_id: str,
    settings: Settings,
) -> None:
    """Lock the train and each of its services, or raise LockHeldError (exit 3) naming the
    holder. A lock whose process is gone is taken over, with a log line and an audit record."""
    from . import audit

    now = settings.clock().isoformat(timespec="milliseconds")
    lock = Lock(
        resource="",
        lock_id=lock_id,
        train=train,
        holder=settings.who,
        host=this_host(),
        pid=os.getpid(),
        started_at=now,
        heartbeat_at=now,
    )
    resources = [f"train:{train}", *(f"service:{s}" for s in services)]
    taken = store.acquire(
        resources,
        lock,
        stale_after_s=catalog.config.lock_stale_after_s,
        now_ts=settings.clock().timestamp(),
    )
    for held in {t.lock_id: t for t in taken}.values():
        message = (
            f"took over the stale lock {held.lock_id} of {held.holder} (pid {held.pid} is gone)"
        )
        if settings.echo:
            settings.echo(message)
        audit.append(
            audit.path_for(catalog.root),
            store=store,
            ts=now,
            actor=settings.who,
            action="lock-takeover",
            train=train,
            service=None,
            detail=message,
        )


def dry_run(
    catalog: Catalog, store: Store | None, train: str, *, clock: Callable[[], datetime]
) -> dict[str, Any]:
    """Exactly what `execute` would do, changing nothing."""
    from .planning import find_train

    t = find_train(catalog, train)
    services = resolve_participants(catalog, t)
    plan = plan_train(
        catalog, train, now=clock(), current_versions=current_versions(catalog, store, services)
    )
    steps = []
    for name in plan.ordering.order:
        p = plan.service(name)
        deployer = deployer_for(
            catalog, catalog.services[name], store=store or _NoStore(), log=lambda _: None
        )
        req = DeployRequest(
            name,
            p.to_version or p.from_version or "?",
            p.from_version,
            train,
            catalog.config.environment,
        )
        try:
            call = deployer.describe("deploy", req)
        except InputError as e:
            call = f"refused: {e}"
        steps.append(
            {
                "service": name,
                "from_version": p.from_version,
                "to_version": p.to_version,
                "call": call,
            }
        )
    return {"train": train, "dry_run": True, "ready": plan.ready, "problems": list(plan.problems),
            "waves": [list(w) for w in plan.ordering.waves], "steps": steps}  # fmt: skip
