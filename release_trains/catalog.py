"""Load the catalog and config from a root folder, validate them, and build the models.

Every problem of every file is collected before anything fails, so `validate` (and any
command that meets bad input) reports them all at once, each with its file, line and path.
Participant name resolution lives here too, since it is a question asked of the catalog.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import versions
from .errors import CatalogError, GateExpressionError, InputError, ResolutionError, ValidationFailed
from .gates_parser import Comparison, Expression, parse_expression
from .models import (
    Catalog,
    Config,
    Dependency,
    FreezeWindow,
    Gate,
    GateCheck,
    Participant,
    QualityGates,
    RollbackPolicy,
    Service,
    Train,
    Trigger,
    parse_duration,
)
from .notify.settings import config_problems as notification_problems
from .notify.settings import train_problems as train_notification_problems
from .release_settings import (
    deployer_problems,
    deployer_settings,
    duration_problem,
    health_problems,
    health_settings,
    signal_problems,
)
from .schedule import parse_instant
from .validation import check_key, passes_exactly, problem, schema_errors
from .windows import build_windows
from .yaml_io import collector_paused, json_path, line_of, load_source

if TYPE_CHECKING:
    from .parse_cache import ParseCache
    from .state import Store

# name -> candidate files, first existing wins (CONTRACT: YAML over JSON)
FILES: dict[str, tuple[str, ...]] = {
    "trains": ("catalog/release-trains.yaml",),
    "services": ("catalog/service-index.yaml", "catalog/service-index.json"),
    "quality": ("catalog/latest_quality_snapshot.json",),
    "specs": ("catalog/specs-index.yaml", "catalog/specs-index.json"),
    "config": ("config/upgrade-policies.yaml",),
}
REQUIRED = ("trains", "services")


@dataclass
class Problems:
    """Problems and warnings collected while loading; raised together at the end."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, source: Path, path: list[str | int], message: str) -> None:
        self.errors.append(problem(source, path, message))


def find_file(root: Path, kind: str) -> Path | None:
    for rel in FILES[kind]:
        if (root / rel).exists():
            return root / rel
    return None


def load_catalog(
    root: Path,
    *,
    validate: bool = True,
    services: bool = True,
    store: Store | None = None,
    cache: ParseCache | None = None,
    freeze: bool = False,
) -> Catalog:
    """The catalog under `root`; raises ValidationFailed listing every problem found.

    `services=False` reads only the trains and the config (no service index, snapshot or
    specs): for readers such as `status` of a train that ran, whose services are in the state
    store, on catalogs where the service index is most of the start-up time. With a `store`,
    the trains defined through the API are merged in and checked as YAML trains are.
    `cache` and `freeze` are yaml_io.load_file's, for every file read."""
    catalog, problems = check_catalog(
        root, validate=validate, services=services, store=store, cache=cache, freeze=freeze
    )
    if problems.errors or catalog is None:
        raise ValidationFailed(problems.errors)
    return catalog


def check_catalog(
    root: Path,
    *,
    validate: bool = True,
    services: bool = True,
    store: Store | None = None,
    cache: ParseCache | None = None,
    freeze: bool = False,
) -> tuple[Catalog | None, Problems]:
    """Load everything under `root`, collecting (not raising) every problem.

    With `freeze` (a short-lived process: the CLI), the collector is paused while the models
    are built as well as while the files are parsed, and what is built is frozen out of its
    view (yaml_io.collector_paused): at 100,000 services, collections set off by building the
    models rescanned the growing heap for 2.3 s of an 8 s load. A document with aliases is
    frozen too: the one that could hold a cycle (`&a [*a]`) is refused as nested too deeply,
    and the process ends."""
    if not freeze:
        return _check_catalog(root, validate=validate, services=services, store=store, cache=cache)
    with collector_paused(freeze=True):
        return _check_catalog(
            root, validate=validate, services=services, store=store, cache=cache, freeze=True
        )


