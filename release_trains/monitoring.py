"""Progress of a train at four levels (train, services, gates, dependencies), as one snapshot.

A snapshot is read from the state store only (plus optional live health probes): the monitor
never writes. A train that never ran is planned now, in memory, with planning.plan_train, so
its gates and dependencies are still shown; nothing is written for it.

Progress counts the services whose step is `released` right now, over the participants: a
paused train counts what it released before it stopped, and a rolled-back train counts only
what is still released (0 after a full rollback), because progress answers "how much of the
new release is live".

A run that is active (planning to verifying) is driven by the process holding the train's lock.
When that holder is gone (its process on this host, or a heartbeat older than
`executor.lock_stale_after` elsewhere: store.is_stale, the rule `execute` uses to take a lock
over), or there is no lock at all, nothing will move the run on: the snapshot says "executor
gone since T" (its last sign of life), it needs attention (exit 1), and a watch ends there.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from . import lifecycle
from .errors import EXIT_NO, EXIT_OK, InputError
from .freezes import Freeze, freeze_among, freeze_in_force
from .gates import Health
from .models import Catalog, Service, Train
from .notify.outcomes import outcomes
from .state import Event, Lock, Run, Step, Store, is_stale
from .state.approvals import Vote
from .state.freezes import FreezeRecord
from .state.outbox import OutboxItem

EVENTS_SHOWN = 10
ATTENTION = frozenset({"failed", "rolled_back"})  # train statuses a cron wrapper must act on
IN_FLIGHT = frozenset({"deploying", "verifying", "rolling_back"})
# run statuses in which a live executor holds the lock; `planning` is a run's first moment
DRIVEN = lifecycle.ACTIVE | {"planning"}

HealthProbe = Callable[[Service], Health]


@functools.lru_cache(maxsize=16384)
def parse_ts(text: str | None) -> datetime | None:
    """A stored ISO 8601 timestamp as an aware datetime (naive ones are UTC); None if absent.
    Cached (a datetime is immutable): a status document parses every step's two timestamps,
    the same ones at every request of the API's status route (B7)."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None  # a hand-edited value is shown as unknown rather than crashing the monitor
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from `start` to `end`; None (unknown) when either is missing or the end comes
    before the start: a negative length is a stale finish time or skewed clocks, not a fact."""
    a, b = parse_ts(start), parse_ts(end)
    return None if a is None or b is None or b < a else round((b - a).total_seconds(), 3)


def percent(part: int, whole: int) -> float:
    return round(part / whole * 100, 1) if whole else 0.0


@dataclass(frozen=True)
class ServiceProgress:
    service: str
    status: str
    from_version: str | None  # None: first install
    to_version: str | None
    health: str  # healthy | unhealthy | not verified
    health_detail: str | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None  # deploy start to finish, or to now while in flight
    error: str | None = None
    rollback_started_at: str | None = None
    rollback_finished_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # flat fields: no deep copy (asdict costs 70 ms on 1,000 services)


@dataclass(frozen=True)
class GateItem:
    gate: str
    required: bool
    outcome: str  # pass | fail | unknown | error
    detail: str
    failing: tuple[str, ...] = ()
    when: str = "before"

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "failing": list(self.failing)}


@dataclass(frozen=True)
class DependencyItem:
    kind: str
    name: str
    constraint: str
    outcome: str  # satisfied | unsatisfied | unknown
    found: tuple[str, ...] = ()
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "found": list(self.found)}


@dataclass(frozen=True)
class Phase:
    name: str  # the train status the run is in
    started_at: str | None
    elapsed_s: float | None  # time in this phase so far; None once the train is final
    run_elapsed_s: float | None  # the run's start to its end (or to now while it goes on)
    estimated_s: float | None  # the plan's estimate for the whole train

    @property
    def over_estimate(self) -> bool:
        if self.run_elapsed_s is None or self.estimated_s is None:
            return False  # unknown is not "over"
        return self.run_elapsed_s > self.estimated_s

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "over_estimate": self.over_estimate}


@dataclass(frozen=True)
class ExecutorState:
    """Who drives an active run: `running` (the lock's holder is alive) or `gone`."""

    state: str  # running | gone
    since: str | None  # running: when it took the lock; gone: its last sign of life
    holder: str | None = None  # user@host of the lock; None when there is no lock
    host: str | None = None
    pid: int | None = None
    lock_id: str | None = None
    heartbeat_at: str | None = None

    @property
    def gone(self) -> bool:
        return self.state == "gone"

    def describe(self) -> str:
        if self.gone:
            return f"executor gone since {self.since or 'unknown'}: run `execute` to resume"
        return (
            f"executor {self.holder} (pid {self.pid}, lock {self.lock_id}) running since "
            f"{self.since}, last heartbeat {self.heartbeat_at}"
        )

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "detail": self.describe()}


