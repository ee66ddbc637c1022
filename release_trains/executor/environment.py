"""What a run expands from the process environment, checked in validating."""

from __future__ import annotations

from typing import Any

from ..deployers.select import deployer_settings
from ..errors import InputError
from ..models import Catalog, Service, Train
from ..probes import health_settings


def environment_problems(catalog: Catalog, train: Train, services: list[Service]) -> list[str]:
    """Every `${VAR}` a run would expand from the environment and cannot, with where it is
    used: headers of the deployer and health check of each service, and of the signals the
    train's gates and triggers read. Checked in validating, before anything is deployed."""
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
        # httpx is imported only where headers are used (start-up time), not to dodge a cycle
        from ..deployers.http import expand_headers

        try:
            expand_headers(headers)
        except InputError as e:
            problems.append(f"{where}: {e}")
    return problems