def _check_catalog(
    root: Path,
    *,
    validate: bool,
    services: bool,
    store: Store | None,
    cache: ParseCache | None,
    freeze: bool = False,
) -> tuple[Catalog | None, Problems]:
    problems = Problems()
    files: dict[str, Path] = {}
    docs: dict[str, Any] = {"services": {"services": []}} if not services else {}
    broken: dict[str, set[tuple[str | int, ...]]] = {}
    for kind in FILES if services else ("trains", "config"):
        path = find_file(root, kind)
        if path is None:
            if kind in REQUIRED:
                problems.errors.append(f"{root / FILES[kind][0]}: file not found")
            continue
        files[kind] = path
        try:
            docs[kind], raw = load_source(path, cache=cache, freeze=freeze)
        except CatalogError as e:
            problems.errors.append(str(e))
            continue
        if validate:
            found = _schema_check(kind, docs[kind], raw, cache)
            problems.errors.extend(problem(path, p, m) for p, m in found)
            # Models are built from what passed: a broken train or service is left out, so the
            # other entries' problems (gates, versions, names) are still found and reported.
            broken[kind] = {tuple(p[:2]) for p, _ in found}
            partial = kind in ("trains", "services") and all(len(p) >= 2 for p, _ in found)
            if found and not partial:
                del docs[kind]
    if any(k not in docs for k in REQUIRED):
        return None, problems

    config = _config(docs.get("config") or {}, files.get("config"), problems)
    before = len(problems.errors)
    service_paths: dict[str, list[str | int]] = {}
    index = _services(
        docs["services"],
        files.get("services", root / FILES["services"][0]),
        docs.get("quality"),
        problems,
        skip=broken.get("services", set()),
        paths=service_paths,
    )
    _check_release_settings(
        config,
        index,
        config_source=files.get("config"),
        services_source=files.get("services", root / FILES["services"][0]),
        paths=service_paths,
        problems=problems,
    )
    services_ok = services and len(problems.errors) == before and not broken.get("services")
    specs, libraries = _registries(docs.get("specs") or {}, index)
    trains = _trains(
        docs["trains"], files["trains"], config, problems, skip=broken.get("trains", set())
    )
    aliases: dict[str, list[str]] = {}
    for service in index.values():
        for alias in service.aliases:
            aliases.setdefault(alias, []).append(service.name)
    catalog = Catalog(
        root=root,
        services=index,
        aliases={k: tuple(v) for k, v in aliases.items()},
        trains=trains,
        specs=specs,
        libraries=libraries,
        config=config,
        files=files,
    )
    if services_ok:  # else an unresolved name may only be a broken service
        _check_participants(catalog, docs["trains"], problems)
    if store is not None:
        catalog = _merge_api_trains(catalog, store, problems, check=services_ok)
    return catalog, problems


def _schema_check(
    kind: str, doc: Any, raw: bytes, cache: ParseCache | None
) -> list[tuple[list[str | int], str]]:
    """schema_errors, skipped for a document whose cache entry records that it passed this
    very check (same bytes, same schemas, same checker: validation.check_key); a document
    that passes is recorded so in its entry (a file the cache holds no entry for: nothing)."""
    if cache is None:
        return schema_errors(kind, doc)
    try:
        key = check_key(kind)
    except OSError:  # the checker's source cannot be read (a zipped install): nothing recorded
        return schema_errors(kind, doc)
    if cache.checked(raw, key):
        return []
    if passes_exactly(kind, doc):
        cache.mark_checked(raw, key)
        return []
    return schema_errors(kind, doc)


def api_source(name: str) -> Path:
    """What a problem of an API train names instead of a file."""
    return Path(f"API train {name}")


def _merge_api_trains(
    catalog: Catalog, store: Store, problems: Problems, *, check: bool
) -> Catalog:
    """The catalog with the trains defined through the API (state/trains.py), built as YAML
    trains are; one whose name a YAML train also has is an error (neither may silently win)."""
    merged = dict(catalog.trains)
    for record in store.api_trains():
        source = api_source(record.name)
        if record.name in catalog.trains:
            problems.add(
                source,
                ["name"],
                f"train {record.name!r} is defined both in {catalog.files['trains']} and "
                "through the API: rename or delete one of them",
            )
            continue
        found = _definition_problems(catalog, record.definition, check=check)
        for path, message in found:
            problems.add(source, path, message)
        if not found:
            train = _train(record.definition, source, [], catalog.config, problems)
            if train is not None:
                merged[train.name] = replace(train, source="api")
    return replace(catalog, trains=merged)