def executor_state(
    run: Run | None,
    locks: list[Lock],
    *,
    now: datetime,
    stale_after_s: float,
    last_event_at: str | None = None,
) -> ExecutorState | None:
    """Whether `run` still has an executor; None when the run is not active (nothing drives
    a paused, final or never-run train). `locks` are the train's, read with the run."""
    if run is None or run.status not in DRIVEN:
        return None
    held = [lk for lk in locks if lk.train == run.train]
    train_lock = [lk for lk in held if lk.resource == f"train:{run.train}"]
    lock = train_lock[0] if train_lock else (held[0] if held else None)
    if lock is not None and not is_stale(lock, now_ts=now.timestamp(), stale_after_s=stale_after_s):
        return ExecutorState(
            "running", lock.started_at, lock.holder, lock.host, lock.pid, lock.lock_id,
            lock.heartbeat_at,
        )  # fmt: skip
    # its last sign of life: the newest of its heartbeat, status change and event
    signs = [(parse_ts(t), t) for t in (run.updated_at, last_event_at) if t]
    if lock is not None:
        signs.append((parse_ts(lock.heartbeat_at), lock.heartbeat_at))
    known = [(when, text) for when, text in signs if when is not None]
    since = max(known)[1] if known else None
    if lock is None:
        return ExecutorState("gone", since)
    return ExecutorState(
        "gone", since, lock.holder, lock.host, lock.pid, lock.lock_id, lock.heartbeat_at
    )


@dataclass(frozen=True)
class Snapshot:
    train: str
    description: str
    status: str
    run_id: int | None  # None: the train never ran; `status` is its YAML status
    services: tuple[ServiceProgress, ...]
    gates: tuple[GateItem, ...]
    dependencies: tuple[DependencyItem, ...]
    phase: Phase
    events: tuple[Event, ...]
    reason: str | None
    actor: str | None
    started_at: str | None
    finished_at: str | None
    taken_at: str
    waves: tuple[tuple[str, ...], ...] = ()  # the plan's waves: services that may run together
    executor: ExecutorState | None = None  # None: the run is not active, or never ran
    # approvals.document and timeline.timeline (issue 15): approval gates with their votes,
    # and the run's time per phase and in pauses
    approvals: tuple[Mapping[str, Any], ...] = ()
    timeline: Mapping[str, Any] | None = None
    # the run's notifications: {event, channel, outcome, detail, ts} (notify/outcomes.py)
    notifications: tuple[Mapping[str, Any], ...] = ()
    # the freeze in force when the snapshot was taken (freezes.freeze_in_force, as `plan`
    # and the start refusals read it): why a train that could run does not start now
    freeze: Freeze | None = None

    @property
    def released(self) -> int:
        return sum(s.status == "released" for s in self.services)

    @property
    def progress(self) -> float:
        return percent(self.released, len(self.services))

    @property
    def gates_passed(self) -> int:
        return sum(g.outcome == "pass" for g in self.gates)

    @property
    def dependencies_satisfied(self) -> int:
        return sum(d.outcome == "satisfied" for d in self.dependencies)

    @property
    def unhealthy(self) -> list[str]:
        return [s.service for s in self.services if s.health == "unhealthy"]

    @property
    def final(self) -> bool:
        return self.status in lifecycle.FINAL

    @property
    def executor_gone(self) -> bool:
        return self.executor is not None and self.executor.gone

    @property
    def settled(self) -> bool:
        """Nothing will change without a person: the train is final, or its executor is gone."""
        return self.final or self.executor_gone

    @property
    def exit_code(self) -> int:
        """1 when someone must act (a run failed or rolled back, its executor is gone, a
        service is unhealthy), else 0. A train that never ran exits 0 whatever its YAML says
        (CONTRACT.md): nothing ran."""
        ran_badly = self.run_id is not None and self.status in ATTENTION
        return EXIT_NO if ran_badly or self.executor_gone or self.unhealthy else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "description": self.description,
            "status": self.status,
            "progress": self.progress,
            "released": self.released,
            "participants": len(self.services),
            "run_id": self.run_id,
            "actor": self.actor,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "services": [s.to_json() for s in self.services],
            "waves": [list(w) for w in self.waves],
            "gates": {
                "passed": self.gates_passed,
                "total": len(self.gates),
                "items": [g.to_json() for g in self.gates],
            },
            "dependencies": {
                "satisfied": self.dependencies_satisfied,
                "total": len(self.dependencies),
                "items": [d.to_json() for d in self.dependencies],
            },
            "phase": self.phase.to_json(),
            "events": [
                {"ts": e.ts, "kind": e.kind, "service": e.service, "message": e.message}
                for e in self.events
            ],
            "reason": self.reason,
            "executor": self.executor.to_json() if self.executor else None,
            "approvals": [dict(a) for a in self.approvals],
            "timeline": dict(self.timeline) if self.timeline is not None else None,
            "notifications": [dict(n) for n in self.notifications],
            "freeze": self.freeze.to_json() if self.freeze else None,  # plan --json's shape
            "generated_at": self.taken_at,
        }


