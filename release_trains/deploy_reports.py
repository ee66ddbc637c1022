"""What an external pipeline reports about a deploy it made (`PUT /api/v1/services/{service}/
status`, `release-trains report-deploy`): recorded in the state store, where a run of the
`external` deployer waiting for it reads it (deployers/external.py).

Every report is recorded, whether or not a run is waiting, so the service's status shows what
its pipeline said last. The answer says what the report met: `waiting` is the run whose
deploy of the service was waiting for a report (its train, run id and target version, and
whether the report's version is that target), or null when no deploy was waiting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .catalog import resolve
from .errors import InputError
from .lifecycle import ACTIVE
from .models import Catalog
from .state import Store

STATUSES = ("deployed", "failed")


def report_deploy(
    catalog: Catalog,
    store: Store,
    service: str,
    *,
    status: str,
    version: str,
    health_status: str | None,
    detail: str | None,
    who: str,
    now: datetime,
) -> dict[str, Any]:
    """Record one report of SERVICE (a name or alias; unknown: ResolutionError, exit 2)."""
    name = resolve(catalog, service)
    if status not in STATUSES:
        raise InputError(f"status {status!r}: one of {', '.join(STATUSES)}")
    if not version.strip():
        raise InputError("version must not be empty: say which version the pipeline deployed")
    waiting = waiting_deploy(store, name)
    report = store.add_deploy_report(
        service=name,
        environment=catalog.config.environment,
        status=status,
        version=version,
        health_status=health_status,
        detail=detail,
        who=who,
        now=now.isoformat(timespec="milliseconds"),
    )
    doc = report.to_json()
    if waiting is not None:
        waiting["matches"] = status == "deployed" and version == waiting["to_version"]
    doc["waiting"] = waiting
    return doc


def waiting_deploy(store: Store, service: str) -> dict[str, Any] | None:
    """The run whose step of SERVICE is `deploying` now, if any."""
    steps = [s for s in store.service_steps(service) if s.status == "deploying"]
    for step in reversed(steps):
        run = store.run(step.run_id)
        if run is not None and run.status in ACTIVE:
            return {"train": run.train, "run_id": run.id, "to_version": step.to_version}
    return None


def last_report(catalog: Catalog, store: Store | None, service: str) -> dict[str, Any] | None:
    """The service's last deploy report (GET .../services/{service}/status), or None."""
    if store is None:
        return None
    report = store.last_deploy_report(service, environment=catalog.config.environment)
    return report.to_json() if report is not None else None