class _Collected(Problems):
    """Problems kept as (JSON path, message), for the API's `errors: [{path, message}]`."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[list[str | int], str]] = []

    def add(self, source: Path, path: list[str | int], message: str) -> None:
        self.found.append((list(path), message))
        self.errors.append(message)


def _definition_problems(
    catalog: Catalog, definition: Any, *, check: bool = True
) -> list[tuple[list[str | int], str]]:
    """Every problem of one train definition, as a YAML train's would be found: the schema's
    train item, then versions, dependencies, gates and durations, then (`check`) participant
    resolution against the service index."""
    found = [(p[2:], m) for p, m in schema_errors("trains", {"trains": [definition]})]
    if found:
        return found
    collected = _Collected()
    _train(definition, Path("-"), [], catalog.config, collected)
    if check:
        doc = {"trains": [definition]}
        known = {**catalog.trains, definition["name"]: None}
        _check_participants_of(catalog, doc, collected, known=set(known), source=Path("-"))
    return [([*p[2:]] if p[:1] == ["trains"] else p, m) for p, m in collected.found]


def check_train_definition(catalog: Catalog, definition: Any) -> list[dict[str, str]]:
    """The problems of a train definition sent to the API, as `[{path, message}]` (empty: it
    is valid). `progress` is refused on its own terms: it is computed, never set."""
    out: list[dict[str, str]] = []
    body = definition
    if isinstance(definition, dict) and "progress" in definition:
        out.append({"path": "$.progress", "message": "progress cannot be set: it is computed"})
        body = {k: v for k, v in definition.items() if k != "progress"}
    for path, message in _definition_problems(catalog, body):
        out.append({"path": json_path(path), "message": message})
    return out


def _check_participants(catalog: Catalog, doc: Any, problems: Problems) -> None:
    """Every participant must resolve to exactly one service: an input error where it is written."""
    _check_participants_of(
        catalog, doc, problems, known=set(catalog.trains), source=catalog.files["trains"]
    )


def _check_participants_of(
    catalog: Catalog, doc: Any, problems: Problems, *, known: set[str], source: Path
) -> None:
    for i, t in enumerate(doc["trains"]):
        if not isinstance(t, dict) or t.get("name") not in known:
            continue
        first: dict[str, tuple[int, str]] = {}  # service -> (index, name as written)
        for j, p in enumerate(t["participants"]):
            written = p if isinstance(p, str) else p["name"]
            where: list[str | int] = ["trains", i, "participants", j]
            try:
                service = resolve(catalog, written)
            except ResolutionError as e:
                problems.add(source, where, str(e))
                continue
            if service in first:
                # Two names for one service (`curve` and `curve-service`): it would be
                # released twice, or planned once and lose the other entry's version.
                k, other = first[service]
                line = line_of(source, ["trains", i, "participants", k])
                at = f" (line {line})" if line else ""
                problems.add(
                    source,
                    where,
                    f"participants[{k}] {other!r}{at} and participants[{j}] {written!r} both "
                    f"resolve to service {service!r}: list it once",
                )
                continue
            first[service] = (j, written)


# --- services ----------------------------------------------------------------------------


def _services(
    doc: Any,
    source: Path,
    quality: Any,
    problems: Problems,
    *,
    skip: set[tuple[str | int, ...]],
    paths: dict[str, list[str | int]],
) -> dict[str, Service]:
    raw = doc["services"]
    entries: list[tuple[list[str | int], Any, Any]]
    if isinstance(raw, dict):
        entries = [(["services", k], k, v or {}) for k, v in raw.items()]
    else:
        entries = [
            (["services", i], s.get("name") if isinstance(s, dict) else "", s)
            for i, s in enumerate(raw)
        ]
    snapshot = (quality or {}).get("services", {})
    services: dict[str, Service] = {}
    for path, name, s in entries:
        if tuple(path) in skip:
            continue
        if name in services:
            problems.add(source, [*path, "name"], f"duplicate service {name!r}")
            continue
        if isinstance(raw, dict) and s.get("name", name) != name:
            problems.add(source, [*path, "name"], f"name {s['name']!r} differs from its key")
        services[name] = _service(name, s, snapshot.get(name) or {})
        paths[name] = path
        check_templates(s.get("release"), source, [*path, "release"], problems)
    return services


def _service(name: str, s: dict[str, Any], snap: dict[str, Any]) -> Service:
    q = s.get("quality") or {}
    metrics = snap.get("metrics") or {}
    score = snap.get("score", q.get("score"))
    coverage = q.get("coverage", metrics.get("coverage"))
    # Two sources may disagree on vulnerabilities: the higher count is the safe one to gate on.
    vulns = [
        v for v in (q.get("open_critical_vulns"), metrics.get("critical_vulns")) if v is not None
    ]
    deps = (s.get("dependencies") or {}).get("internal") or []
    return Service(
        name=name,
        version=s.get("version"),
        aliases=tuple(dict.fromkeys(s.get("aliases") or ())),
        depends_on=tuple(dict.fromkeys(versions.pinned_names(deps))),
        api_contracts=tuple(versions.split_pinned(c) for c in s.get("api_contracts") or ()),
        quality_score=float(score) if score is not None else None,
        coverage=to_percent(coverage),
        critical_vulns=max(vulns) if vulns else None,
        failure_rate=failure_percent(
            snap_failure=metrics.get("failure_rate"),
            snap_success=metrics.get("build_success_rate"),
            own_failure=q.get("failure_rate"),
        ),
        release=s.get("release") or {},
    )


def failure_percent(
    *, snap_failure: float | None, snap_success: float | None, own_failure: float | None
) -> float | None:
    """A service's failure rate in percent: the quality snapshot's `metrics.failure_rate`,
    else 100 - its `metrics.build_success_rate`, else the index's `quality.failure_rate`
    (each a fraction in [0, 1] or a percent above 1, as coverage is); None: no data."""
    if snap_failure is not None:
        rate = to_percent(snap_failure)
    elif snap_success is not None:
        success = to_percent(snap_success)
        rate = None if success is None else 100.0 - success
    else:
        rate = to_percent(own_failure)
    # 0.95 -> 95.0 -> 5.0 exactly, but 1 - 0.95 is 0.050000000000000044: keep the rate people
    # would write, so a 5 % rate meets "at most 5 %".
    return None if rate is None else round(rate, 9)


def to_percent(value: float | None) -> float | None:
    """Catalog coverage in [0, 1] is a fraction (0.61 = 61 %); above 1 it is already percent."""
    if value is None:
        return None
    return float(value) * 100 if value <= 1 else float(value)


def _registries(
    doc: Mapping[str, Any], services: Mapping[str, Service]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Versions published per spec and library: the specs index plus services' api_contracts."""
    specs: dict[str, list[str]] = {}
    libraries: dict[str, list[str]] = {}

    def add(target: dict[str, list[str]], name: str, entry: Mapping[str, Any]) -> None:
        found = list(entry.get("versions") or ())
        if entry.get("latest_version"):
            found.append(entry["latest_version"])
        target.setdefault(name, []).extend(found)

    for name, entry in doc.items():
        if (
            name in ("specs", "libraries")
            and isinstance(entry, dict)
            and not ("versions" in entry or "latest_version" in entry)
        ):
            for sub, e in entry.items():
                add(specs if name == "specs" else libraries, sub, e)
        elif name != "metadata":
            add(specs, name, entry)  # the flat {name: {latest_version}} form
    for service in services.values():
        for name, version in service.api_contracts:
            if version:
                specs.setdefault(name, []).append(version)
    return (
        {k: tuple(dict.fromkeys(v)) for k, v in specs.items()},
        {k: tuple(dict.fromkeys(v)) for k, v in libraries.items()},
    )