@dataclass(frozen=True)
class TrainSummary:
    """One line of `status` without a train: cheap (no planning), for every train at once."""

    train: str
    status: str
    released: int
    participants: int
    run_id: int | None
    updated_at: str | None
    unhealthy: tuple[str, ...] = ()
    executor: ExecutorState | None = None
    phase_started_at: str | None = None  # when the run entered its current status

    @property
    def progress(self) -> float:
        return percent(self.released, self.participants)

    @property
    def exit_code(self) -> int:
        ran_badly = self.run_id is not None and self.status in ATTENTION
        gone = self.executor is not None and self.executor.gone
        return EXIT_NO if ran_badly or gone or self.unhealthy else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train,
            "status": self.status,
            "progress": self.progress,
            "released": self.released,
            "participants": self.participants,
            "run_id": self.run_id,
            "updated_at": self.updated_at,
            "unhealthy": list(self.unhealthy),
            "executor": self.executor.to_json() if self.executor else None,
            "phase_started_at": self.phase_started_at,
        }


@dataclass(frozen=True)
class Overview:
    """`status` without a train: every train's line, and the freeze in force (it stops them
    all, so it is said once, above them)."""

    trains: list[TrainSummary]
    freeze: Freeze | None
    taken_at: datetime

    @property
    def exit_code(self) -> int:
        return max((t.exit_code for t in self.trains), default=EXIT_OK)

    def to_json(self) -> dict[str, Any]:
        return {
            "trains": [t.to_json() for t in self.trains],
            "freeze": self.freeze.to_json() if self.freeze else None,  # plan --json's shape
        }


# --- building a snapshot -------------------------------------------------------------------


def plan_now(catalog: Catalog, store: Store | None, train: str, *, now: datetime) -> dict[str, Any]:
    """The plan document of a train that has none stored, computed in memory (never saved)."""
    from .planning import plan_train

    known = store.deployed_versions(catalog.config.environment) if store else {}
    return plan_train(catalog, train, now=now, current_versions=known).to_json()


@dataclass(frozen=True)
class Recorded:
    """What the store holds of a train's latest run that a snapshot shows, read in one
    transaction (one state of the store). Immutable, so a server may keep it for as long as
    nothing is committed (server/context.py) and build every request's snapshot from it."""

    run: Run | None
    plan: Mapping[str, Any] | None  # stored_plan(run), parsed once
    locks: tuple[Lock, ...]
    steps: tuple[Step, ...]
    events: tuple[Event, ...]  # the latest EVENTS_SHOWN (or `events`), oldest first
    votes: tuple[Vote, ...]
    changes: tuple[Event, ...]  # the run's status changes
    notifications: tuple[OutboxItem, ...]
    freezes: tuple[FreezeRecord, ...]  # platform freezes not lifted (in force or expired)


