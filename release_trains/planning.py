"""A Plan: resolve participants, work out versions, order them, check dependencies, evaluate
the gates, estimate the timeline, and say plainly why a train is not ready.

Expected "no" answers (a failing gate, an unknown spec, a cycle) are problems in the Plan,
not exceptions; only bad input (an unknown train, a participant that resolves to nothing)
raises.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import versions
from .catalog import resolve
from .errors import InputError, ResolutionError, UnknownTrainError
from .gates import GateContext, GateResult, Health, evaluate
from .gates_parser import Comparison, Expression
from .models import Catalog, Dependency, Gate, GateCheck, Outcome, Service, Train, parse_duration
from .ordering import Ordering, order_services
from .schedule import Schedule, schedule_of
from .yaml_io import dump_json, write_atomic

if TYPE_CHECKING:  # signals.py costs ~10 ms to import; plans that read no signal never need it
    from .signals import Reading
    from .state import Store


@dataclass(frozen=True)
class PlannedService:
    name: str  # the participant as written in the train
    service: str  # the catalog service it resolved to
    from_version: str | None  # None: first install
    to_version: str | None
    quality_score: float | None
    critical_vulns: int | None

    @property
    def first_install(self) -> bool:
        return self.from_version is None

    @property
    def redeploy(self) -> bool:
        """Released at the version it already runs: the plan says so rather than hiding it."""
        return (
            self.from_version is not None
            and self.to_version is not None
            and versions.same_version(self.from_version, self.to_version)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.service,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "quality_score": self.quality_score,
            "critical_vulns": self.critical_vulns,
            "first_install": self.first_install,
            "redeploy": self.redeploy,
        }


@dataclass(frozen=True)
class DependencyResult:
    kind: str
    name: str
    constraint: str
    outcome: str  # satisfied | unsatisfied | unknown
    found: tuple[str, ...]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "constraint": self.constraint,
            "outcome": self.outcome,
            "found": list(self.found),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Plan:
    train: Train
    status: str
    participants: tuple[PlannedService, ...]
    ordering: Ordering
    dependencies: tuple[DependencyResult, ...]
    gates: tuple[GateResult, ...]
    problems: tuple[str, ...]
    estimated_duration_s: float
    created_at: str
    notes: tuple[str, ...] = field(default=())  # facts worth knowing that do not block
    schedule: Schedule = field(default_factory=lambda: Schedule(None, None, False))
    # the freeze in force when planned (freezes.Freeze.to_json); it does not make the plan
    # not ready: the plan says whether the train can go, the freeze says not now
    freeze: Mapping[str, Any] | None = None

    @property
    def ready(self) -> bool:
        return not self.problems

    def service(self, name: str) -> PlannedService:
        # The executor asks once per participant: a scan each time was quadratic in the train.
        found = self._by_service.get(name)
        if found is not None:
            return found
        return next(p for p in self.participants if p.service == name)  # StopIteration, as ever

    @cached_property
    def _by_service(self) -> dict[str, PlannedService]:
        index: dict[str, PlannedService] = {}
        for p in self.participants:
            index.setdefault(p.service, p)  # the first one wins, as the scan found it
        return index

    def to_json(self) -> dict[str, Any]:
        return {
            "train": self.train.name,
            "ready": self.ready,
            "status": self.status,
            "created_at": self.created_at,
            "participants": [p.to_json() for p in self.participants],
            "order": list(self.ordering.order),
            "waves": [list(w) for w in self.ordering.waves],
            "dependencies": [d.to_json() for d in self.dependencies],
            "gates": [g.to_json() for g in self.gates],
            "problems": list(self.problems),
            "notes": list(self.notes),
            "estimated_duration_s": self.estimated_duration_s,
            "schedule": self.schedule.to_json(),
            "freeze": dict(self.freeze) if self.freeze is not None else None,
        }


def find_train(catalog: Catalog, name: str) -> Train:
    try:
        return catalog.trains[name]
    except KeyError:
        known = ", ".join(catalog.trains) or "none"
        raise UnknownTrainError(
            f"unknown train {name!r} in {catalog.files['trains']}; trains: {known}"
        ) from None


def resolve_participants(catalog: Catalog, train: Train) -> list[Service]:
    """Every participant's service; all unresolved names are reported together."""
    resolved, errors = [], []
    for p in train.participants:
        try:
            resolved.append(catalog.services[resolve(catalog, p.name)])
        except ResolutionError as e:
            errors.append(str(e))
    if errors:
        raise ResolutionError(f"train {train.name!r}: " + "\n".join(errors))
    dupes = {name for name, n in Counter(s.name for s in resolved).items() if n > 1}
    if dupes:
        raise ResolutionError(
            f"train {train.name!r}: participants name the same service twice: "
            f"{', '.join(sorted(dupes))}"
        )
    return resolved