# --- config ------------------------------------------------------------------------------


def _config(doc: Mapping[str, Any], source: Path | None, problems: Problems) -> Config:
    rt = doc.get("release_trains") or {}
    qg = rt.get("quality_gates") or {}
    defaults = QualityGates()
    validation = rt.get("validation") or {}
    executor = rt.get("executor") or {}
    rollback = rt.get("rollback") or {}
    triggers = _triggers(
        rollback.get("triggers") or [], source, ["release_trains", "rollback", "triggers"], problems
    )
    if source is not None:
        for key in ("deployer", "health", "signals"):
            check_templates(rt.get(key), source, ["release_trains", key], problems)
    if source is not None:
        for name, spec in (rt.get("signals") or {}).items():
            for sub, message in signal_problems(spec):
                problems.add(source, ["release_trains", "signals", name, *sub], message)
        if "dependency_check_timeout" in validation:
            # Accepted (the seed's policies carry it) but said out loud: nothing it could bound.
            where = ["release_trains", "validation", "dependency_check_timeout"]
            problems.warnings.append(
                problem(
                    source,
                    where,
                    "has no effect: dependency checks compare with the specs index and "
                    "services' api_contracts already read, without any network or process "
                    "call, so there is nothing to time out; remove it",
                )
            )
        for sub, message in notification_problems(rt.get("notifications")):
            problems.add(source, ["release_trains", "notifications", *sub], message)
        for section, keys in _CONFIG_DURATIONS.items():
            for key in keys:
                value = (rt.get(section) or {}).get(key)
                why = duration_problem(value) if value is not None else None
                if why is not None:
                    problems.add(source, ["release_trains", section, key], why)
    return Config(
        environment=rt.get("environment", "production"),
        quality_gates=QualityGates(
            min_quality_score=qg.get("min_quality_score", defaults.min_quality_score),
            max_critical_vulns=qg.get("max_critical_vulns", defaults.max_critical_vulns),
            min_coverage=qg.get("min_coverage", defaults.min_coverage),
            max_failure_rate=qg.get("max_failure_rate", defaults.max_failure_rate),
        ),
        health_check_timeout_s=parse_duration(validation.get("health_check_timeout", 300)),
        dependency_check_timeout_s=parse_duration(validation.get("dependency_check_timeout", 60)),
        rollback_timeout_s=parse_duration(validation.get("rollback_timeout", 600)),
        per_service_estimate_s=parse_duration((rt.get("estimates") or {}).get("per_service", 600)),
        deployer=rt.get("deployer") or {},
        health=rt.get("health") or {},
        signals=rt.get("signals") or {},
        rollback_enabled=bool(rollback.get("enabled", False)),
        triggers=triggers,
        trigger_interval_s=parse_duration(rollback.get("interval", 5)),
        max_parallel=executor.get("max_parallel", 1),
        lock_stale_after_s=parse_duration(executor.get("lock_stale_after", 120)),
        notifications=rt.get("notifications") or {},
        freeze_windows=_freeze_windows(rt.get("freeze_windows"), source, problems),
    )