def recorded(store: Store, train: str, *, events: int = EVENTS_SHOWN) -> Recorded:
    """Everything of TRAIN's latest run a snapshot shows, read in one transaction."""
    with store.read_together():
        run, locks = store.latest_run_and_locks(train)
        freezes = tuple(store.unlifted_freezes())
        if run is None:
            return Recorded(None, None, tuple(locks), (), (), (), (), (), freezes)
        return Recorded(
            run=run,
            plan=stored_plan(run),
            locks=tuple(locks),
            steps=tuple(store.steps(run.id)),
            events=tuple(store.events(run.id, limit=events)),
            votes=tuple(store.votes(run.id)) if "approvals" in store.tables else (),
            changes=tuple(store.run_events(run.id, ("status",))),
            notifications=tuple(store.notifications(run.id)),
            freezes=freezes,
        )


def snapshot(
    catalog: Catalog,
    store: Store | None,
    train: str,
    *,
    now: datetime,
    probe: HealthProbe | None = None,
    planned: Callable[[], Mapping[str, Any]] | None = None,
    events: int = EVENTS_SHOWN,
    known: Recorded | None = None,
) -> Snapshot:
    """Where TRAIN is now: what the store records (`known`, else read now with `recorded`)
    seen at `now`. `probe` replaces the recorded health with a live check; `planned` supplies
    the plan document when no run stored one (default: plan_now)."""
    from .approvals import document as approvals_document
    from .approvals import gate_verdicts
    from .planning import find_train
    from .timeline import timeline

    definition = find_train(catalog, train)  # UnknownTrainError (exit 2)
    if known is None:
        known = recorded(store, train, events=events) if store is not None else _NOTHING
    run = known.run
    doc: Mapping[str, Any] = known.plan or {}
    if not doc:  # never ran, or the run has not stored its plan yet (validating writes it)
        doc = planned() if planned else plan_now(catalog, store, train, now=now)
    services = _services(known.steps, now=now) if known.steps else _pending(doc)
    if probe is not None:
        services = [_probed(s, catalog, probe) for s in services]
    recent = known.events
    driver = executor_state(
        run,
        list(known.locks),
        now=now,
        stale_after_s=catalog.config.lock_stale_after_s,
        last_event_at=recent[-1].ts if recent else None,
    )
    phase = _phase(run, definition, doc, now=now)
    decided = gate_verdicts(definition, run, list(known.votes))
    return Snapshot(
        train=train,
        description=definition.description,
        status=run.status if run else definition.status,
        run_id=run.id if run else None,
        services=tuple(services),
        gates=tuple(_gate(g, decided) for g in doc.get("gates", ())),
        dependencies=tuple(_dependency(d) for d in doc.get("dependencies", ())),
        phase=phase,
        events=recent,
        reason=run.reason if run else None,
        actor=run.actor if run else None,
        started_at=run.started_at if run else None,
        finished_at=run.finished_at if run else None,
        waves=tuple(tuple(str(n) for n in w) for w in doc.get("waves", ()) if isinstance(w, list)),
        taken_at=now.isoformat(timespec="milliseconds"),
        executor=driver,
        approvals=tuple(approvals_document(definition, run, list(known.votes))),
        timeline=timeline(run, list(known.changes), estimated_s=phase.estimated_s, now=now),
        notifications=outcomes(list(known.notifications)) if run else (),
        freeze=freeze_among(catalog.config, known.freezes, now),
    )


_NOTHING = Recorded(None, None, (), (), (), (), (), (), ())  # no store: nothing recorded


def stored_plan(run: Run | None) -> Mapping[str, Any] | None:
    """The plan document `run` executes; None before its validating phase has stored one
    (a run starts with the plan "{}"), so readers plan the train from the catalog instead."""
    if run is None:
        return None
    doc = run.plan_doc()
    return doc if "participants" in doc else None


def _services(steps: Sequence[Step], *, now: datetime) -> list[ServiceProgress]:
    out = []
    for s in steps:
        end = s.finished_at
        if end is None and s.status in IN_FLIGHT and s.started_at:
            end = now.isoformat(timespec="milliseconds")  # still going: its time so far
        out.append(
            ServiceProgress(
                service=s.service,
                status=s.status,
                from_version=s.from_version,
                to_version=s.to_version,
                health=s.health,
                health_detail=s.health_detail,
                attempts=s.attempts,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_s=seconds_between(s.started_at, end),
                error=s.error,
                rollback_started_at=s.rollback_started_at,
                rollback_finished_at=s.rollback_finished_at,
            )
        )
    return out