def target_versions(train: Train, resolved: list[Service]) -> list[str | None]:
    """Each participant's new version (None: no new version, redeploy the current one).

    A participant's own `version` wins. `target_version: "<prefix>:<version>"` goes to the
    participants whose written or resolved name is the prefix; a prefix that matches none of
    them is a label ("security-patch:2025-Q1") and its version goes to every participant; a
    bare version goes to every participant.
    """
    prefix, target = None, None
    if train.target_version:
        prefix, _, target = train.target_version.rpartition(":")
    matched = {
        i
        for i, (p, s) in enumerate(zip(train.participants, resolved, strict=True))
        if prefix and prefix in (p.name, s.name)
    }
    out: list[str | None] = []
    for i, p in enumerate(train.participants):
        if p.version:
            out.append(p.version)
        elif matched:
            out.append(target if i in matched else None)
        else:
            out.append(target or None)
    return out


def check_dependency(catalog: Catalog, dep: Dependency) -> DependencyResult:
    registry = catalog.specs if dep.kind == "spec" else catalog.libraries
    found = registry.get(dep.name, ())
    constraint = versions.parse_constraint(dep.constraint)
    shown = dep.constraint or "any version"
    if not found:
        where = "the specs index" + (
            " or any service's api_contracts" if dep.kind == "spec" else ""
        )
        return DependencyResult(
            dep.kind, dep.name, dep.constraint, "unknown", (),
            f"{dep.kind} {dep.name} is published nowhere (not in {where})",
        )  # fmt: skip
    if any(versions.satisfies(v, constraint) for v in found):
        return DependencyResult(
            dep.kind, dep.name, dep.constraint, "satisfied", found,
            f"{dep.name} {', '.join(found)} satisfies {shown}",
        )  # fmt: skip
    return DependencyResult(
        dep.kind, dep.name, dep.constraint, "unsatisfied", found,
        f"{dep.name}: found {', '.join(found)}, none satisfies {shown}",
    )  # fmt: skip


def standard_gates(catalog: Catalog, train: Train) -> list[Gate]:
    """The config's quality gates, for checks the train does not already make itself."""
    qg = catalog.config.quality_gates
    own = {g.check for g in train.gates}
    out = []
    if qg.min_quality_score is not None and GateCheck.QUALITY not in own:
        cmp = Expression("all_participants_quality", Comparison(">=", qg.min_quality_score))
        out.append(Gate(label=str(cmp), check=GateCheck.QUALITY, comparison=cmp, origin="config"))
    if qg.max_critical_vulns is not None and GateCheck.CRITICAL_VULNS not in own:
        out.append(
            Gate(
                label="no_open_critical_vulns",
                check=GateCheck.CRITICAL_VULNS,
                max_vulns=qg.max_critical_vulns,
                origin="config",
            )
        )
    if qg.min_coverage is not None and GateCheck.COVERAGE not in own:
        cmp = Expression("all_participants_coverage", Comparison(">=", qg.min_coverage))
        out.append(Gate(label=str(cmp), check=GateCheck.COVERAGE, comparison=cmp, origin="config"))
    if qg.max_failure_rate is not None and GateCheck.FAILURE_RATE not in own:
        cmp = Expression("all_participants_failure_rate", Comparison("<=", qg.max_failure_rate))
        out.append(
            Gate(label=str(cmp), check=GateCheck.FAILURE_RATE, comparison=cmp, origin="config")
        )
    return out


def signal_reader(catalog: Catalog) -> Callable[[str], Reading | None]:
    """Reads config signals on demand, each at most once per plan."""
    cache: dict[str, Reading | None] = {}

    def read(name: str) -> Reading | None:
        if name not in cache:
            spec = catalog.config.signals.get(name)
            if spec is None:
                cache[name] = None
            else:
                from .signals import read_signal

                cache[name] = read_signal(name, spec, root=catalog.root)
        return cache[name]

    return read