def _freeze_windows(raw: Any, source: Path | None, problems: Problems) -> tuple[FreezeWindow, ...]:
    if not raw:
        return ()
    where: list[str | int] = ["release_trains", "freeze_windows"]

    def report(sub: list[str | int], why: str) -> None:
        if source is not None:
            problems.add(source, [*where, *sub], why)
        else:
            problems.errors.append(why)

    return build_windows(raw, report)


# Keys whose strings are templates ({service} ...), in deployer, health and signal settings.
TEMPLATE_KEYS = frozenset({
    "deploy", "rollback", "undeploy", "current_version", "check", "command",
    "url", "status_url", "version_url", "http_json", "metrics_url", "query",
})  # fmt: skip


def check_templates(
    settings: Any, source: Path, path: list[str | int], problems: Problems, *, inside: bool = False
) -> None:
    """Every `{field}` in release settings must be one the templates know, found at load
    time so that a typo is a validation error, not a failure halfway through a release."""
    if isinstance(settings, dict):
        for key, value in settings.items():
            check_templates(value, source, [*path, key], problems, inside=key in TEMPLATE_KEYS)
    elif isinstance(settings, list):
        for i, item in enumerate(settings):
            check_templates(item, source, [*path, i], problems, inside=inside)
    elif inside and isinstance(settings, str):
        # Imported here, where a template is checked: the deployers package costs ~8 ms of
        # start-up that a catalog without templates (and every --help) need not pay.
        from .deployers.templates import fields_used

        try:
            fields_used([settings])
        except InputError as e:
            problems.add(source, path, str(e))


_CONFIG_DURATIONS = {
    "validation": ("health_check_timeout", "dependency_check_timeout", "rollback_timeout"),
    "estimates": ("per_service",),
    "rollback": ("interval",),
    "executor": ("lock_stale_after",),
}


def _check_release_settings(
    config: Config,
    services: Mapping[str, Service],
    *,
    config_source: Path | None,
    services_source: Path,
    paths: Mapping[str, list[str | int]],
    problems: Problems,
) -> None:
    """Every service's deployer and health settings, merged as a run merges them, must be
    complete: a problem of the config's own settings is reported once, where the config says
    it, when some service uses them as they are; one a service's `release:` brings (or leaves
    unsolved) is reported at that service's `release` key."""
    sections = {
        "deployer": (config.deployer, deployer_settings, _deployer_found),
        "health": (config.health, health_settings, _health_found),
    }
    for section, (base, merge, found) in sections.items():
        used_as_is = not services or any(not s.release.get(section) for s in services.values())
        reported: set[str] = set()
        if config_source is not None and used_as_is:
            for sub, why in found(dict(base), config):
                problems.add(config_source, ["release_trains", section, *sub], why)
                reported.add(why)
        for name, service in services.items():
            own = service.release.get(section)
            if not own or name not in paths:
                continue
            for sub, why in found(merge(base, own), config):
                if why in reported:
                    continue  # the config's own problem, said once where the config says it
                where = [*paths[name], "release", section, *sub]
                problems.add(services_source, where, f"{why} (settings merged with config)")
    for name, service in services.items():
        if name not in paths:
            continue
        for signal, spec in (service.release.get("signals") or {}).items():
            for sub, message in signal_problems(spec):
                where = [*paths[name], "release", "signals", signal, *sub]
                problems.add(services_source, where, message)
        value = service.release.get("estimated_duration")
        bad = duration_problem(value) if value is not None else None
        if bad is not None:
            problems.add(services_source, [*paths[name], "release", "estimated_duration"], bad)