def _pending(doc: Mapping[str, Any]) -> list[ServiceProgress]:
    """Before staging there are no steps: every participant of the plan, pending, in order."""
    participants = {p["service"]: p for p in doc.get("participants", ())}
    order = [n for n in doc.get("order", ()) if n in participants] or list(participants)
    order += [n for n in participants if n not in order]  # a cycle leaves some out of `order`
    return [
        ServiceProgress(
            n,
            "pending",
            participants[n].get("from_version"),
            participants[n].get("to_version"),
            "not verified",
        )
        for n in order
    ]


def _probed(s: ServiceProgress, catalog: Catalog, probe: HealthProbe) -> ServiceProgress:
    from dataclasses import replace

    service = catalog.services.get(s.service)
    if service is None:  # the catalog dropped it since the run: nothing to probe
        return replace(
            s, health="not verified", health_detail="not in the service catalog any more"
        )
    result = probe(service)
    verdict = result.verdict
    return replace(s, health=verdict, health_detail=result.detail)


def _gate(g: Mapping[str, Any], decided: Mapping[str, tuple[str, str]]) -> GateItem:
    """A gate of the stored plan; an approval gate as its votes decide it now (`decided`)."""
    outcome, detail = decided.get(
        str(g.get("gate")), (g.get("outcome", "unknown"), g.get("detail", ""))
    )
    return GateItem(
        gate=str(g.get("gate", "?")),
        required=bool(g.get("required", True)),
        outcome=str(outcome),
        detail=str(detail),
        failing=tuple(g.get("failing", ())),
        when=str(g.get("when", "before")),
    )


def _dependency(d: Mapping[str, Any]) -> DependencyItem:
    return DependencyItem(
        kind=str(d.get("kind", "?")),
        name=str(d.get("name", "?")),
        constraint=str(d.get("constraint", "")),
        outcome=str(d.get("outcome", "unknown")),
        found=tuple(d.get("found", ())),
        detail=str(d.get("detail", "")),
    )


def _phase(run: Run | None, train: Train, doc: Mapping[str, Any], *, now: datetime) -> Phase:
    estimate = doc.get("estimated_duration_s")
    estimated = float(estimate) if isinstance(estimate, (int, float)) else None
    if run is None:
        return Phase(train.status, None, None, None, estimated)
    stamp = now.isoformat(timespec="milliseconds")
    final = run.status in lifecycle.FINAL
    return Phase(
        name=run.status,
        started_at=run.phase_started_at,
        elapsed_s=None if final else seconds_between(run.phase_started_at, stamp),
        run_elapsed_s=seconds_between(run.started_at, run.finished_at or stamp),
        estimated_s=estimated,
    )


# --- every train at once -------------------------------------------------------------------


def overview(catalog: Catalog, store: Store | None, *, now: datetime) -> Overview:
    """Every train's status and progress, and the freeze in force, at `now`."""
    trains = summaries(catalog, store, now=now)
    return Overview(trains, freeze_in_force(catalog.config, store, now), now)


def summaries(catalog: Catalog, store: Store | None, *, now: datetime) -> list[TrainSummary]:
    """Status and progress of every train of the catalog, in catalog order."""
    out = []
    for name, train in catalog.trains.items():
        run, locks = store.latest_run_and_locks(name) if store else (None, [])
        steps = store.steps(run.id) if store and run else []
        # an active run's newest event dates its executor's last sign of life (as in snapshot)
        last = store.events(run.id, limit=1) if store and run and run.status in DRIVEN else []
        driver = executor_state(
            run,
            locks,
            now=now,
            stale_after_s=catalog.config.lock_stale_after_s,
            last_event_at=last[-1].ts if last else None,
        )
        out.append(
            TrainSummary(
                train=name,
                status=run.status if run else train.status,
                released=sum(s.status == "released" for s in steps),
                participants=len(steps) or len(train.participants),
                run_id=run.id if run else None,
                updated_at=run.updated_at if run else None,
                unhealthy=tuple(s.service for s in steps if s.health == "unhealthy"),
                executor=driver,
                phase_started_at=run.phase_started_at if run else None,
            )
        )
    return out


# --- live health ----------------------------------------------------------------------------