def plan_for(catalog: Catalog, store: Store | None, train: str, *, now: datetime) -> Plan:
    """The plan of `release-trains plan TRAIN` and `GET .../plan`: what runs now, and the
    train's status from its latest run (nothing is written)."""
    from .freezes import freeze_doc

    services = resolve_participants(catalog, find_train(catalog, train))
    run = store.latest_run(train) if store else None
    plan = plan_train(
        catalog,
        train,
        now=now,
        current_versions=current_versions_for(catalog, store, services),
        status=run.status if run else None,
    )
    return replace(plan, freeze=freeze_doc(catalog.config, store, now))  # platform freezes too


def current_versions_for(
    catalog: Catalog, store: Store | None, services: list[Service]
) -> dict[str, str]:
    """deployers.select.current_versions, without importing the deployers (start-up) where its
    answer is known in advance: with no state store and only the local deployer, whose
    environment lives in that store, nothing has been deployed, so nothing is running."""
    if (
        store is None
        and catalog.config.deployer.get("type", "local") == "local"
        and not any(s.release.get("deployer") for s in services)
    ):
        return {}
    from .deployers.select import current_versions

    return current_versions(catalog, store, services)


def plan_train(
    catalog: Catalog,
    train_name: str,
    *,
    now: datetime,
    current_versions: Mapping[str, str] | None = None,
    status: str | None = None,
    read: Callable[[str], Reading | None] | None = None,
    check_health: Callable[[Service], Health] | None = None,
) -> Plan:
    """The plan for one train. `current_versions` are what the deployer or state store knows.

    `status` is where the train is (its latest run's status; None: its YAML status). A
    completed train is never ready: `execute` refuses it (lifecycle: a completed train may only
    be rolled back), whatever versions its definition now names, so the plan says so as a
    problem ("train ... is completed; roll it back or define a new train") rather than READY.
    New versions of the same services are a new train; a rolled-back train plans as before.
    """
    train = find_train(catalog, train_name)
    resolved = resolve_participants(catalog, train)
    current = current_versions or {}
    problems: list[str] = []
    notes: list[str] = []
    if (status or train.status) == "completed":
        why = "its last run released it" if status else "its YAML status says so"
        problems.append(
            f"train {train.name!r} is completed ({why}) and a completed train is not executed "
            f"again; roll it back (release-trains rollback {train.name} --reason R) to release "
            "it once more, or define a new train for new versions"
        )

    participants = []
    for p, s, to in zip(
        train.participants, resolved, target_versions(train, resolved), strict=True
    ):
        frm = current.get(s.name, s.version)
        planned = PlannedService(p.name, s.name, frm, to or frm, s.quality_score, s.critical_vulns)
        participants.append(planned)
        if planned.to_version is None:
            problems.append(
                f"{s.name}: no version to release (first install and no target version)"
            )
        elif planned.first_install:
            notes.append(
                f"{s.name}: first install of {planned.to_version} "
                "(no previous version to roll back to)"
            )
        elif planned.redeploy:
            notes.append(f"{s.name}: redeploy, no version change ({planned.to_version})")

    ordering = order_services(catalog.graph(), [s.name for s in resolved])
    if ordering.cycle:
        problems.append(f"dependency cycle: {ordering.cycle_text()}")

    deps = tuple(check_dependency(catalog, d) for d in train.dependencies)
    problems += [d.detail for d in deps if d.outcome != "satisfied"]

    problems += executable_problems(catalog, train, participants)

    ctx = GateContext(resolved, read or signal_reader(catalog), check_health)
    gate_results = []
    for gate in (*standard_gates(catalog, train), *train.gates):
        if gate.check is GateCheck.APPROVAL:  # unknown, "asked for during the run": not a problem
            result = evaluate(gate, ctx)
        elif gate.when == "before":
            result = evaluate(gate, ctx)
            if result.blocks:
                problems.append(f"gate {gate.label}: {result.outcome.value}: {result.detail}")
        else:
            result = GateResult(gate.label, gate.required, Outcome.UNKNOWN,
                                f"evaluated {gate.when} release", (), gate.when)  # fmt: skip
        gate_results.append(result)

    from .freezes import freeze_doc

    estimated = estimate(catalog, train, ordering)
    return Plan(
        train=train,
        status=status or train.status,
        participants=tuple(participants),
        ordering=ordering,
        dependencies=deps,
        gates=tuple(gate_results),
        problems=tuple(problems),
        estimated_duration_s=estimated,
        created_at=now.isoformat(timespec="seconds"),
        notes=tuple(notes),
        schedule=schedule_of(train, estimate_s=estimated, now=now),
        freeze=freeze_doc(catalog.config, None, now),  # config windows; plan_for adds the store's
    )