def _deployer_found(settings: dict[str, Any], config: Config) -> list[tuple[list[str | int], str]]:
    return list(deployer_problems(settings, environment=config.environment))


def _health_found(settings: dict[str, Any], config: Config) -> list[tuple[list[str | int], str]]:
    return list(health_problems(settings))


def _triggers(
    raw: list[dict[str, Any]], source: Path | None, path: list[str | int], problems: Problems
) -> tuple[Trigger, ...]:
    out = []
    for i, t in enumerate(raw):
        expr = _expression(t["expression"], source, [*path, i, "expression"], problems)
        if expr is not None:
            name = t.get("name") or str(expr)
            out.append(Trigger(name=name, expression=expr, for_count=t.get("for", 1)))
    return tuple(out)


def _expression(
    text: str, source: Path | None, path: list[str | int], problems: Problems
) -> Expression | None:
    try:
        return parse_expression(text)
    except GateExpressionError as e:
        if source is not None:
            problems.add(source, path, str(e))
        else:
            problems.errors.append(str(e))
        return None


# --- trains ------------------------------------------------------------------------------

BUILTIN_SUBJECTS = {
    "all_participants_quality": GateCheck.QUALITY,
    "all_participants_coverage": GateCheck.COVERAGE,
    "no_open_critical_vulns": GateCheck.CRITICAL_VULNS,
    "all_services_healthy": GateCheck.HEALTHY,
    "all_participants_failure_rate": GateCheck.FAILURE_RATE,
}
OBJECT_TYPES = {
    "quality_score": GateCheck.QUALITY,
    "quality": GateCheck.QUALITY,
    "coverage": GateCheck.COVERAGE,
    "vulnerabilities": GateCheck.CRITICAL_VULNS,
    "health": GateCheck.HEALTHY,
}


def _trains(
    doc: Any, source: Path, config: Config, problems: Problems, *, skip: set[tuple[str | int, ...]]
) -> dict[str, Train]:
    trains: dict[str, Train] = {}
    seen: set[str] = set()
    for i, t in enumerate(doc["trains"]):
        path: list[str | int] = ["trains", i]
        if tuple(path) in skip:
            if isinstance(t, dict) and isinstance(t.get("name"), str):
                seen.add(t["name"])  # a later train of the same name is still a duplicate
            continue
        if t["name"] in seen:
            problems.add(source, [*path, "name"], f"duplicate train name {t['name']!r}")
            continue
        seen.add(t["name"])
        train = _train(t, source, path, config, problems)
        if train is not None:
            trains[train.name] = train
    return trains