def health_probe(catalog: Catalog, train: Train | None = None) -> HealthProbe:
    """Probes a service now, as the executor would (bounded by the check's own timeout and
    retries). A misconfigured check is reported, not raised: a report still gets written."""
    from .probes import check_health, health_settings, health_threshold

    def probe(service: Service) -> Health:
        settings = health_settings(catalog.config.health, service.release)
        fields = {"service": service.name, "environment": catalog.config.environment}
        if train is not None:
            fields["train"] = train.name
        threshold = (
            health_threshold(train, settings) if train else float(settings.get("threshold", 100.0))
        )
        try:
            return check_health(
                service.name, settings, threshold=threshold, fields=fields, root=catalog.root
            )
        except InputError as e:
            return Health(
                service.name, None, f"not verified: the health check is misconfigured: {e}"
            )

    return probe


# --- watching -------------------------------------------------------------------------------


def follow(
    read: Callable[[], Snapshot],
    *,
    interval_s: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Snapshot]:
    """Snapshots, one per `interval_s`, until one is settled (that one included): a final
    status, or an active run whose executor is gone, which nothing will move on by itself."""
    while True:
        snap = read()
        yield snap
        if snap.settled:
            return
        sleep(interval_s)


def changes(before: Snapshot | None, after: Snapshot) -> list[str]:
    """One plain line per change between two snapshots (every line for the first one)."""
    lines = []
    driver = after.executor.state if after.executor else None
    was = before.executor.state if before and before.executor else None
    if before is None or (before.status, before.run_id, was) != (
        after.status,
        after.run_id,
        driver,
    ):
        count = f"{after.released}/{len(after.services)} released"
        head = f"{after.train}: {after.status} {after.progress:.1f}% ({count})"
        if after.run_id is None:
            head += " (never ran: status from the train's YAML)"
        if after.reason and after.status in ("paused", *lifecycle.FINAL):
            head += f": {after.reason}"
        if after.executor is not None and after.executor.gone:
            head += f": {after.executor.describe()}"
        lines.append(head)
    seen = {s.service: s for s in before.services} if before else {}
    for s in after.services:
        old = seen.get(s.service)
        if old is not None and (old.status, old.health) == (s.status, s.health):
            continue
        versions = f"{s.from_version or '(new)'} -> {s.to_version or 'unknown'}"
        line = f"{after.train} {s.service}: {s.status} {versions} [{s.health}]"
        if s.error and s.status in ("failed", "skipped"):
            line += f": {s.error}"
        lines.append(line)
    return lines


# --- one service --------------------------------------------------------------------------


def service_status(catalog: Catalog, store: Store | None, service: str) -> dict[str, Any]:
    """`GET /api/v1/services/{service}/status`: what runs now and the last release of it.

    `version` is the deployer's answer, else the version the store recorded (None: nothing
    known to run); `status` and `health` are those of its newest step in any run ("never
    released" / "not verified" when no run had it); `last_report` is what an external pipeline
    reported last (deploy_reports.py; None: nothing). Unknown service: ResolutionError (exit 2)."""
    from .catalog import resolve
    from .deploy_reports import last_report
    from .planning import current_versions_for

    name = resolve(catalog, service)
    definition = catalog.services[name]
    version = current_versions_for(catalog, store, [definition]).get(name)
    steps = store.service_steps(name) if store else []
    runs = {r.id: r for r in store.runs()} if store and steps else {}
    newest = steps[-1] if steps else None
    attempted = [s for s in steps if s.started_at is not None]
    last = attempted[-1] if attempted else None
    return {
        "service": name,
        "environment": catalog.config.environment,
        "version": version,
        "status": str(newest.status) if newest else "never released",
        "health": newest.health if newest else "not verified",
        "last_release": None
        if last is None
        else {
            "train": runs[last.run_id].train if last.run_id in runs else None,
            "run_id": last.run_id,
            "from_version": last.from_version,
            "to_version": last.to_version,
            "finished_at": last.finished_at,
        },
        "last_report": last_report(catalog, store, name),
    }


def health_now(catalog: Catalog, service: str, *, now: datetime) -> dict[str, Any]:
    """`GET /api/v1/monitoring/health/{service}`: the service's health check, run now."""
    from .catalog import resolve

    name = resolve(catalog, service)
    health = health_probe(catalog)(catalog.services[name])
    return {
        "service": name,
        "health": health.verdict,
        "detail": health.detail,
        "checked_at": now.isoformat(timespec="milliseconds"),
    }