_DEPLOYER_COMMANDS = ("deploy", "rollback", "undeploy", "current_version", "check")


def executable_problems(
    catalog: Catalog, train: Train, participants: list[PlannedService]
) -> list[str]:
    """Every command the run would start (deployer, health probe, signals its gates and
    triggers read) whose executable is missing or cannot be run, one problem per executable
    and purpose with the services it concerns: found now, not halfway through a release."""
    from .executables import problem as executable_problem
    from .release_settings import deployer_settings, health_settings

    found: dict[tuple[str, str], list[str]] = {}  # (what, why) -> services
    # what each executable path was found to be: a hundred services on one deploy script
    # cost one look at the file system, not three hundred (status plans on every request)
    judged: dict[str, str | None] = {}

    def check(what: str, argv: Any, values: Mapping[str, str | None], service: str) -> None:
        if not isinstance(argv, list) or not argv or not isinstance(argv[0], str):
            return
        # imported at first use: the deployers package (~10 ms) is not needed by trains that
        # run no command
        from .deployers.templates import render

        try:
            executable = render(argv[0], values)  # "./bin/{service}-deploy" is one per service
        except InputError:
            return  # a value the template needs is not known before the run
        if executable not in judged:
            judged[executable] = executable_problem(executable, catalog.root)
        why = judged[executable]
        if why is not None:
            found.setdefault((what, why), []).append(service)

    config = catalog.config
    for p in participants:
        release = catalog.services[p.service].release
        values = {
            "service": p.service,
            "version": p.to_version,
            "previous_version": p.from_version,
            "train": train.name,
            "environment": config.environment,
        }
        deployer = deployer_settings(config.deployer, release.get("deployer") or {})
        if deployer.get("type", "local") == "command":
            for action in _DEPLOYER_COMMANDS:
                check(f"deployer {action} command", deployer.get(action), values, p.service)
        if p.first_install and deployer.get("type", "local") != "local":
            # A first install has no previous version: a deploy (or staging check) template
            # that names one would fail on this service once the train is running.
            for action in ("deploy", "check", "url"):
                template = deployer.get(action)
                texts = template if isinstance(template, list) else [template]
                if any(isinstance(t, str) and "{previous_version}" in t for t in texts):
                    why = "it is a first install, but the template uses {previous_version}"
                    found.setdefault((f"deployer {action}", why), []).append(p.service)
        health = health_settings(config.health, release.get("health") or {})
        kind = health.get("type") or (
            "http" if "url" in health else "command" if "command" in health else "none"
        )  # as probes.check_health tells an untyped check's kind
        if kind == "command":
            check("health check command", health.get("command"), values, p.service)
    used = {name for g in train.gates for name in g.signals}
    used |= {t.expression.subject for t in (*config.triggers, *train.rollback.triggers)}
    for name in sorted(used):
        spec = config.signals.get(name) or {}
        fields = {"train": train.name, "environment": config.environment}
        check(f"signal {name} command", spec.get("command"), fields, "")
    out = []
    for (what, why), services in found.items():
        named = [s for s in services if s]
        of = f" of {', '.join(named)}" if named else ""
        out.append(f"{what}{of}: {why}")
    return out


def estimate(catalog: Catalog, train: Train, ordering: Ordering) -> float:
    """The train's own estimate; else each service's `release.estimated_duration` (or the
    config's per-service estimate), summed in release order, a wave's width at a time."""
    if train.estimated_duration_s is not None:
        return train.estimated_duration_s
    default = catalog.config.per_service_estimate_s
    width = catalog.config.max_parallel
    total = 0.0
    for wave in ordering.waves:
        costs = sorted((_service_estimate(catalog, name, default) for name in wave), reverse=True)
        total += sum(costs[::width])  # each batch of `width` lasts as long as its slowest
    return total


def _service_estimate(catalog: Catalog, name: str, default: float) -> float:
    own = catalog.services[name].release.get("estimated_duration")
    return parse_duration(own) if own is not None else default


def save_plan(plan: Plan, root: Path) -> Path:
    """latest-plan.json and a timestamped copy, each written atomically."""
    folder = root / "analysis" / "reports" / "release-trains" / plan.train.name
    text = dump_json(plan.to_json())
    stamp = plan.created_at.replace(":", "").replace("-", "")
    write_atomic(folder / f"plan-{stamp}.json", text)
    write_atomic(folder / "latest-plan.json", text)
    return folder / "latest-plan.json"