def _train(
    t: dict[str, Any], source: Path, path: list[str | int], config: Config, problems: Problems
) -> Train | None:
    before = len(problems.errors)
    participants = []
    for j, p in enumerate(t["participants"]):
        p = {"name": p} if isinstance(p, str) else p
        if p.get("version") is not None and not versions.is_valid_version(p["version"]):
            problems.add(
                source, [*path, "participants", j, "version"], f"invalid version {p['version']!r}"
            )
        participants.append(Participant(name=p["name"], version=p.get("version")))
    seen = [p.name for p in participants]
    for dup in sorted(n for n, count in Counter(seen).items() if count > 1):  # linear, not M^2
        problems.add(source, [*path, "participants"], f"participant {dup!r} is listed twice")

    target = t.get("target_version")
    if target is not None and not versions.is_valid_version(target.rsplit(":", 1)[-1]):
        problems.add(source, [*path, "target_version"], f"invalid target version {target!r}")

    dependencies = []
    for j, d in enumerate(t.get("dependencies") or []):
        dep = _dependency(d, source, [*path, "dependencies", j], problems)
        if dep is not None:
            dependencies.append(dep)

    gates = []
    for j, g in enumerate(t.get("gates") or []):
        gate = _gate(g, source, [*path, "gates", j], config, problems)
        if gate is not None:
            gates.append(gate)

    named = Counter(g.label for g in gates if g.check is GateCheck.APPROVAL)
    for dup in sorted(n for n, count in named.items() if count > 1):
        # votes are recorded per gate name: two approval gates of one name would share them
        problems.add(source, [*path, "gates"], f"approval gate {dup!r} is defined twice")

    rb = t.get("rollback") or {}
    triggers = _triggers(
        rb.get("triggers") or [], source, [*path, "rollback", "triggers"], problems
    )
    for sub, message in train_notification_problems(t.get("notifications"), config.notifications):
        problems.add(source, [*path, "notifications", *sub], message)
    schedule = t.get("schedule") or {}
    starts_at = None
    if schedule.get("start_time") is not None:
        try:
            starts_at = parse_instant(schedule["start_time"])
        except ValueError as e:
            problems.add(source, [*path, "schedule", "start_time"], f"train {t['name']!r}: {e}")
    duration = t.get("estimated_duration", schedule.get("estimated_duration"))
    for where, value in (
        (["estimated_duration"], t.get("estimated_duration")),
        (["schedule", "estimated_duration"], schedule.get("estimated_duration")),
        (["rollback", "timeout"], rb.get("timeout")),
    ):
        why = duration_problem(value) if value is not None else None
        if why is not None:
            problems.add(source, [*path, *where], why)
    if len(problems.errors) > before:
        return None
    return Train(
        name=t["name"],
        participants=tuple(participants),
        target_version=target,
        description=t.get("description", ""),
        dependencies=tuple(dependencies),
        gates=tuple(gates),
        status=t.get("status", "planning"),
        estimated_duration_s=parse_duration(duration) if duration is not None else None,
        start_time=schedule.get("start_time"),
        starts_at=starts_at,
        rollback=RollbackPolicy(
            enabled=rb.get("enabled"),
            timeout_s=parse_duration(rb["timeout"]) if "timeout" in rb else None,
            health_check_threshold=rb.get("health_check_threshold"),
            triggers=triggers,
        ),
        definition=t,
    )


def _dependency(
    d: dict[str, Any], source: Path, path: list[str | int], problems: Problems
) -> Dependency | None:
    kind = "spec" if "spec" in d else "library"
    where = [*path, kind]
    try:
        name, constraint = versions.split_requirement(d[kind])
        if "version" in d:
            if constraint:
                raise InputError(f"{d[kind]!r} has a constraint and a `version:` key; keep one")
            constraint = d["version"].strip()
            where = [*path, "version"]
        versions.parse_constraint(constraint)
    except InputError as e:
        problems.add(source, where, str(e))
        return None
    return Dependency(kind=kind, name=name, constraint=constraint)


def _gate(
    g: str | dict[str, Any], source: Path, path: list[str | int], config: Config, problems: Problems
) -> Gate | None:
    written_as_string = isinstance(g, str)
    if isinstance(g, str):
        g = {"expression": g}
    required = g.get("required", True)
    when = g.get("when", "before")
    if "expression" in g or "custom" in g:
        key = "custom" if "custom" in g else "expression"
        text = g[key]
        expr = _expression(text, source, path if written_as_string else [*path, key], problems)
        if expr is None:
            return None
        return _gate_from_expression(
            expr,
            label=g.get("name") or text,
            required=required,
            when=when,
            config=config,
            source=source,
            path=path,
            problems=problems,
            when_given=g.get("when"),
        )
    if g.get("type") == "approval":
        return _approval_gate(g, source, path, problems)
    # the object form: {name, type, threshold | max_vulns, required}
    gate_type = g.get("type", g["name"])
    check = OBJECT_TYPES.get(gate_type, GateCheck.SIGNAL)
    comparison = None
    if check in (GateCheck.QUALITY, GateCheck.COVERAGE):
        default = (
            config.quality_gates.min_quality_score
            if check is GateCheck.QUALITY
            else config.quality_gates.min_coverage
        )
        threshold = g.get("threshold", default)
        if threshold is None:
            problems.add(
                source, path, f"gate {g['name']!r} of type {gate_type!r} needs a threshold"
            )
            return None
        comparison = Expression(gate_type, Comparison(">=", float(threshold)))
    elif check is GateCheck.SIGNAL and "threshold" in g:
        comparison = Expression(g["name"], Comparison(">=", float(g["threshold"])))
    max_vulns = g.get("max_vulns") if check is GateCheck.CRITICAL_VULNS else None
    if check is GateCheck.HEALTHY and "when" not in g:
        when = "after"
    return Gate(
        label=g["name"],
        check=check,
        comparison=comparison,
        signals=tuple(dict.fromkeys((g["name"], gate_type))),
        max_vulns=max_vulns if max_vulns is not None else config.quality_gates.max_critical_vulns,
        required=required,
        when=when,
    )


