"""The service report's data: its versions, health and metrics read now, and its release
history over the runs covered (--runs, --since), newest first."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ..catalog import resolve
from ..errors import EXIT_NO, EXIT_OK
from ..models import Catalog
from ..monitoring import HealthProbe, health_probe, percent, seconds_between
from ..signals import Reading, read_signal, service_signal_specs
from ..state import Store
from .window import DEFAULT_RUNS, Window, check_runs

FAILURE_KINDS = ("deploy-failed", "health-failed")


@dataclass(frozen=True)
class Release:
    train: str
    run_id: int
    run_status: str
    status: str
    from_version: str | None
    to_version: str | None
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    attempts: int  # deploy attempts in this run (a retried or resumed step has several)
    health: str
    failures: int  # failed deploy attempts (deploy or health verification failed)
    rolled_back: bool
    detail: str | None

    @property
    def attempted(self) -> bool:
        return self.started_at is not None


@dataclass(frozen=True)
class Metric:
    name: str
    value: float | bool | None  # None: unknown, `error` says why
    source: str
    error: str | None


@dataclass(frozen=True)
class ServiceReport:
    service: str
    catalog_version: str | None
    quality_score: float | None
    critical_vulns: int | None
    environment: str  # the configured one
    deployed: tuple[tuple[str, str | None], ...]  # environment -> version recorded there
    health: str  # healthy | unhealthy | not verified
    health_detail: str
    metrics: tuple[Metric, ...]
    releases: tuple[Release, ...]  # newest first
    window: Window
    now: datetime
    runs_asked: int = DEFAULT_RUNS

    # Failure rate is per deploy attempt (a release retried after a failure counts both
    # tries); rollback rate is per release (a run that deployed the service). Both over the
    # releases the report covers.
    @property
    def attempted(self) -> int:
        return sum(r.attempted for r in self.releases)

    @property
    def deploy_attempts(self) -> int:
        return sum(max(r.attempts, r.failures) for r in self.releases if r.attempted)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.releases if r.attempted)

    @property
    def rollbacks(self) -> int:
        return sum(r.rolled_back for r in self.releases if r.attempted)

    @property
    def failure_rate(self) -> float | None:
        return percent(self.failures, self.deploy_attempts) if self.deploy_attempts else None

    @property
    def rollback_rate(self) -> float | None:
        return percent(self.rollbacks, self.attempted) if self.attempted else None

    @property
    def exit_code(self) -> int:
        return EXIT_NO if self.health == "unhealthy" else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "report": "service",
            "service": self.service,
            "catalog_version": self.catalog_version,
            "quality_score": self.quality_score,
            "critical_vulns": self.critical_vulns,
            "environment": self.environment,
            "deployed": dict(self.deployed),
            "health": {"status": self.health, "detail": self.health_detail},
            "metrics": [asdict(m) for m in self.metrics],
            "releases": [asdict(r) for r in self.releases],
            "attempted": self.attempted,
            "deploy_attempts": self.deploy_attempts,
            "failures": self.failures,
            "rollbacks": self.rollbacks,
            "failure_rate": self.failure_rate,
            "rollback_rate": self.rollback_rate,
            "window": self.window.to_json(),
            "coverage": {"runs_asked": self.runs_asked},
            "generated_at": self.now.isoformat(timespec="milliseconds"),
        }


def metric_specs(catalog: Catalog, service: str) -> dict[str, Mapping[str, Any]]:
    """Configured signals that measure a service (signals.service_signal_specs)."""
    return service_signal_specs(
        catalog.config.signals, catalog.services[service].release.get("signals")
    )


def service_report(
    catalog: Catalog,
    store: Store | None,
    service: str,
    *,
    now: datetime,
    window: Window,
    runs: int = DEFAULT_RUNS,
    probe: HealthProbe | None = None,
    read: Callable[[str, Mapping[str, Any]], Reading] | None = None,
) -> ServiceReport:
    """Everything a service report shows. Health and metrics are read now (each bounded by its
    own timeout); an unknown service raises ResolutionError (exit 2)."""
    check_runs(runs)
    name = resolve(catalog, service)
    definition = catalog.services[name]
    env = catalog.config.environment
    fields = {"service": name, "environment": env}

    def read_now(metric: str, spec: Mapping[str, Any]) -> Reading:
        return read_signal(metric, spec, root=catalog.root, fields=fields)

    reader = read or read_now
    metrics = []
    for metric, spec in sorted(metric_specs(catalog, name).items()):
        r = reader(metric, spec)
        metrics.append(Metric(metric, r.value, r.source, r.error))
    health = (probe or health_probe(catalog))(definition)
    return ServiceReport(
        service=name,
        catalog_version=definition.version,
        quality_score=definition.quality_score,
        critical_vulns=definition.critical_vulns,
        environment=env,
        deployed=tuple(sorted((store.deployed_everywhere(name) if store else {}).items())),
        health=health.verdict,
        health_detail=health.detail,
        metrics=tuple(metrics),
        releases=tuple(_releases(store, name, window, runs=runs)) if store else (),
        window=window,
        now=now,
        runs_asked=runs,
    )


def _releases(store: Store, service: str, window: Window, *, runs: int) -> list[Release]:
    history = [
        h for h in store.service_history(service, limit=runs) if window.holds(h[2].started_at)
    ]
    ids = [run.id for _, _, run in history]
    failures: dict[int, list[str]] = {}
    # oldest first within a run, so the last failure's message is the latest one
    for e in reversed(store.events_of_runs(ids, FAILURE_KINDS, limit=100_000, service=service)):
        failures.setdefault(e.run_id, []).append(e.message)
    out = []
    for s, train, run in history:
        failed_events = failures.get(s.run_id, [])  # the step's own error is cleared by a rollback
        out.append(
            Release(
                train=train,
                run_id=run.id,
                run_status=run.status,
                status=s.status,
                from_version=s.from_version,
                to_version=s.to_version,
                started_at=s.started_at,
                finished_at=s.finished_at,
                duration_s=seconds_between(s.started_at, s.finished_at),
                attempts=s.attempts,
                health=s.health,
                failures=len(failed_events),
                rolled_back=s.rollback_started_at is not None,
                detail=s.error or (failed_events[-1] if failed_events else None),
            )
        )
    return out
