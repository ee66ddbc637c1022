"""The executing phase's scheduler: services start as soon as their own dependencies are
released, up to `max_parallel` at once, the ready one with the longest remaining path first
(critical path first; ties by name)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from graphlib import TopologicalSorter

from ..freezes import freeze_among
from ..models import Catalog, parse_duration
from ..ordering import Ordering, remaining_path
from ..planning import Plan
from ..triggers import TriggerWatch
from .context import RunContext
from .release import release_one
from .verification import during_gates

_WAIT_S = 1.0  # how often the loop looks at stop signals, pause requests and the lease


def weights(catalog: Catalog, names: Iterable[str]) -> dict[str, float]:
    """Each service's expected duration: its `release.estimated_duration`, else the config's
    per-service estimate (so with no estimate anywhere, paths are counted in services)."""
    default = catalog.config.per_service_estimate_s
    out = {}
    for name in names:
        own = catalog.services[name].release.get("estimated_duration")
        out[name] = parse_duration(own) if own is not None else default
    return out


def priorities(catalog: Catalog, ordering: Ordering) -> dict[str, float]:
    return remaining_path(ordering.order, ordering.requires, weights(catalog, ordering.order))


class ReadyQueue:
    """Ready services, the longest remaining path first, ties by name."""

    def __init__(self, priority: Mapping[str, float]) -> None:
        self._priority = priority
        self._heap: list[tuple[float, str]] = []

    def push(self, names: Iterable[str]) -> None:
        for name in names:
            heapq.heappush(self._heap, (-self._priority[name], name))

    def pop(self) -> str:
        return heapq.heappop(self._heap)[1]

    def __len__(self) -> int:
        return len(self._heap)


@dataclass
class Halt:
    """Why no new service may start: a failure (the run fails) or a stop (it pauses)."""

    failure: str | None = None
    stopping: str | None = None

    def fail(self, reason: str | None) -> None:
        if reason and not self.failure:
            self.failure = reason


def release_all(ctx: RunContext, plan: Plan, watch: TriggerWatch) -> Halt:
    """Release every pending service in dependency order; what stopped it, if anything."""
    halt = Halt()
    by_name = {s.name: s for s in ctx.services}
    steps = {s.service: s for s in ctx.steps()}
    requires = plan.ordering.requires
    sorter: TopologicalSorter[str] = TopologicalSorter(
        {name: requires.get(name, frozenset()) for name in plan.ordering.order}
    )
    sorter.prepare()
    ready = ReadyQueue(priorities(ctx.catalog, plan.ordering))
    running: dict[Future[bool], str] = {}
    failed: set[str] = set()
    parallel = ctx.settings.max_parallel
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="release") as pool:
        while sorter.is_active():
            ready.push(sorter.get_ready())
            while ready and len(running) < parallel and not _should_stop(ctx, halt):
                name = ready.pop()
                if steps[name].status == "released":  # at this target: see staging
                    sorter.done(name)  # released by an earlier process: never twice
                    ready.push(sorter.get_ready())
                    continue
                running[pool.submit(release_one, ctx, by_name[name], steps[name])] = name
            if not running:
                break  # stopping, or nothing more can start
            finished, _ = wait(running, timeout=_WAIT_S, return_when=FIRST_COMPLETED)
            ctx.lease.check()
            for fut in finished:
                name = running.pop(fut)
                if fut.result():
                    sorter.done(name)
                    halt.fail(during_gates(ctx))
                    halt.fail(watch.observe())
                else:
                    failed.add(name)
                    halt.fail(f"{name} failed: {ctx.step(name).error}")
    if halt.failure:
        _skip_rest(ctx, plan, failed)
    return halt


def _should_stop(ctx: RunContext, halt: Halt) -> bool:
    ctx.lease.check()
    if halt.failure:
        return True
    if ctx.settings.stop.is_set() and not halt.stopping:
        halt.stopping = "stopped by a signal (SIGTERM/Ctrl-C) before the next service"
    request, freezes = ctx.store.stop_requests(ctx.run_id)
    if request and not halt.stopping:
        halt.stopping = f"paused by {request}"
    if not halt.stopping:
        now = ctx.settings.clock()
        frozen = freeze_among(ctx.catalog.config, freezes, now)
        if frozen is not None:  # a freeze began during the run: it holds the next service
            halt.stopping = f"frozen by {frozen.describe(now)}"
    return halt.stopping is not None


def _skip_rest(ctx: RunContext, plan: Plan, failed: set[str]) -> None:
    """Steps that never started: skipped, saying whether a dependency failed."""
    for step in ctx.steps():
        if step.status != "pending":
            continue
        blockers = sorted(plan.ordering.requires.get(step.service, frozenset()) & failed)
        why = (
            f"depends on {', '.join(blockers)}, which failed or was skipped"
            if blockers
            else "not started: the train stopped after a failure"
        )
        ctx.store.update_step(ctx.run_id, step.service, status="skipped", error=why)
        failed.add(step.service)  # its own dependents are skipped for the same reason
        ctx.journal.event("skipped", why, service=step.service)