def _approval_gate(
    g: dict[str, Any], source: Path, path: list[str | int], problems: Problems
) -> Gate | None:
    """`{name, type: approval, when: before|after, approvers, min_approvals}` (the schema
    has checked each value's type): a quorum the named approvers cannot reach is refused."""
    approvers = tuple(dict.fromkeys(a.strip() for a in g.get("approvers") or ()))
    needed = g.get("min_approvals", 1)
    if approvers and needed > len(approvers):
        problems.add(
            source,
            [*path, "min_approvals"],
            f"approval gate {g['name']!r} needs {needed} approvals but names only "
            f"{len(approvers)} approvers",
        )
        return None
    if any(not a for a in approvers):
        problems.add(source, [*path, "approvers"], "an approver must not be blank")
        return None
    return Gate(
        label=g["name"],
        check=GateCheck.APPROVAL,
        required=True,  # a sign-off nobody may skip: `required: false` is refused by the schema
        when=g.get("when", "after"),
        approvers=approvers,
        min_approvals=needed,
    )


def _gate_from_expression(
    expr: Expression,
    *,
    label: str,
    required: bool,
    when: str,
    config: Config,
    source: Path,
    path: list[str | int],
    problems: Problems,
    when_given: str | None,
) -> Gate | None:
    check = BUILTIN_SUBJECTS.get(expr.subject, GateCheck.SIGNAL)
    needs_comparison = check in (GateCheck.QUALITY, GateCheck.COVERAGE, GateCheck.FAILURE_RATE)
    takes_none = check in (GateCheck.HEALTHY,)
    if needs_comparison and (expr.comparison is None or isinstance(expr.comparison.value, bool)):
        problems.add(
            source, path, f"{expr.subject} needs a numeric comparison, e.g. '{expr.subject} >= 80'"
        )
        return None
    if takes_none and expr.comparison is not None:
        problems.add(source, path, f"{expr.subject} takes no comparison")
        return None
    max_vulns = config.quality_gates.max_critical_vulns
    if check is GateCheck.CRITICAL_VULNS and expr.comparison is not None:
        problems.add(
            source,
            path,
            "no_open_critical_vulns takes no comparison (set max_vulns in the object form)",
        )
        return None
    if check is GateCheck.HEALTHY and when_given is None:
        when = "after"  # health can only be verified once the new versions run
    return Gate(
        label=label,
        check=check,
        comparison=expr if check is not GateCheck.CRITICAL_VULNS else None,
        signals=(expr.subject,) if check is GateCheck.SIGNAL else (),
        max_vulns=(max_vulns if max_vulns is not None else 0)
        if check is GateCheck.CRITICAL_VULNS
        else None,
        required=required,
        when=when,
    )


# --- participant resolution --------------------------------------------------------------


def resolve(catalog: Catalog, name: str) -> str:
    """The catalog service a participant name means: exact, then alias, then `<name>-service`."""
    services = catalog.services
    if name in services:
        return name
    by_alias = catalog.aliases.get(name, ())
    if len(by_alias) == 1:
        return by_alias[0]
    if len(by_alias) > 1:
        raise ResolutionError(
            f"participant {name!r} is ambiguous: it is an alias of {', '.join(sorted(by_alias))}; "
            "use the full service name"
        )
    if f"{name}-service" in services:
        return f"{name}-service"
    # Suggest what people write: full names, aliases and names without "-service".
    candidates = {n: n for n in services}
    candidates.update({a: a for a in catalog.aliases})
    candidates.update({n.removesuffix("-service"): n.removesuffix("-service") for n in services})
    import difflib  # only for this message: not on every start-up

    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ResolutionError(
        f"participant {name!r} matches no service in {catalog.files.get('services')} "
        f"(tried {name!r}, an alias {name!r}, {name + '-service'!r}){hint}"
    )
